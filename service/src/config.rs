//! The service's configuration, read once from the environment at start-up.
//!
//! Nothing else in the service reads the environment: `main` calls [`Config::from_env`] and passes
//! the typed result down. Every error names the variable and what is wrong with it, and never
//! echoes a secret's value.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use tracing::level_filters::LevelFilter;

use crate::auth::{BetterAuthConfig, ClaimsPolicy, JwksConfig, TokenConfig};
use crate::db::{DatabaseConfig, DatabaseUrl, SharedConfig};
use crate::http::{CorsPolicy, HttpLimits};

/// Shortest BETTER_AUTH_SECRET accepted: 32 bytes is the HS256 key-size guidance of RFC 7518.
pub const MIN_AUTH_SECRET_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub database: DatabaseConfig,
    pub tokens: TokenConfig,
    pub http: HttpLimits,
    /// CORS_ALLOWED_ORIGINS: the browser origins (the frontend) that may call the API.
    pub cors: CorsPolicy,
    pub environment: Environment,
    pub log_level: LevelFilter,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace_period: Duration,
    /// Reported in the `X-Served-By` header and `/api/health` (Kubernetes sets it to the pod name).
    pub pod_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    #[default]
    Development,
    Staging,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl FromStr for Environment {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "development" => Ok(Environment::Development),
            "staging" => Ok(Environment::Staging),
            "production" => Ok(Environment::Production),
            _ => Err("must be one of development, staging, production".into()),
        }
    }
}

/// A variable that is missing or invalid. `Display` gives the one line printed before exiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration: {}: {}",
            self.variable, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

/// Every variable that is missing or invalid, so one start tells all that is wrong. `Display`
/// gives one line per variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects the problems of every variable while the configuration is read.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    /// The value, or (recording why) none.
    fn check<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|problem| self.0.push(problem)).ok()
    }

    /// The value, or (recording why) a placeholder that is never used: the read fails.
    fn value<T: Default>(&mut self, result: Result<T, ConfigError>) -> T {
        self.check(result).unwrap_or_default()
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigErrors> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can supply variables without touching the
    /// process environment. Every variable is read, and every problem reported.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        let vars = Vars { lookup: &lookup };
        let mut found = Problems::default();

        let tokens = found.check(token_config(&vars));
        let password = vars.optional("DATABASE_PASSWORD").map(SecretString::from);
        let url = found.check(vars.required("DATABASE_URL").and_then(|url| {
            DatabaseUrl::parse(&url, password).map_err(|problem| ConfigError {
                variable: "DATABASE_URL",
                problem: format!("{problem} (value not shown)"),
            })
        }));
        let pool_size = found.value(vars.number("DB_POOL_SIZE", 10, 1..=1000));
        let shared = SharedConfig {
            connections: found.value(vars.number("DB_READ_CONNECTIONS", 2, 1..=64)),
            max_queries: found.value(vars.number("DB_MAX_READS_IN_FLIGHT", 256, 1..=100_000)),
        };
        let pool_timeout = found.value(vars.millis("DB_POOL_TIMEOUT_MS", 1000, 1..=60_000));
        let connect_timeout = found.value(vars.millis("DB_CONNECT_TIMEOUT_MS", 3000, 1..=120_000));
        let statement_timeout =
            found.value(vars.millis("DB_STATEMENT_TIMEOUT_MS", 5000, 1..=600_000));
        let startup_timeout = found.value(vars.seconds("DB_STARTUP_TIMEOUT_SECS", 30, 1..=3600));
        let http = HttpLimits {
            header_read_timeout: found.value(vars.seconds(
                "HTTP_HEADER_READ_TIMEOUT_SECS",
                10,
                1..=300,
            )),
            idle_timeout: found.value(vars.seconds("HTTP_IDLE_TIMEOUT_SECS", 60, 1..=3600)),
            max_connections: found.value(vars.number("HTTP_MAX_CONNECTIONS", 2048, 1..=1_000_000)),
        };
        let port = found.value(port(&vars));
        let cors = CorsPolicy::new(found.value(origins(&vars, "CORS_ALLOWED_ORIGINS")));
        let environment = found.value(vars.parsed("ENVIRONMENT", Environment::Development));
        let log_level = found
            .check(vars.log_level("LOG_LEVEL"))
            .unwrap_or(LevelFilter::INFO);
        let grace_period = found.value(vars.number("SHUTDOWN_GRACE_PERIOD_SECS", 20, 0..=3600));

        let (Some(tokens), Some(url), []) = (tokens, url, &found.0[..]) else {
            return Err(ConfigErrors(found.0));
        };
        Ok(Config {
            port,
            database: DatabaseConfig {
                url,
                pool_size,
                shared,
                pool_timeout,
                connect_timeout,
                statement_timeout,
                startup_timeout,
            },
            tokens,
            http,
            cors,
            environment,
            log_level,
            shutdown_grace_period: Duration::from_secs(grace_period),
            pod_name: pod_name(&vars),
        })
    }
}

/// POD_NAME, or the host name.
fn pod_name(vars: &Vars) -> String {
    vars.optional("POD_NAME").unwrap_or_else(|| {
        hostname::get()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "unknown".into())
    })
}

/// PORT, read and checked exactly as the service reads it at start-up: where `backend
/// healthcheck` finds the service when given no URL.
pub fn port_from_env() -> Result<u16, ConfigError> {
    port(&Vars {
        lookup: &|name| std::env::var(name).ok(),
    })
}

fn port(vars: &Vars) -> Result<u16, ConfigError> {
    vars.number("PORT", 8000, 0..=65535)
}

/// What `backend token` needs (BETTER_AUTH_SECRET, JWT_ISSUER, JWT_AUDIENCE), read and checked
/// exactly as the service reads them at start-up.
pub fn token_config_from_env() -> Result<TokenConfig, ConfigError> {
    token_config(&Vars {
        lookup: &|name| std::env::var(name).ok(),
    })
}

fn token_config(vars: &Vars) -> Result<TokenConfig, ConfigError> {
    let secret = vars.required("BETTER_AUTH_SECRET")?;
    if secret.chars().count() < MIN_AUTH_SECRET_LEN {
        return Err(ConfigError {
            variable: "BETTER_AUTH_SECRET",
            problem: format!("must be at least {MIN_AUTH_SECRET_LEN} characters (value not shown)"),
        });
    }
    let secret_claims = ClaimsPolicy {
        issuers: vars.list("JWT_ISSUER"),
        audiences: vars.list("JWT_AUDIENCE"),
    };
    Ok(TokenConfig {
        secret: SecretString::from(secret),
        better_auth: better_auth_config(vars, &secret_claims)?,
        secret_claims,
    })
}

/// Better Auth's JWT plugin tokens, when BETTER_AUTH_URL (or BETTER_AUTH_JWKS_URL) is set: the
/// JWKS at `{BETTER_AUTH_URL}/api/auth/jwks` (the plugin's endpoint under Better Auth's default
/// `basePath`), and `iss` and `aud` = BETTER_AUTH_URL (the plugin's defaults) unless JWT_ISSUER
/// and JWT_AUDIENCE name others.
fn better_auth_config(
    vars: &Vars,
    named: &ClaimsPolicy,
) -> Result<Option<BetterAuthConfig>, ConfigError> {
    let base = vars
        .optional("BETTER_AUTH_URL")
        .map(|value| http_url("BETTER_AUTH_URL", &value))
        .transpose()?
        // Better Auth's `iss` is its base URL without a trailing slash.
        .map(|url| url.trim_end_matches('/').to_owned());
    let jwks_url = vars
        .optional("BETTER_AUTH_JWKS_URL")
        .map(|value| http_url("BETTER_AUTH_JWKS_URL", &value))
        .transpose()?;
    let jwks_url = match (&base, jwks_url) {
        (_, Some(url)) => url,
        (Some(base), None) => format!("{base}/api/auth/jwks"),
        (None, None) => return Ok(None),
    };
    let or_base = |named: &[String], variable: &'static str| match (named, &base) {
        ([], Some(base)) => Ok(vec![base.clone()]),
        ([], None) => Err(ConfigError {
            variable,
            problem: "must name the accepted value when BETTER_AUTH_JWKS_URL is set without \
                      BETTER_AUTH_URL (tokens from the JWKS must carry iss and aud)"
                .into(),
        }),
        (named, _) => Ok(named.to_vec()),
    };
    Ok(Some(BetterAuthConfig {
        jwks: JwksConfig::new(jwks_url),
        claims: ClaimsPolicy {
            issuers: or_base(&named.issuers, "JWT_ISSUER")?,
            audiences: or_base(&named.audiences, "JWT_AUDIENCE")?,
        },
    }))
}

/// An absolute http(s) URL with a host and no credentials or fragment.
fn http_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let problem = |problem: String| ConfigError { variable, problem };
    let url =
        url::Url::parse(value).map_err(|error| problem(format!("{error} (got {value:?})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(problem(format!(
            "must be an http:// or https:// URL with a host (got {value:?})"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(problem(
            "must not carry credentials or a #fragment (value not shown)".into(),
        ));
    }
    Ok(value.to_owned())
}

/// A comma-separated list of browser origins, each exactly as browsers send it in `Origin`
/// (`scheme://host[:port]`: lower case, no path or trailing slash, no default port), since
/// requests are matched by plain comparison.
fn origins(vars: &Vars, variable: &'static str) -> Result<Vec<String>, ConfigError> {
    let problem = |problem: String| ConfigError { variable, problem };
    vars.list(variable)
        .into_iter()
        .map(|origin| {
            if origin == "*" {
                return Err(problem(
                    "* is not accepted: list the frontend's origins, e.g. http://localhost:3000"
                        .into(),
                ));
            }
            let url = url::Url::parse(&origin)
                .map_err(|error| problem(format!("{origin:?} is not an origin: {error}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(problem(format!(
                    "{origin:?} is not an http:// or https:// origin"
                )));
            }
            let serialized = url.origin().ascii_serialization();
            if serialized != origin {
                return Err(problem(format!(
                    "{origin:?} is not an origin as browsers send it: write {serialized:?}"
                )));
            }
            Ok(origin)
        })
        .collect()
}

struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    /// A set, non-blank value; surrounding whitespace (a stray newline in a Secret) is dropped.
    fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError {
            variable: name,
            problem: "is required but not set".into(),
        })
    }

    fn parsed<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr<Err = String>,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|problem: String| ConfigError {
                variable: name,
                problem: format!("{problem} (got {value:?})"),
            }),
        }
    }

    fn number<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(value) = self.optional(name) else {
            return Ok(default);
        };
        let problem = || ConfigError {
            variable: name,
            problem: format!(
                "must be a whole number from {} to {} (got {value:?})",
                range.start(),
                range.end()
            ),
        };
        let number: T = value.parse().map_err(|_| problem())?;
        if range.contains(&number) {
            Ok(number)
        } else {
            Err(problem())
        }
    }

    /// A comma-separated list; blank items are dropped, so an empty value means none.
    fn list(&self, name: &str) -> Vec<String> {
        self.optional(name)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn seconds(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, range).map(Duration::from_secs)
    }

    fn millis(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, range).map(Duration::from_millis)
    }

    fn log_level(&self, name: &'static str) -> Result<LevelFilter, ConfigError> {
        let Some(value) = self.optional(name) else {
            return Ok(LevelFilter::INFO);
        };
        // Python-style names (the contract's INFO, WARNING, CRITICAL) are accepted too.
        let level = match value.to_ascii_lowercase().as_str() {
            "trace" => LevelFilter::TRACE,
            "debug" => LevelFilter::DEBUG,
            "info" => LevelFilter::INFO,
            "warn" | "warning" => LevelFilter::WARN,
            "error" | "critical" => LevelFilter::ERROR,
            _ => {
                return Err(ConfigError {
                    variable: name,
                    problem: format!(
                        "must be one of trace, debug, info, warn, error (any case) (got {value:?})"
                    ),
                });
            }
        };
        Ok(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config_with(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let mut vars: HashMap<String, String> = HashMap::from([
            (
                "DATABASE_URL".into(),
                "postgres://app@db.internal/app".into(),
            ),
            ("BETTER_AUTH_SECRET".into(), SECRET.into()),
        ]);
        for (name, value) in pairs {
            vars.insert((*name).into(), (*value).into());
        }
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    fn error_for(pairs: &[(&str, &str)]) -> ConfigError {
        let errors = config_with(pairs).expect_err("configuration should be rejected");
        assert_eq!(errors.0.len(), 1, "{errors}");
        errors.0.into_iter().next().unwrap()
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = Config::from_lookup(|name| match name {
            "PORT" => Some("http".into()),
            "LOG_LEVEL" => Some("loud".into()),
            _ => None,
        })
        .unwrap_err();
        let variables: Vec<&str> = errors.0.iter().map(|error| error.variable).collect();
        assert_eq!(
            variables,
            ["BETTER_AUTH_SECRET", "DATABASE_URL", "PORT", "LOG_LEVEL"]
        );
        assert_eq!(
            errors.to_string().lines().count(),
            4,
            "one line each: {errors}"
        );
    }

    #[test]
    fn defaults_apply_when_only_required_variables_are_set() {
        let config = config_with(&[]).unwrap();
        assert_eq!(config.port, 8000);
        assert_eq!(config.environment, Environment::Development);
        assert_eq!(config.log_level, LevelFilter::INFO);
        assert_eq!(config.database.pool_size, 10);
        assert_eq!(config.database.shared.connections, 2);
        assert_eq!(config.database.shared.max_queries, 256);
        assert_eq!(config.database.pool_timeout, Duration::from_secs(1));
        assert_eq!(config.shutdown_grace_period, Duration::from_secs(20));
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.http.idle_timeout, Duration::from_secs(60));
        assert_eq!(config.http.max_connections, 2048);
        assert_eq!(config.tokens.secret_claims, ClaimsPolicy::default());
        assert!(config.tokens.better_auth.is_none());
        assert!(!config.cors.is_enabled());
    }

    #[test]
    fn issuer_and_audience_are_comma_separated_lists() {
        let config = config_with(&[
            ("JWT_ISSUER", "https://app.example.com"),
            ("JWT_AUDIENCE", " https://app.example.com, mobile ,,"),
        ])
        .unwrap();
        assert_eq!(
            config.tokens.secret_claims.issuers,
            ["https://app.example.com"]
        );
        assert_eq!(
            config.tokens.secret_claims.audiences,
            ["https://app.example.com", "mobile"]
        );
    }

    #[test]
    fn better_auth_url_turns_on_its_jwks_with_itself_as_issuer_and_audience() {
        let config = config_with(&[("BETTER_AUTH_URL", "http://localhost:3000/")]).unwrap();
        let better_auth = config.tokens.better_auth.unwrap();
        assert_eq!(better_auth.jwks.url, "http://localhost:3000/api/auth/jwks");
        assert_eq!(better_auth.claims.issuers, ["http://localhost:3000"]);
        assert_eq!(better_auth.claims.audiences, ["http://localhost:3000"]);
        assert_eq!(
            config.tokens.secret_claims,
            ClaimsPolicy::default(),
            "HS256 tokens stay as they were"
        );

        let config = config_with(&[
            ("BETTER_AUTH_URL", "https://app.example.com"),
            ("BETTER_AUTH_JWKS_URL", "https://keys.example.com/jwks.json"),
            ("JWT_AUDIENCE", "todo-api"),
        ])
        .unwrap();
        let better_auth = config.tokens.better_auth.unwrap();
        assert_eq!(better_auth.jwks.url, "https://keys.example.com/jwks.json");
        assert_eq!(better_auth.claims.issuers, ["https://app.example.com"]);
        assert_eq!(better_auth.claims.audiences, ["todo-api"]);
    }

    #[test]
    fn bad_better_auth_urls_are_named() {
        for (name, value) in [
            ("BETTER_AUTH_URL", "localhost:3000"),
            ("BETTER_AUTH_URL", "ftp://auth.example.com"),
            ("BETTER_AUTH_URL", "https://user:pw@auth.example.com"),
            ("BETTER_AUTH_JWKS_URL", "not a url"),
        ] {
            assert_eq!(error_for(&[(name, value)]).variable, name, "{value}");
        }
        let error = error_for(&[("BETTER_AUTH_JWKS_URL", "https://keys.example.com/jwks")]);
        assert_eq!(error.variable, "JWT_ISSUER", "{error}");
    }

    #[test]
    fn cors_origins_must_be_exact_origins() {
        let config = config_with(&[(
            "CORS_ALLOWED_ORIGINS",
            "http://localhost:3000, https://todo.example.com",
        )])
        .unwrap();
        assert!(config.cors.is_enabled());
        for (value, hint) in [
            ("http://localhost:3000/", "\"http://localhost:3000\""),
            (
                "https://todo.example.com:443",
                "\"https://todo.example.com\"",
            ),
            ("http://LOCALHOST:3000", "\"http://localhost:3000\""),
            ("*", "list the frontend's origins"),
            ("localhost:3000", "not an http"),
            ("file:///tmp/x", "not an http"),
        ] {
            let error = error_for(&[("CORS_ALLOWED_ORIGINS", value)]);
            assert_eq!(error.variable, "CORS_ALLOWED_ORIGINS");
            assert!(error.problem.contains(hint), "{value}: {error}");
        }
    }

    #[test]
    fn missing_database_url_is_named() {
        let errors =
            Config::from_lookup(|name| (name == "BETTER_AUTH_SECRET").then(|| SECRET.to_owned()))
                .unwrap_err();
        let error = &errors.0[0];
        assert_eq!(error.variable, "DATABASE_URL");
        assert!(error.to_string().contains("DATABASE_URL: is required"));
    }

    #[test]
    fn short_auth_secret_is_rejected_without_echoing_it() {
        let error = error_for(&[("BETTER_AUTH_SECRET", "too-short-secret")]);
        assert_eq!(error.variable, "BETTER_AUTH_SECRET");
        assert!(!error.to_string().contains("too-short-secret"));
    }

    #[test]
    fn log_level_is_case_insensitive() {
        for (raw, level) in [
            ("INFO", LevelFilter::INFO),
            ("Debug", LevelFilter::DEBUG),
            ("WARNING", LevelFilter::WARN),
            ("error", LevelFilter::ERROR),
        ] {
            assert_eq!(config_with(&[("LOG_LEVEL", raw)]).unwrap().log_level, level);
        }
        assert_eq!(error_for(&[("LOG_LEVEL", "loud")]).variable, "LOG_LEVEL");
    }

    #[test]
    fn environment_accepts_only_known_names() {
        let config = config_with(&[("ENVIRONMENT", "Production")]).unwrap();
        assert_eq!(config.environment, Environment::Production);
        assert_eq!(error_for(&[("ENVIRONMENT", "qa")]).variable, "ENVIRONMENT");
    }

    #[test]
    fn numbers_outside_their_range_are_rejected() {
        for (name, value) in [
            ("PORT", "70000"),
            ("PORT", "http"),
            ("DB_POOL_SIZE", "0"),
            ("DB_POOL_SIZE", "-3"),
            ("DB_READ_CONNECTIONS", "0"),
            ("DB_MAX_READS_IN_FLIGHT", "0"),
            ("DB_POOL_TIMEOUT_MS", "0"),
            ("DB_CONNECT_TIMEOUT_MS", "1.5"),
            ("SHUTDOWN_GRACE_PERIOD_SECS", "forever"),
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "0"),
            ("HTTP_MAX_CONNECTIONS", "0"),
        ] {
            let error = error_for(&[(name, value)]);
            assert_eq!(error.variable, name, "{name}={value}");
            assert!(error.problem.contains(value), "{error}");
        }
    }

    #[test]
    fn database_url_problems_never_echo_the_url() {
        let error = error_for(&[("DATABASE_URL", "mysql://root:hunter2@db/app")]);
        assert_eq!(error.variable, "DATABASE_URL");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let config = config_with(&[("DATABASE_URL", "postgres://app:hunter2@db/app")]).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
