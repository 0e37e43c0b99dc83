//! `backend healthcheck [URL|PATH]`: a probe for images without a shell or curl (Docker
//! HEALTHCHECK, the chart's `helm test` pod). Without a URL it probes this host at the port the
//! service listens on, PORT as the service reads it, so the image's HEALTHCHECK follows PORT
//! though `scratch` has no shell to expand `$PORT` in it.

use std::time::Duration;

use http_body_util::Empty;
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::ConfigError;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The path probed when none is given: the contract's liveness and readiness path.
const DEFAULT_PATH: &str = "/api/health";

/// What to probe: `target` itself when it is a URL; else `http://127.0.0.1:{PORT}` and `target`
/// as the path (`/api/health` when there is none). `port` reads PORT.
pub fn url(
    target: Option<&str>,
    port: impl FnOnce() -> Result<u16, ConfigError>,
) -> Result<String, String> {
    let path = match target {
        Some(path) if path.starts_with('/') => path,
        Some(url) => return Ok(url.to_owned()),
        None => DEFAULT_PATH,
    };
    match port().map_err(|error| error.to_string())? {
        0 => Err("PORT=0 picks a free port at start-up, so give the URL to probe".into()),
        port => Ok(format!("http://127.0.0.1:{port}{path}")),
    }
}

/// Ok when `url` answers 200 within five seconds; otherwise what went wrong.
pub async fn check(url: &str) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|error| format!("invalid URL {url:?}: {error}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("only http:// URLs are supported, got {url:?}"));
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let response = tokio::time::timeout(TIMEOUT, client.get(uri))
        .await
        .map_err(|_| format!("{url}: no answer within {TIMEOUT:?}"))?
        .map_err(|error| format!("{url}: {error}"))?;
    if response.status() == hyper::StatusCode::OK {
        Ok(())
    } else {
        Err(format!("{url}: HTTP {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(port: u16) -> impl FnOnce() -> Result<u16, ConfigError> {
        move || Ok(port)
    }

    #[test]
    fn a_url_is_probed_as_given() {
        let given = "http://todo-chatbot-backend:8000/api/health/ready";
        assert_eq!(url(Some(given), port(9000)).unwrap(), given);
    }

    #[test]
    fn without_a_url_api_health_is_probed_on_port() {
        assert_eq!(
            url(None, port(9000)).unwrap(),
            "http://127.0.0.1:9000/api/health"
        );
        assert_eq!(
            url(Some("/api/health/live"), port(8000)).unwrap(),
            "http://127.0.0.1:8000/api/health/live"
        );
    }

    #[test]
    fn port_0_or_an_invalid_port_needs_the_url() {
        assert!(url(None, port(0)).unwrap_err().contains("give the URL"));
        let invalid = || {
            Err(ConfigError {
                variable: "PORT",
                problem: "must be a whole number from 0 to 65535 (got \"http\")".into(),
            })
        };
        assert!(url(None, invalid).unwrap_err().contains("PORT: must be"));
    }
}
