//! How a database operation can fail, as far as the HTTP edge needs to know.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use crate::telemetry::error_chain;

/// Why a database operation failed, as far as the HTTP edge needs to know.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached or is refusing work; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Every pooled connection (or every place for a read on the shared connections) stayed
    /// taken for the whole wait timeout.
    #[error("no database connection became free within {0:?}")]
    Busy(Duration),
    /// Anything else: a bug or a schema mismatch.
    #[error("database error: {}", error_chain(.0))]
    Query(tokio_postgres::Error),
}

impl DbError {
    /// A query that got no answer within its client-side deadline: the database is frozen or cut
    /// off (a slow statement would have been cancelled by the server's `statement_timeout`).
    pub(super) fn no_answer(deadline: Duration) -> DbError {
        DbError::Unavailable(format!(
            "no answer within {deadline:?}; the connection was closed"
        ))
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> DbError {
        let transient = error.is_closed()
            || error.code().is_some_and(|code| {
                code.code().starts_with("08") // connection exception
                    || *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CRASH_SHUTDOWN
                    || *code == SqlState::CANNOT_CONNECT_NOW
                    || *code == SqlState::TOO_MANY_CONNECTIONS
                    || *code == SqlState::QUERY_CANCELED // statement_timeout
            })
            || std::error::Error::source(&error)
                .is_some_and(|source| source.is::<std::io::Error>());
        if transient {
            DbError::Unavailable(error_chain(&error))
        } else {
            DbError::Query(error)
        }
    }
}
