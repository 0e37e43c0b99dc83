//! `backend healthcheck <url>`: a probe for images without a shell or curl (Docker HEALTHCHECK,
//! the chart's `helm test` pod).

use std::time::Duration;

use http_body_util::Empty;
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const TIMEOUT: Duration = Duration::from_secs(5);

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
