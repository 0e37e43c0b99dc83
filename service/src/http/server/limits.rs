//! The limits a server open to anyone needs, from configuration, and the process's open-file
//! limit that must allow them.

use std::time::Duration;

/// Largest request head (request line and headers) accepted; a bigger one is answered 431.
/// Bearer tokens are about a kilobyte, so this is generous, and it bounds the memory a
/// connection's read buffer can take (hyper's default allows about 400 KiB).
pub const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;

/// The connection limits, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's head must be complete within this of its first byte.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight is closed when no request starts within this.
    pub idle_timeout: Duration,
    /// Open connections; further ones are refused with 503.
    pub max_connections: usize,
}

/// File descriptors the process needs besides client connections: the listener, the database
/// pool, log output, and some to spare.
const OTHER_FILE_DESCRIPTORS: u64 = 128;

/// Raises the soft limit on open files to the hard limit (as Go's runtime does), since
/// container runtimes may start processes with a soft limit of 1024, below
/// `max_connections`. Says so when even the hard limit is too low.
pub fn raise_open_file_limit(max_connections: usize) -> Result<(), String> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| e.to_string())?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(|e| e.to_string())?;
    }
    let needed = max_connections as u64 + OTHER_FILE_DESCRIPTORS;
    if hard < needed {
        return Err(format!(
            "the open-file limit ({hard}) is below HTTP_MAX_CONNECTIONS + {OTHER_FILE_DESCRIPTORS} \
             ({needed}); connections past it fail to be accepted"
        ));
    }
    Ok(())
}
