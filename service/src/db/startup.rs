//! The first connection at start-up: retried while the database may still come (not reachable
//! yet, starting, restarting, overloaded), and not retried when retrying cannot help (a wrong
//! password, a database that does not exist, a certificate refused, settings the server
//! rejects), so a misconfigured pod says why at once instead of after the whole start-up timeout.

use std::fmt;
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout_at};
use tokio_postgres::Client;
use tracing::warn;

use super::connect::{ConnectError, Connector};
use super::migrations::MigrationError;
use super::url::DatabaseUrl;
use crate::telemetry::error_chain;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database TLS configuration: {0}")]
    Tls(String),
    #[error("database {url} unreachable after {waited:?} (DB_STARTUP_TIMEOUT_SECS): {reason}")]
    Unreachable {
        url: String,
        waited: Duration,
        reason: String,
    },
    #[error(
        "database {url}: {}: {reason}; {}. Not retried: retrying cannot fix this",
        refusal.what(),
        refusal.hint()
    )]
    Refused {
        url: String,
        refusal: Refusal,
        reason: String,
    },
    #[error("database pool: {0}")]
    Pool(String),
    #[error("database migration failed: {0}")]
    Migration(#[from] MigrationError),
    #[error(
        "database migrations did not finish within the start-up deadline of {0:?} \
         (DB_STARTUP_TIMEOUT_SECS); another replica may be holding the migration lock"
    )]
    MigrationDeadline(Duration),
}

/// A failure to connect that retrying cannot fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Authentication,
    UnknownDatabase,
    Tls,
    Settings,
}

impl Refusal {
    fn what(self) -> &'static str {
        match self {
            Refusal::Authentication => "authentication failed",
            Refusal::UnknownDatabase => "the database does not exist",
            Refusal::Tls => "TLS failed",
            Refusal::Settings => "the server refused the connection's settings",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Refusal::Authentication => {
                "check the user and password in DATABASE_URL (or DATABASE_PASSWORD) and that \
                 the server lets that user connect to that database"
            }
            Refusal::UnknownDatabase => "check the database name in DATABASE_URL, or create it",
            Refusal::Tls => "check sslmode and sslrootcert in DATABASE_URL",
            Refusal::Settings => "check the options in DATABASE_URL",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what())
    }
}

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// The first connection, retried with a growing pause until `deadline` while the failure may
/// pass; a failure that cannot pass ends start-up at once.
pub(super) async fn first_connection(
    connector: &Connector,
    url: &DatabaseUrl,
    deadline: Instant,
) -> Result<Client, StartupError> {
    let started = Instant::now();
    let mut retry_delay = FIRST_RETRY_DELAY;
    loop {
        let error = match timeout_at(deadline, connector.open(None)).await {
            // The connection ends when the client is dropped.
            Ok(Ok((client, _driver))) => return Ok(client),
            Ok(Err(error)) => error,
            Err(_) => ConnectError::NoAnswer(started.elapsed()),
        };
        if let Some(refusal) = refusal(&error) {
            return Err(StartupError::Refused {
                url: url.to_string(),
                refusal,
                reason: reason(&error),
            });
        }
        if Instant::now() + retry_delay >= deadline {
            return Err(StartupError::Unreachable {
                url: url.to_string(),
                waited: started.elapsed(),
                reason: reason(&error),
            });
        }
        warn!(database = %url, error = %reason(&error), "database not reachable yet; retrying");
        sleep(retry_delay).await;
        retry_delay = (retry_delay * 2).min(MAX_RETRY_DELAY);
    }
}

/// What went wrong, with the server's SQLSTATE when it answered with an error.
fn reason(error: &ConnectError) -> String {
    match error {
        ConnectError::Driver(error) => match error.as_db_error() {
            Some(db) => format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            ),
            None => error_chain(error),
        },
        ConnectError::NoAnswer(_) => error.to_string(),
    }
}

/// The failures that retrying cannot fix; `None` for those that may pass: no answer, refused or
/// reset connections, and the server's "starting up", "shutting down", "too many connections"
/// (classes 08, 53, 57) and anything else it may say while it is being replaced.
pub(super) fn refusal(error: &ConnectError) -> Option<Refusal> {
    let ConnectError::Driver(error) = error else {
        return None;
    };
    if let Some(code) = error.code() {
        let code = code.code();
        return match code {
            "3D000" => Some(Refusal::UnknownDatabase),
            // insufficient_privilege: no CONNECT privilege on the database.
            "42501" => Some(Refusal::Authentication),
            _ if code.starts_with("28") => Some(Refusal::Authentication),
            // An unknown setting or a bad value in `options`.
            _ if code.starts_with("22") || code.starts_with("42") => Some(Refusal::Settings),
            _ => None,
        };
    }
    // tokio-postgres keeps the kind of its own errors private; its `Display` is the kind's name.
    match error.to_string().as_str() {
        "authentication error" => Some(Refusal::Authentication),
        // The server asked for a password and none was given.
        "invalid configuration" if error_chain(error).ends_with("password missing") => {
            Some(Refusal::Authentication)
        }
        "invalid configuration" | "invalid connection string" => Some(Refusal::Settings),
        "error performing TLS handshake" if !dropped_mid_handshake(error) => Some(Refusal::Tls),
        _ => None,
    }
}

/// Whether a TLS failure is only the connection dropping (an I/O error with nothing inside),
/// rather than TLS itself failing: a certificate refused (a rustls error inside an I/O error) or
/// the server not offering TLS.
fn dropped_mid_handshake(error: &tokio_postgres::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.get_ref().is_none())
}
