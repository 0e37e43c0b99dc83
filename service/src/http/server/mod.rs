//! The HTTP server: HTTP/1.1 on hyper, with the limits a port open to anyone needs.
//!
//! warp's own server runs hyper without a timer, which silently turns hyper's header-read timeout
//! off, and it serves HTTP/2 to any client that asks. This one serves the same warp filter with:
//! - an idle timeout: a connection is closed when no request starts within it (counted from
//!   the connection's opening or the end of its last request);
//! - a header-read timeout: once the first byte of a request has arrived, its whole head must
//!   follow within it (a half-sent head is also capped at [`MAX_REQUEST_HEAD_BYTES`]). These are
//!   Go's `IdleTimeout` and `ReadHeaderTimeout`; hyper's own header timer, which starts when it
//!   begins waiting for a request, is set to their sum as a backstop;
//! - a request lifetime cap: a request whose answer is not fully written in time is cut off,
//!   so a client that never reads cannot hold its connection for ever;
//! - a cap on open connections: past it, new connections get a canned 503 and are closed;
//! - a drain that stops accepting, closes every connection whose request head has started but
//!   not arrived whole, and shuts the others down the way hyper does it: an idle one at once,
//!   one with a request in flight once its answer is written out and flushed.
//!
//! Each connection is one task ([`connection`]); [`memory`] returns what bursts of them freed.
//!
//! HTTP/2 is not served: behind a NodePort or an L4 load balancer every client connects over
//! plain TCP, where browsers speak HTTP/1.1 only, and HTTP/2 would bring its own set of limits to
//! get right (streams per connection, rapid reset) for no gain to this API.

mod connection;
mod limits;
mod memory;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::warn;

pub use self::connection::Handler;
use self::connection::ServedConnection;
pub use self::limits::{HttpLimits, MAX_REQUEST_HEAD_BYTES, raise_open_file_limit};
use crate::metrics::Metrics;

/// Connections being refused at one time; past this they are closed without an answer, so a
/// flood cannot make the refusals themselves pile up.
const MAX_REFUSALS_IN_PROGRESS: usize = 256;
/// How long a refused connection gets to receive its 503 before it is closed.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

const OVERLOADED_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 92\r\n\
\r\n\
{\"error\":{\"code\":\"service_unavailable\",\"message\":\"too many open connections; retry later\"}}\n";

/// Serves `routes` on `listener` until `drain` resolves, then stops accepting and returns once
/// every connection has closed. The caller bounds that wait with its grace period.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    limits: HttpLimits,
    metrics: Metrics,
    drain: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_PROGRESS));
    let (draining, drain_watch) = watch::channel(false);
    let mut drain = std::pin::pin!(drain);
    let peak_open = Arc::new(AtomicUsize::new(0));
    let memory_release = tokio::spawn(memory::release_memory_after_bursts(
        connections.clone(),
        limits.max_connections,
        peak_open.clone(),
    ));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout + limits.header_read_timeout)
        .max_header_size(MAX_REQUEST_HEAD_BYTES)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(true);

    loop {
        let stream = tokio::select! {
            () = &mut drain => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors or a similar resource: wait instead of spinning.
                    warn!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        match connections.clone().try_acquire_owned() {
            Ok(permit) => {
                let open = limits.max_connections - connections.available_permits();
                peak_open.fetch_max(open, Ordering::Relaxed);
                let connection = ServedConnection {
                    http: http.clone(),
                    handler: handler.clone(),
                    limits,
                    drain: drain_watch.clone(),
                    metrics: metrics.clone(),
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    connection.run(stream).await;
                    drop(permit);
                });
            }
            Err(_) => {
                metrics.connection_refused();
                if let Ok(permit) = refusals.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(permit);
                    });
                }
            }
        }
    }

    drop(listener);
    memory_release.abort();
    let _ = draining.send(true);
    // Every permit back means every connection has closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = connections.acquire_many(all).await;
}

/// Answers 503 and closes. Reading until the client hangs up (or the timeout) before closing
/// keeps the kernel from resetting the connection before the client has read the answer.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        stream.write_all(OVERLOADED_RESPONSE).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        loop {
            stream.readable().await?;
            match stream.try_read(&mut sink) {
                Ok(0) => return Ok::<_, std::io::Error>(()),
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canned_refusal_declares_its_exact_length() {
        let text = std::str::from_utf8(OVERLOADED_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "service_unavailable");
    }
}
