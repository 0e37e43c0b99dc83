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
//! - a drain that stops accepting, closes every connection with no request in flight (including
//!   those that never finished their headers) and lets requests in flight finish;
//! - a panicking handler answers 500 instead of taking the process down.
//!
//! HTTP/2 is not served: behind a NodePort or an L4 load balancer every client connects over
//! plain TCP, where browsers speak HTTP/1.1 only, and HTTP/2 would bring its own set of limits to
//! get right (streams per connection, rapid reset) for no gain to this API.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tracing::{debug, error, warn};
use warp::reply::Response;

use super::error::ApiError;
use crate::metrics::Metrics;
use crate::telemetry::panic_message;

/// Largest request head (request line and headers) accepted; a bigger one is answered 431.
/// Bearer tokens are about a kilobyte, so this is generous, and it bounds the memory a
/// connection's read buffer can take (hyper's default allows about 400 KiB).
pub const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;

/// Longest a request may take from its headers to the last byte of its answer. Handlers finish
/// within the pool and statement timeouts (seconds); this only cuts off clients that stall.
const MAX_REQUEST_LIFETIME: Duration = Duration::from_secs(60);

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
    let memory_release = tokio::spawn(release_memory_after_bursts(
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

/// How often the open-connection count is compared with its peak, and by how many
/// connections it must have fallen to make returning memory worth it.
const MEMORY_RELEASE_INTERVAL: Duration = Duration::from_secs(2);
const MEMORY_RELEASE_AFTER_CLOSED: usize = 64;

/// glibc's malloc keeps what closed connections freed (their buffers are below its mmap
/// threshold) in its arenas for the life of the process, so RSS would stay at the peak of the
/// last flood of connections. After a burst has closed, `malloc_trim` gives it back.
async fn release_memory_after_bursts(
    connections: Arc<Semaphore>,
    max_connections: usize,
    peak_open: Arc<AtomicUsize>,
) {
    let mut interval = tokio::time::interval(MEMORY_RELEASE_INTERVAL);
    let mut release = MemoryRelease::default();
    loop {
        interval.tick().await;
        let open = max_connections - connections.available_permits();
        let peak = peak_open.swap(open, Ordering::Relaxed);
        if release.after_tick(peak, open) {
            return_freed_memory();
        }
    }
}

/// When to return memory: once the open connections have fallen well below their peak, and
/// then at every tick until the count stops falling, so that the tail of a burst, which closes
/// over several ticks, is returned too and not only its first part.
#[derive(Default)]
struct MemoryRelease {
    releasing: bool,
    last_open: usize,
}

impl MemoryRelease {
    /// `peak`: the most connections open since the last tick; `open`: those open now.
    fn after_tick(&mut self, peak: usize, open: usize) -> bool {
        if peak >= open + MEMORY_RELEASE_AFTER_CLOSED {
            self.releasing = true;
        }
        let release = self.releasing;
        if release {
            self.releasing = open < self.last_open;
        }
        self.last_open = open;
        release
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory() {
    // SAFETY: malloc_trim only reorganises the allocator's free lists under its own locks; it
    // may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl's) return freed memory themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory() {}

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

/// What answers the requests: the API, or a stand-in in tests.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: hyper::Request<Incoming>) -> impl Future<Output = Response> + Send;
}

struct ServedConnection<H> {
    http: http1::Builder,
    handler: Arc<H>,
    limits: HttpLimits,
    drain: watch::Receiver<bool>,
    metrics: Metrics,
}

impl<H: Handler> ServedConnection<H> {
    async fn run(mut self, stream: TcpStream) {
        let _open = self.metrics.connection_opened();
        let _ = stream.set_nodelay(true);
        if *self.drain.borrow() {
            return;
        }
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            let handler = self.handler.clone();
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                handle(handler.clone(), request, activity.clone())
            })
        };
        let io = WatchedIo {
            inner: stream,
            activity: activity.clone(),
        };
        let connection = self.http.serve_connection(TokioIo::new(io), service);
        let mut connection = std::pin::pin!(connection);
        let limits = self.limits;
        let mut deadline = Instant::now() + limits.idle_timeout;
        let mut timer = std::pin::pin!(tokio::time::sleep_until(deadline));
        let mut drain = std::pin::pin!(self.drain.changed());
        let mut draining = false;

        // One poll function rather than select!: the timer is re-armed only when a deadline
        // comes earlier than the one it is set for (a request head has started), so a request
        // on a busy connection costs no extra wake-up or timer.
        std::future::poll_fn(|cx| {
            if !draining && drain.as_mut().poll(cx).is_ready() {
                draining = true;
                if activity.in_flight() == 0 {
                    return Poll::Ready(());
                }
                // Answer the request in flight, then close.
                connection.as_mut().graceful_shutdown();
            }
            if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                if let Err(error) = result {
                    // Clients hanging up, header timeouts and malformed requests land here:
                    // the client's business, not an operator's.
                    debug!(error = %error, "connection ended with an error");
                }
                return Poll::Ready(());
            }
            if let Some(head_deadline) = activity.head_deadline(&limits)
                && head_deadline < deadline
            {
                deadline = head_deadline;
                timer.as_mut().reset(deadline);
            }
            while timer.as_mut().poll(cx).is_ready() {
                match activity.verdict(&limits) {
                    Verdict::Close => return Poll::Ready(()),
                    Verdict::CheckAgainAt(at) => {
                        deadline = at;
                        timer.as_mut().reset(deadline);
                    }
                }
            }
            Poll::Pending
        })
        .await;
    }
}

/// Runs one request through the handler, keeping `activity` up to date and turning a panic into
/// a 500.
async fn handle<H: Handler>(
    handler: Arc<H>,
    request: hyper::Request<Incoming>,
    activity: Arc<Activity>,
) -> Result<
    hyper::Response<TrackedBody<impl Body<Data = Bytes, Error = warp::Error> + Unpin>>,
    Infallible,
> {
    let guard = activity.begin();
    let response = match AssertUnwindSafe(handler.handle(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            error!(panic = message, "request handler panicked");
            ApiError::Internal(format!("handler panicked: {message}")).into_response()
        }
    };
    Ok(response.map(|inner| TrackedBody {
        inner,
        _guard: guard,
    }))
}

/// A response body that counts its request as in flight until hyper has written it out (or the
/// connection is gone), so neither the idle check nor the drain cuts off an answer being sent.
struct TrackedBody<B> {
    inner: B,
    _guard: RequestGuard,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's socket, telling [`Activity`] when bytes arrive between requests: the
/// first byte of a request head starts its header-read timeout.
struct WatchedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl tokio::io::AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_received();
        }
        result
    }
}

impl tokio::io::AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What a connection is doing, for its timeouts. Times are milliseconds since it opened.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// When the current request started, or the last one ended.
    changed_ms: AtomicU64,
    /// When the first byte of the next request arrived; [`NO_HEAD`] while none has.
    head_started_ms: AtomicU64,
}

const NO_HEAD: u64 = u64::MAX;

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Close,
    CheckAgainAt(Instant),
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            changed_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(NO_HEAD),
        }
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NO_HEAD - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    fn bytes_received(&self) {
        if self.in_flight() == 0 && self.head_started_ms.load(Ordering::Relaxed) == NO_HEAD {
            self.head_started_ms.store(self.now_ms(), Ordering::Release);
        }
    }

    fn begin(self: &Arc<Self>) -> RequestGuard {
        self.changed_ms.store(self.now_ms(), Ordering::Release);
        self.head_started_ms.store(NO_HEAD, Ordering::Release);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard(self.clone())
    }

    fn end(&self) {
        self.changed_ms.store(self.now_ms(), Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// When a head that has started, and is not yet complete, must be.
    fn head_deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        match self.head_started_ms.load(Ordering::Acquire) {
            NO_HEAD => None,
            _ if self.in_flight() > 0 => None,
            started => Some(self.at(started) + limits.header_read_timeout),
        }
    }

    fn verdict(&self, limits: &HttpLimits) -> Verdict {
        self.verdict_at(Instant::now(), limits)
    }

    /// Close a connection whose request has been in flight longer than
    /// [`MAX_REQUEST_LIFETIME`], whose started head is not complete within the header-read
    /// timeout, or on which no request has started within the idle timeout; otherwise, when
    /// to look again.
    fn verdict_at(&self, now: Instant, limits: &HttpLimits) -> Verdict {
        let changed = self.at(self.changed_ms.load(Ordering::Acquire));
        let deadline = if self.in_flight() > 0 {
            changed + MAX_REQUEST_LIFETIME
        } else {
            match self.head_started_ms.load(Ordering::Acquire) {
                NO_HEAD => changed + limits.idle_timeout,
                started => self.at(started) + limits.header_read_timeout,
            }
        };
        if now >= deadline {
            Verdict::Close
        } else {
            Verdict::CheckAgainAt(deadline)
        }
    }
}

struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_is_returned_until_the_tail_of_a_burst_has_closed() {
        let mut release = super::MemoryRelease::default();
        let ticks = |release: &mut super::MemoryRelease, counts: &[(usize, usize)]| {
            counts
                .iter()
                .map(|&(peak, open)| release.after_tick(peak, open))
                .collect::<Vec<bool>>()
        };
        // (peak since the last tick, open now): 400 open, closing over three ticks, then quiet.
        assert_eq!(
            ticks(
                &mut release,
                &[(400, 400), (400, 200), (200, 30), (30, 0), (0, 0), (0, 0)]
            ),
            [false, true, true, true, true, false]
        );
        // A few connections coming and going return nothing.
        assert_eq!(
            ticks(&mut release, &[(10, 5), (20, 0), (63, 0)]),
            [false, false, false]
        );
    }

    use super::*;
    use warp::Reply;

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

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
        struct Panicky;
        impl Handler for Panicky {
            async fn handle(&self, request: hyper::Request<Incoming>) -> Response {
                if request.uri().path() == "/boom" {
                    panic!("handler bug");
                }
                "fine".into_response()
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            Arc::new(Panicky),
            LIMITS,
            Metrics::new("test"),
            async {
                let _ = stopped.await;
            },
        ));

        let client = reqwest::Client::new();
        for _ in 0..3 {
            let response = client.get(format!("{base}/boom")).send().await.unwrap();
            assert_eq!(response.status(), 500);
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "internal_error");
            assert!(
                !body.to_string().contains("handler bug"),
                "the cause is not sent"
            );
        }
        let fine = client.get(format!("{base}/fine")).send().await.unwrap();
        assert_eq!(fine.text().await.unwrap(), "fine");

        stop.send(()).unwrap();
        drop(client);
        server.await.unwrap();
    }

    #[test]
    fn the_release_build_unwinds_panics_instead_of_aborting() {
        // With panic = "abort" one panicking request would take the pod down, unflushed logs
        // and all; catch_unwind above needs unwinding.
        let manifest =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml")).unwrap();
        assert!(!manifest.replace(' ', "").contains("panic=\"abort\""));
    }

    const LIMITS: HttpLimits = HttpLimits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 10,
    };

    #[test]
    fn a_connection_where_no_request_starts_is_closed_after_the_idle_timeout() {
        let activity = Arc::new(Activity::new());
        let opened = activity.opened;
        let idle = LIMITS.idle_timeout;
        assert_eq!(
            activity.verdict_at(opened, &LIMITS),
            Verdict::CheckAgainAt(opened + idle)
        );
        assert_eq!(activity.verdict_at(opened + idle, &LIMITS), Verdict::Close);
    }

    #[test]
    fn a_started_head_must_be_complete_within_the_header_read_timeout() {
        let activity = Arc::new(Activity::new());
        activity.bytes_received();
        let first_byte = activity.at(activity.head_started_ms.load(Ordering::Acquire));
        assert_eq!(
            activity.verdict_at(first_byte, &LIMITS),
            Verdict::CheckAgainAt(first_byte + LIMITS.header_read_timeout)
        );
        assert_eq!(
            activity.verdict_at(first_byte + LIMITS.header_read_timeout, &LIMITS),
            Verdict::Close
        );
        activity.bytes_received();
        assert_eq!(
            activity.at(activity.head_started_ms.load(Ordering::Acquire)),
            first_byte,
            "later bytes of the same head do not restart the clock"
        );
    }

    #[test]
    fn a_request_in_flight_keeps_its_connection_until_the_lifetime_cap() {
        let activity = Arc::new(Activity::new());
        activity.bytes_received();
        let guard = activity.begin();
        let started = activity.at(activity.changed_ms.load(Ordering::Acquire));
        assert!(matches!(
            activity.verdict_at(started + LIMITS.header_read_timeout * 2, &LIMITS),
            Verdict::CheckAgainAt(_)
        ));
        assert_eq!(
            activity.verdict_at(started + MAX_REQUEST_LIFETIME, &LIMITS),
            Verdict::Close
        );
        drop(guard);
        let ended = activity.at(activity.changed_ms.load(Ordering::Acquire));
        assert_eq!(activity.in_flight(), 0);
        assert_eq!(
            activity.verdict_at(ended, &LIMITS),
            Verdict::CheckAgainAt(ended + LIMITS.idle_timeout),
            "the idle time counts from the end of the last request"
        );
    }
}
