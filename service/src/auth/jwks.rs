//! The public keys of Better Auth's JWT plugin: fetched from its JWKS, cached by `kid`, and kept
//! current the way mature verifiers (jose's remote JWK set, keyfunc) do it:
//! - a periodic refresh replaces the whole set, so keys the JWKS stops listing are dropped;
//! - a token naming an unknown `kid` (a rotation) triggers a refetch, but only one at a time
//!   and at most one per [`JwksConfig::min_refetch_interval`], so made-up `kid`s cannot turn
//!   into a flood of requests to the auth server;
//! - a failed fetch keeps the keys already held; the token that needed a missing key gets a
//!   503 with `Retry-After` (the token may be fine; this service cannot tell yet), never a hang;
//! - the document's size and the fetch's time are bounded.
//!
//! Nothing here runs at start-up in the request path: the service starts, and turns ready,
//! whether or not the auth server is up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{ACCEPT, HeaderValue, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::time::Instant;
use tracing::{info, warn};

use super::error::AuthError;
use super::keys::{Jwk, PublicKey};
use crate::build_info::VERSION;
use crate::metrics::Metrics;
use crate::telemetry::error_chain;

/// Largest JWKS document read. Better Auth's lists a few keys of well under 1 KiB each.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Keys kept from one document; more is not a key set but an attack or a mistake.
const MAX_KEYS: usize = 64;
/// At most one fetch failure is logged per this interval; the rest are counted in the next.
const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Where the keys are and how often to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksConfig {
    /// `{BETTER_AUTH_URL}/api/auth/jwks`, or BETTER_AUTH_JWKS_URL.
    pub url: String,
    /// The periodic refresh: keys removed from the JWKS are dropped within this.
    pub refresh_interval: Duration,
    /// Fewest seconds between two fetches triggered by unknown `kid`s.
    pub min_refetch_interval: Duration,
    /// A whole fetch (connect, TLS, request, body) must finish within this.
    pub fetch_timeout: Duration,
}

impl JwksConfig {
    pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
    pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
    pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

    pub fn new(url: String) -> JwksConfig {
        JwksConfig {
            url,
            refresh_interval: JwksConfig::DEFAULT_REFRESH_INTERVAL,
            min_refetch_interval: JwksConfig::DEFAULT_MIN_REFETCH_INTERVAL,
            fetch_timeout: JwksConfig::DEFAULT_FETCH_TIMEOUT,
        }
    }
}

type Keys = HashMap<String, Arc<PublicKey>>;

/// The cached keys and the one fetch that may be under way.
pub struct KeySet {
    keys: RwLock<Arc<Keys>>,
    /// Bumped by every install of a fetched set, so tokens checked against an older set are
    /// checked again (`verified.rs`).
    version: AtomicU64,
    /// Bumped by every fetch attempt, so requests that waited for one do not start another.
    attempts: AtomicU64,
    fetching: tokio::sync::Mutex<FetchHistory>,
    client: JwksClient,
    config: JwksConfig,
    metrics: Metrics,
}

#[derive(Default)]
struct FetchHistory {
    last_attempt: Option<Instant>,
    /// When the last successful fetch started, in seconds since the epoch (for tokens' `iat`).
    last_success: Option<f64>,
    /// Why the last fetch failed, if it did.
    last_failure: Option<String>,
    /// The kids of the set last installed, to log changes only.
    installed: Vec<String>,
    last_failure_logged: Option<Instant>,
    failures_not_logged: u64,
}

impl KeySet {
    pub fn new(config: JwksConfig, metrics: Metrics) -> Result<KeySet, String> {
        Ok(KeySet {
            keys: RwLock::default(),
            version: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
            fetching: tokio::sync::Mutex::default(),
            client: JwksClient::new(&config.url)?,
            config,
            metrics,
        })
    }

    /// Changes whenever the set is replaced.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    fn cached(&self, kid: &str) -> Option<Arc<PublicKey>> {
        self.keys.read().expect("key set lock").get(kid).cloned()
    }

    /// The key `kid` names. An unknown one triggers a refetch if none is under way and the last
    /// was long enough ago; `issued_at` (the token's unverified `iat`) then tells a token
    /// signed after the last fetch (503: its key may be new) from one whose key is gone (401).
    pub async fn key_for(
        &self,
        kid: &str,
        issued_at: impl FnOnce() -> Option<f64>,
    ) -> Result<Arc<PublicKey>, AuthError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let attempts_seen = self.attempts.load(Ordering::SeqCst);
        // Waiting for a fetch under way, then making one, each take at most the fetch timeout.
        let bound = self.config.fetch_timeout * 2 + Duration::from_secs(1);
        let lookup = async {
            let mut history = self.fetching.lock().await;
            let fetched_meanwhile = self.attempts.load(Ordering::SeqCst) != attempts_seen;
            if !fetched_meanwhile && self.may_fetch(&history) {
                self.fetch(&mut history).await;
            }
            match self.cached(kid) {
                Some(key) => Ok(key),
                None => Err(self.why_missing(&history, issued_at())),
            }
        };
        tokio::time::timeout(bound, lookup)
            .await
            .unwrap_or_else(|_| {
                Err(AuthError::KeysUnavailable {
                    retry_after: 1,
                    cause: "timed out waiting for the JWKS fetch under way".into(),
                })
            })
    }

    fn may_fetch(&self, history: &FetchHistory) -> bool {
        history
            .last_attempt
            .is_none_or(|last| last.elapsed() >= self.config.min_refetch_interval)
    }

    /// Why a key is missing after a fetch was made or skipped.
    fn why_missing(&self, history: &FetchHistory, issued_at: Option<f64>) -> AuthError {
        let wait = history.last_attempt.map_or(Duration::ZERO, |last| {
            self.config
                .min_refetch_interval
                .saturating_sub(last.elapsed())
        });
        let retry_after = wait.as_secs_f64().ceil().clamp(1.0, 60.0) as u32;
        if let Some(problem) = &history.last_failure {
            return AuthError::KeysUnavailable {
                retry_after,
                cause: format!(
                    "the JWKS at {} cannot be fetched: {problem}",
                    self.config.url
                ),
            };
        }
        // One second of slack: `iat` has whole seconds, the fetch time does not.
        let newer_than_fetch = history
            .last_success
            .is_some_and(|fetched| issued_at.is_some_and(|iat| iat + 1.0 >= fetched));
        if newer_than_fetch {
            return AuthError::KeysUnavailable {
                retry_after,
                cause: "a token names a key id the JWKS did not list when last fetched, and \
                        the token is newer than that fetch"
                    .into(),
            };
        }
        AuthError::InvalidToken("unknown key id (kid)")
    }

    /// Fetches the JWKS now (the periodic refresh), waiting for a fetch under way first.
    pub async fn refresh(&self) -> bool {
        let mut history = self.fetching.lock().await;
        self.fetch(&mut history).await
    }

    /// One fetch; on success the set is replaced. `history`'s lock makes it the only one.
    async fn fetch(&self, history: &mut FetchHistory) -> bool {
        let started = SystemTime::now();
        history.last_attempt = Some(Instant::now());
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let result = tokio::time::timeout(self.config.fetch_timeout, self.client.get())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no complete answer within {:?}",
                    self.config.fetch_timeout
                ))
            })
            .and_then(|body| parse_jwks(&body));
        self.metrics.observe_jwks_fetch(result.is_ok());
        match result {
            Ok((keys, skipped)) => {
                history.last_failure = None;
                history.last_success = Some(
                    started
                        .duration_since(UNIX_EPOCH)
                        .map_or(0.0, |since| since.as_secs_f64()),
                );
                self.install(history, keys, &skipped);
                true
            }
            Err(problem) => {
                self.log_failure(history, &problem);
                history.last_failure = Some(problem);
                false
            }
        }
    }

    fn install(&self, history: &mut FetchHistory, keys: Keys, skipped: &[String]) {
        let mut kids: Vec<String> = keys.keys().cloned().collect();
        kids.sort();
        self.metrics.set_jwks_keys(keys.len());
        *self.keys.write().expect("key set lock") = Arc::new(keys);
        self.version.fetch_add(1, Ordering::SeqCst);
        if history.last_failure_logged.take().is_some() {
            info!(url = %self.config.url, "JWKS fetched again after failures");
        }
        history.failures_not_logged = 0;
        if kids != history.installed {
            info!(url = %self.config.url, kids = ?kids, skipped = ?skipped, "JWKS keys");
            history.installed = kids;
        }
    }

    fn log_failure(&self, history: &mut FetchHistory, problem: &str) {
        let due = history
            .last_failure_logged
            .is_none_or(|last| last.elapsed() >= FAILURE_LOG_INTERVAL);
        if due {
            warn!(
                url = %self.config.url,
                problem,
                failures_not_logged = history.failures_not_logged,
                keys_kept = self.keys.read().expect("key set lock").len(),
                "JWKS fetch failed; tokens signed with keys not yet fetched get 503"
            );
            history.last_failure_logged = Some(Instant::now());
            history.failures_not_logged = 0;
        } else {
            history.failures_not_logged += 1;
        }
    }

    /// Refreshes the set now and then every refresh interval; after a failure, sooner (from the
    /// refetch interval, doubling), so a late auth server is picked up without a token's help.
    pub async fn refresh_periodically(self: Arc<Self>) {
        let mut retry = self.config.min_refetch_interval;
        loop {
            let wait = if self.refresh().await {
                retry = self.config.min_refetch_interval;
                self.config.refresh_interval
            } else {
                let wait = retry;
                retry = (retry * 2).min(self.config.refresh_interval);
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

/// The usable keys of a JWKS document by `kid`, and why the others were skipped.
fn parse_jwks(body: &[u8]) -> Result<(Keys, Vec<String>), String> {
    let document: Document =
        serde_json::from_slice(body).map_err(|error| format!("not a JWKS document ({error})"))?;
    let mut keys = Keys::new();
    let mut skipped = Vec::new();
    for entry in document.keys {
        let jwk: Jwk = match serde_json::from_value(entry) {
            Ok(jwk) => jwk,
            Err(error) => {
                skipped.push(format!("an entry: {error}"));
                continue;
            }
        };
        let Some(kid) = jwk.kid.clone() else {
            skipped.push("an entry without \"kid\"".into());
            continue;
        };
        if keys.contains_key(&kid) {
            skipped.push(format!("{kid}: listed twice; the first is used"));
            continue;
        }
        if keys.len() == MAX_KEYS {
            skipped.push(format!("{kid}: more than {MAX_KEYS} keys"));
            continue;
        }
        match jwk.to_public_key() {
            Ok(key) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(reason) => skipped.push(format!("{kid}: {reason}")),
        }
    }
    Ok((keys, skipped))
}

/// GETs the JWKS over HTTP or HTTPS (Mozilla's roots, compiled in: the image has no CA bundle).
struct JwksClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    url: Uri,
}

impl JwksClient {
    fn new(url: &str) -> Result<JwksClient, String> {
        let url: Uri = url.parse().map_err(|error| format!("{error}"))?;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS setup failed: {error}"))?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(JwksClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            url,
        })
    }

    async fn get(&self) -> Result<Bytes, String> {
        let request = Request::get(self.url.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(
                USER_AGENT,
                HeaderValue::from_str(&format!("todo-chatbot-backend/{VERSION}"))
                    .unwrap_or(HeaderValue::from_static("todo-chatbot-backend")),
            )
            .body(Empty::new())
            .map_err(|error| error.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| error_chain(&error))?;
        if response.status() != StatusCode::OK {
            return Err(format!("HTTP {}", response.status()));
        }
        Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map(|body| body.to_bytes())
            .map_err(
                |error| match error.downcast_ref::<http_body_util::LengthLimitError>() {
                    Some(_) => format!("the document is larger than {MAX_JWKS_BYTES} bytes"),
                    None => format!("reading the document: {error}"),
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use testkit::auth_server::{AuthServer, Mode};
    use testkit::jwt::{Alg, SigningKey};

    fn config(url: String, min_refetch_ms: u64) -> JwksConfig {
        JwksConfig {
            url,
            refresh_interval: Duration::from_secs(3600),
            min_refetch_interval: Duration::from_millis(min_refetch_ms),
            fetch_timeout: Duration::from_millis(500),
        }
    }

    async fn key_set(server: &AuthServer, min_refetch_ms: u64) -> (KeySet, Metrics) {
        let metrics = Metrics::new("test");
        let url = format!("{}{}", server.url(), testkit::auth_server::JWKS_PATH);
        let keys = KeySet::new(config(url, min_refetch_ms), metrics.clone()).unwrap();
        (keys, metrics)
    }

    fn now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    }

    #[tokio::test]
    async fn an_unknown_kid_is_fetched_once_then_served_from_the_cache() {
        let server = AuthServer::start().await;
        let key = SigningKey::generate(Alg::EdDSA, "k1");
        server.publish(&[&key]);
        let (keys, metrics) = key_set(&server, 60_000).await;
        assert!(keys.key_for("k1", || None).await.is_ok());
        assert!(keys.key_for("k1", || None).await.is_ok());
        assert_eq!(server.fetches(), 1);
        let text = metrics.text();
        assert!(text.contains("jwks_keys 1"), "{text}");
        assert!(
            text.contains(r#"jwks_fetches_total{outcome="success"} 1"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_flood_of_made_up_kids_costs_one_fetch_per_interval() {
        let server = AuthServer::start().await;
        server.publish(&[&SigningKey::generate(Alg::EdDSA, "real")]);
        let (keys, _) = key_set(&server, 60_000).await;
        let keys = Arc::new(keys);
        let lookups = (0..100).map(|n| {
            let keys = keys.clone();
            tokio::spawn(async move { keys.key_for(&format!("made-up-{n}"), || Some(0.0)).await })
        });
        for lookup in lookups {
            assert_eq!(
                lookup.await.unwrap().err(),
                Some(AuthError::InvalidToken("unknown key id (kid)")),
                "an old token naming a key the fresh JWKS lacks is refused"
            );
        }
        assert_eq!(server.fetches(), 1, "100 made-up kids, one fetch");
    }

    #[tokio::test]
    async fn a_rotated_key_is_fetched_and_a_removed_one_dropped_by_the_refresh() {
        let server = AuthServer::start().await;
        let (old, new) = (
            SigningKey::generate(Alg::EdDSA, "old"),
            SigningKey::generate(Alg::ES256, "new"),
        );
        server.publish(&[&old]);
        let (keys, _) = key_set(&server, 0).await;
        assert!(keys.key_for("old", || None).await.is_ok());
        server.publish(&[&old, &new]);
        assert!(keys.key_for("new", || None).await.is_ok(), "rotation");
        server.publish(&[&new]);
        assert!(keys.refresh().await);
        assert_eq!(
            keys.key_for("old", || Some(0.0)).await.err(),
            Some(AuthError::InvalidToken("unknown key id (kid)")),
            "past its grace period, the old key is gone"
        );
    }

    #[tokio::test]
    async fn within_the_refetch_interval_a_token_newer_than_the_fetch_gets_503() {
        let server = AuthServer::start().await;
        server.publish(&[&SigningKey::generate(Alg::EdDSA, "k1")]);
        let (keys, _) = key_set(&server, 60_000).await;
        assert!(keys.refresh().await);
        let result = keys.key_for("k2", || Some(now() + 5.0)).await;
        match result {
            Err(AuthError::KeysUnavailable { retry_after, .. }) => {
                assert!((50..=60).contains(&retry_after), "{retry_after}")
            }
            other => panic!("expected 503, got {:?}", other.err()),
        }
        assert_eq!(server.fetches(), 1);
    }

    #[tokio::test]
    async fn an_auth_server_that_fails_or_hangs_gives_503_within_the_bound_and_keeps_keys() {
        let server = AuthServer::start().await;
        let key = SigningKey::generate(Alg::EdDSA, "k1");
        server.publish(&[&key]);
        let (keys, metrics) = key_set(&server, 0).await;
        assert!(keys.refresh().await);
        for mode in [
            Mode::Failing(StatusCode::BAD_GATEWAY),
            Mode::Hanging,
            Mode::Raw(Bytes::from_static(b"<html>")),
            Mode::Raw(Bytes::from(vec![b' '; MAX_JWKS_BYTES + 1])),
        ] {
            server.set_mode(mode.clone());
            let started = std::time::Instant::now();
            let result = keys.key_for("k2", || Some(0.0)).await;
            assert!(
                matches!(result, Err(AuthError::KeysUnavailable { .. })),
                "{mode:?}: {:?}",
                result.err()
            );
            assert!(started.elapsed() < Duration::from_secs(2), "{mode:?}");
            assert!(keys.key_for("k1", || None).await.is_ok(), "{mode:?}: kept");
        }
        assert!(
            metrics
                .text()
                .contains(r#"jwks_fetches_total{outcome="error"} 4"#)
        );
    }

    #[tokio::test]
    async fn https_jwks_servers_must_present_a_certificate_from_a_known_root() {
        // A server whose certificate no public root vouches for, as an attacker's would be.
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            acceptor.accept(stream).await.is_ok()
        });
        let keys = KeySet::new(
            config(format!("https://localhost:{port}/api/auth/jwks"), 0),
            Metrics::new("test"),
        )
        .unwrap();
        let result = keys.key_for("k", || None).await;
        match result {
            Err(AuthError::KeysUnavailable { cause, .. }) => {
                assert!(cause.contains("UnknownIssuer"), "{cause}")
            }
            other => panic!("expected 503, got {:?}", other.err()),
        }
        assert!(
            !handshakes.await.unwrap(),
            "the client refused the handshake"
        );
    }

    #[test]
    fn a_document_keeps_its_usable_keys_and_says_why_others_were_skipped() {
        let good = SigningKey::generate(Alg::EdDSA, "good").public_jwk();
        let mut no_kid = good.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        let document = json!({"keys": [
            good.clone(), good, no_kid, {"kty": "oct", "k": "AA", "kid": "hmac"}, "not a key",
        ]});
        let (keys, skipped) = parse_jwks(document.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["good"]);
        assert_eq!(skipped.len(), 4, "{skipped:?}");
        assert!(parse_jwks(b"[]").is_err());
    }
}
