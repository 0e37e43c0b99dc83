//! `backend token SUB [--ttl DURATION]`: a token the service accepts, signed with
//! BETTER_AUTH_SECRET from the environment (with JWT_ISSUER and JWT_AUDIENCE when they are
//! set), so that trying the API needs no other tool and the secret never leaves the pod.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::auth;
use crate::config::{self, ConfigError};
use crate::domain::UserId;

/// The validity of a token when `--ttl` is not given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Why no token was made.
#[derive(Debug)]
pub enum TokenError {
    /// The environment is not one the service would start with (exit status 78, as at start-up).
    Config(ConfigError),
    /// The arguments are wrong (exit status 2).
    Usage(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Config(error) => error.fmt(f),
            TokenError::Usage(problem) => f.write_str(problem),
        }
    }
}

/// The token for `subject`, valid for `ttl` (humantime's syntax: `90s`, `30m`, `2h`, `1d`).
pub fn token(subject: &str, ttl: Option<&str>) -> Result<String, TokenError> {
    let user = UserId::parse(subject.to_owned())
        .map_err(|invalid| TokenError::Usage(format!("SUB: {invalid}")))?;
    let ttl = match ttl {
        None => DEFAULT_TTL,
        Some(text) => match humantime::parse_duration(text) {
            Ok(ttl) if ttl >= Duration::from_secs(1) => ttl,
            Ok(_) => return Err(TokenError::Usage("--ttl must be at least 1s".into())),
            Err(error) => {
                return Err(TokenError::Usage(format!(
                    "--ttl {text:?}: {error} (e.g. 90s, 30m, 2h, 1d)"
                )));
            }
        },
    };
    let config = config::token_config_from_env().map_err(TokenError::Config)?;
    auth::mint(&config, &user, ttl, SystemTime::now()).ok_or_else(|| {
        TokenError::Usage("--ttl is too long: the token must expire before the year 10000".into())
    })
}
