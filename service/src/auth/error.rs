//! AuthError: why a request was not authenticated, for every part of `auth`.

use std::fmt;

/// Why a request was not authenticated; the text is safe to return to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    MissingToken,
    NotBearer,
    Expired,
    InvalidToken(&'static str),
    /// The token names a signing key this service could not fetch: it may be fine, but cannot
    /// be checked now (503). `cause` is for the log only.
    KeysUnavailable {
        retry_after: u32,
        cause: String,
    },
}

impl AuthError {
    /// The RFC 6750 `error` attribute for `WWW-Authenticate`, when there is one.
    pub fn rfc6750_code(&self) -> Option<&'static str> {
        match self {
            AuthError::MissingToken | AuthError::KeysUnavailable { .. } => None,
            AuthError::NotBearer => Some("invalid_request"),
            AuthError::Expired | AuthError::InvalidToken(_) => Some("invalid_token"),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingToken => f.write_str("missing bearer token"),
            AuthError::NotBearer => f.write_str("authorization header must be 'Bearer <token>'"),
            AuthError::Expired => f.write_str("token has expired"),
            AuthError::InvalidToken(why) => write!(f, "invalid token: {why}"),
            AuthError::KeysUnavailable { .. } => {
                f.write_str("the token's signing keys cannot be fetched right now")
            }
        }
    }
}
