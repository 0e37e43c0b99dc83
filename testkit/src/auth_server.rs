//! A stand-in for the frontend's Better Auth server, as far as the backend sees it: the JWKS at
//! `/api/auth/jwks`, which a test can change (key rotation), break (errors, a hang, an endless
//! body) and count requests to.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::jwt::{SigningKey, jwks};

/// The path Better Auth serves its JWKS at, under its base URL (`basePath` `/api/auth` plus the
/// JWT plugin's `/jwks`).
pub const JWKS_PATH: &str = "/api/auth/jwks";

/// How the JWKS endpoint answers.
#[derive(Debug, Clone)]
pub enum Mode {
    /// 200 with the published keys.
    Serving,
    /// This status and a short body.
    Failing(StatusCode),
    /// Accepts the request and never answers.
    Hanging,
    /// 200 with this body (for oversized or malformed documents).
    Raw(Bytes),
}

struct State {
    document: Value,
    mode: Mode,
}

pub struct AuthServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    fetches: Arc<AtomicUsize>,
    accepting: tokio::task::JoinHandle<()>,
}

impl AuthServer {
    /// A server on a free loopback port, publishing no keys yet.
    pub async fn start() -> AuthServer {
        AuthServer::start_on(0).await
    }

    /// A server on this loopback port (0: any free one), e.g. one a backend was told about
    /// before its Better Auth was up.
    pub async fn start_on(port: u16) -> AuthServer {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("a loopback port for the auth server");
        let address = listener.local_addr().expect("a bound address");
        let state = Arc::new(Mutex::new(State {
            document: jwks(&[]),
            mode: Mode::Serving,
        }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let accepting = tokio::spawn(accept(listener, state.clone(), fetches.clone()));
        AuthServer {
            address,
            state,
            fetches,
            accepting,
        }
    }

    /// The base URL, as BETTER_AUTH_URL would name it (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Publishes exactly these keys (a rotation adds one; a key past its grace period goes).
    pub fn publish(&self, keys: &[&SigningKey]) {
        self.state.lock().expect("state").document = jwks(keys);
    }

    /// Publishes this JWKS document as it is.
    pub fn publish_document(&self, document: Value) {
        self.state.lock().expect("state").document = document;
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("state").mode = mode;
    }

    /// Requests for the JWKS so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept(listener: TcpListener, state: Arc<Mutex<State>>, fetches: Arc<AtomicUsize>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let (state, fetches) = (state.clone(), fetches.clone());
        connections.spawn(async move {
            let service =
                service_fn(move |request| answer(request, state.clone(), fetches.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
    fetches: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != JWKS_PATH {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            Bytes::from_static(b"not found"),
        ));
    }
    fetches.fetch_add(1, Ordering::SeqCst);
    let (mode, document) = {
        let state = state.lock().expect("state");
        (state.mode.clone(), state.document.to_string())
    };
    Ok(match mode {
        Mode::Serving => reply(StatusCode::OK, Bytes::from(document)),
        Mode::Failing(status) => reply(status, Bytes::from_static(b"{\"message\":\"down\"}")),
        Mode::Raw(body) => reply(StatusCode::OK, body),
        Mode::Hanging => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            reply(StatusCode::GATEWAY_TIMEOUT, Bytes::new())
        }
    })
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
