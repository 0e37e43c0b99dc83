//! One client connection: HTTP/1.1 on hyper, with the idle, header-read and request-lifetime
//! timeouts, and the drain.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::debug;

use warp::reply::Response;

use super::limits::HttpLimits;
use crate::metrics::Metrics;

/// Longest a request may take from its headers to the last byte of its answer. Handlers answer
/// within the API's own timeout (seconds); this only cuts off clients that stop reading.
const MAX_REQUEST_LIFETIME: Duration = Duration::from_secs(60);

/// What answers the requests: the API, or a stand-in in tests.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: hyper::Request<Incoming>) -> impl Future<Output = Response> + Send;
}

/// A connection and what serves it.
pub struct ServedConnection<H> {
    pub http: http1::Builder,
    pub handler: Arc<H>,
    pub limits: HttpLimits,
    pub drain: watch::Receiver<bool>,
    pub metrics: Metrics,
}

impl<H: Handler> ServedConnection<H> {
    /// Serves the connection `stream` (a TCP socket, or an in-memory pipe in tests) until it
    /// closes, times out or is drained.
    pub async fn run<S>(mut self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let _open = self.metrics.connection_opened();
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
                // A request head that has started but not arrived whole: hyper would wait for
                // it (up to the header-read timeout) on a connection's first request, so close.
                if activity.head_in_progress() {
                    return Poll::Ready(());
                }
                // Otherwise hyper's own shutdown: an idle connection closes at once, one with a
                // request in flight once its answer has been written out and flushed.
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

/// Runs one request through the handler, keeping `activity` up to date.
async fn handle<H: Handler>(
    handler: Arc<H>,
    request: hyper::Request<Incoming>,
    activity: Arc<Activity>,
) -> Result<
    hyper::Response<TrackedBody<impl Body<Data = Bytes, Error = warp::Error> + Unpin>>,
    Infallible,
> {
    let guard = activity.begin();
    let response = handler.handle(request).await;
    Ok(response.map(|inner| TrackedBody {
        inner,
        _guard: guard,
    }))
}

/// A response body that counts its request as in flight until hyper has taken its last frame
/// (or the connection is gone), so the idle check does not cut off an answer being sent.
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
struct WatchedIo<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedIo<S> {
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

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedIo<S> {
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

    /// Whether bytes of a request head have arrived and the request has not started yet.
    fn head_in_progress(&self) -> bool {
        self.in_flight() == 0 && self.head_started_ms.load(Ordering::Acquire) != NO_HEAD
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
    use super::*;
    use hyper_util::rt::TokioTimer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use warp::Reply;

    /// Serves `answer` to one in-memory connection whose pipe holds only 8 KiB, so a large
    /// answer sits in hyper's write buffer while the client reads slowly.
    fn serve_pipe(
        answer: Vec<u8>,
    ) -> (
        tokio::io::DuplexStream,
        watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ) {
        struct Fixed(Vec<u8>);
        impl Handler for Fixed {
            async fn handle(&self, _: hyper::Request<Incoming>) -> warp::reply::Response {
                self.0.clone().into_response()
            }
        }
        let (client, server) = tokio::io::duplex(8 * 1024);
        let (drain, drained) = watch::channel(false);
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new());
        let connection = ServedConnection {
            http,
            handler: Arc::new(Fixed(answer)),
            limits: LIMITS,
            drain: drained,
            metrics: Metrics::new("test"),
        };
        (client, drain, tokio::spawn(connection.run(server)))
    }

    #[tokio::test]
    async fn a_drain_lets_an_answer_already_handed_to_hyper_reach_a_slow_reader() {
        let answer = vec![7u8; 1 << 20];
        let (mut client, drain, served) = serve_pipe(answer.clone());
        client
            .write_all(b"GET /large HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        while received.len() < 32 * 1024 {
            let n = client.read(&mut chunk).await.unwrap();
            received.extend_from_slice(&chunk[..n]);
        }
        // The handler is done and its body handed over; most of it is not written yet.
        drain.send(true).unwrap();
        loop {
            let n = client.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..n]);
        }
        let head_end = received
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap()
            + 4;
        assert_eq!(
            received.len() - head_end,
            answer.len(),
            "every byte arrived"
        );
        served.await.unwrap();
    }

    #[tokio::test]
    async fn a_drain_closes_a_connection_whose_request_head_is_half_sent() {
        let (mut client, drain, served) = serve_pipe(b"unused".to_vec());
        client
            .write_all(b"GET /slow HTTP/1.1\r\nhost: te")
            .await
            .unwrap();
        tokio::task::yield_now().await;
        drain.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), served)
            .await
            .expect("closed at once, not after the header-read timeout")
            .unwrap();
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
