//! Connections from hostile clients: headers that never finish (slowloris), idle keep-alive
//! connections, more connections than the cap, oversized headers, HTTP/2 prior knowledge.
//! Raw TCP, because an HTTP client library would not misbehave on purpose.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{ServiceProcess, TestApp};

/// The start of a request whose headers never end: no blank line follows.
fn partial_request(padding: usize) -> Vec<u8> {
    let mut request = b"GET /api/health HTTP/1.1\r\nHost: attacker\r\nX-Padding: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', padding));
    request
}

fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Opens `count` connections that each send a partial request head and then stall.
async fn stalled_connections(base: &str, count: usize, padding: usize) -> Vec<TcpStream> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = TcpStream::connect(address(base)).await.expect("connect");
        stream
            .write_all(&partial_request(padding))
            .await
            .expect("send the partial head");
        connections.push(stream);
    }
    connections
}

/// Reads until the server closes the connection (or resets it); returns what it sent first.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Result<Vec<u8>, String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return Err(format!("still open after {within:?}")),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(received),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

async fn health_status(client: &reqwest::Client, base: &str) -> StatusCode {
    client
        .get(format!("{base}/api/health"))
        .send()
        .await
        .expect("health answers")
        .status()
}

/// One round of the attack: `count` stalled heads of 48 KiB, all closed by the server within
/// the header-read timeout (plus slack), while health keeps answering. Returns the RSS while
/// they were open.
async fn slowloris_round(service: &ServiceProcess, client: &reqwest::Client, count: usize) -> u64 {
    let opened = Instant::now();
    let mut attack = stalled_connections(&service.base, count, 48 * 1024).await;
    let during = service.rss_kib();
    assert_eq!(
        health_status(client, &service.base).await,
        StatusCode::OK,
        "health answers during the attack"
    );
    for stream in &mut attack {
        let left = (HEADER_READ_TIMEOUT + Duration::from_secs(5)).saturating_sub(opened.elapsed());
        read_until_closed(stream, left)
            .await
            .expect("the server closes a stalled connection after the header-read timeout");
    }
    assert_eq!(health_status(client, &service.base).await, StatusCode::OK);
    during
}

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Waits for the RSS to settle at or below `ceiling`; returns it.
async fn rss_settles_at_most(service: &ServiceProcess, ceiling: u64, what: &str) -> u64 {
    testkit::wait::until(
        what,
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let now = service.rss_kib();
            async move { (now <= ceiling).then_some(now) }
        },
    )
    .await
    .unwrap_or_else(|error| {
        panic!(
            "{error}: RSS {} KiB, wanted at most {ceiling} KiB",
            service.rss_kib()
        )
    })
}

#[tokio::test]
async fn headers_that_never_finish_are_closed_within_the_timeout_and_the_memory_is_returned() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let timeout = HEADER_READ_TIMEOUT.as_secs().to_string();
    let service = ServiceProcess::start(
        &database_url,
        &[("HTTP_HEADER_READ_TIMEOUT_SECS", &timeout)],
    )
    .await;
    // A new connection per check: a kept-alive one could race the server's idle timeout.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    assert_eq!(health_status(&client, &service.base).await, StatusCode::OK);
    let before = service.rss_kib();

    let during = slowloris_round(&service, &client, 400).await;
    let grown = during.saturating_sub(before);
    assert!(
        grown > 10 * 1024,
        "the attack should hold memory while it lasts (grew {grown} KiB)"
    );
    let after_first = rss_settles_at_most(
        &service,
        before + grown / 4,
        "the memory of the closed connections to be returned",
    )
    .await;

    // Whatever the allocator keeps is reused, not added to: a second attack ends no higher.
    slowloris_round(&service, &client, 400).await;
    rss_settles_at_most(
        &service,
        after_first + grown / 10,
        "the memory after a second attack to settle where the first left it",
    )
    .await;
}

#[tokio::test]
async fn sigterm_during_a_slowloris_attack_exits_zero_well_within_the_grace_period() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let mut service =
        ServiceProcess::start(&database_url, &[("SHUTDOWN_GRACE_PERIOD_SECS", "20")]).await;
    // The default header-read timeout (10 s) is still running on all of them.
    let _attack = stalled_connections(&service.base, 50, 100).await;
    let stopping = Instant::now();
    service.terminate();
    let status = service.wait_for_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "took {:?}: unfinished requests held the drain",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn connections_past_the_cap_are_answered_503_and_closed() {
    let app = TestApp::spawn_with(&[("HTTP_MAX_CONNECTIONS", "4")]).await;
    let held = stalled_connections(&app.base, 4, 10).await;
    // Give the server a moment to have accepted all four: poll until a fifth is refused.
    let refused = testkit::wait::until(
        "a connection past the cap to be refused",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            let base = app.base.clone();
            async move {
                let mut extra = TcpStream::connect(address(&base)).await.ok()?;
                extra
                    .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .ok()?;
                let answer = read_until_closed(&mut extra, Duration::from_secs(3))
                    .await
                    .ok()?;
                let text = String::from_utf8(answer).ok()?;
                text.starts_with("HTTP/1.1 503").then_some(text)
            }
        },
    )
    .await
    .unwrap();
    assert!(refused.contains("retry-after: 1"), "{refused}");
    let body: Value = serde_json::from_str(refused.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");

    drop(held);
    let client = reqwest::Client::new();
    testkit::wait::until(
        "connections to be accepted again once the held ones are gone",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            let request = client.get(app.url("/api/health")).send();
            async move { (request.await.ok()?.status() == StatusCode::OK).then_some(()) }
        },
    )
    .await
    .unwrap();
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.lines().any(
            |line| line.starts_with("http_connections_refused_total ") && !line.ends_with(" 0")
        ),
        "refusals are counted"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let app = TestApp::spawn_with(&[("HTTP_IDLE_TIMEOUT_SECS", "1")]).await;
    let mut stream = TcpStream::connect(address(&app.base)).await.unwrap();
    stream
        .write_all(b"GET /api/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    // The rest of the answer, then nothing until the server closes the idle connection.
    read_until_closed(&mut stream, Duration::from_secs(1 + 5))
        .await
        .expect("an idle connection is closed");
}

#[tokio::test]
async fn a_request_head_over_64_kib_is_refused_with_431() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .get(app.url("/api/health/live"))
        .header("x-padding", "a".repeat(70 * 1024))
        .send()
        .await;
    match response {
        Ok(response) => assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        ),
        // hyper may close before the client has finished sending; never a 200.
        Err(error) => assert!(!error.is_timeout(), "{error}"),
    }
}

#[tokio::test]
async fn http2_prior_knowledge_is_not_served() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(address(&app.base)).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    // An HTTP/2 server would answer with a SETTINGS frame (type 4) at once.
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
        "answered {:?}",
        String::from_utf8_lossy(&answer)
    );
}
