//! CORS as only a browser can judge it: headless Chromium loads a page from the frontend's
//! origin that creates, lists, updates and deletes a task with `fetch()` and a bearer token,
//! and the same page from another origin, whose calls the browser must block.
//!
//! The page reports what it saw by POSTing to its own origin (same-origin, no CORS needed).
//! Needs Debian's `chromium` (ci/tools.sh installs it); without it the test is skipped by name,
//! unless E2E_REQUIRE=1 (as `make test` sets), which makes it a failure.

use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::TestApp;

/// The page: the frontend's calls, in order, each recorded as `[step, status, detail]`, or
/// `["error", message]` where the browser refused to hand over a response.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>todo-chatbot frontend stand-in</title>
<script>
const api = "__API__";
const headers = { "authorization": "Bearer __TOKEN__", "content-type": "application/json" };
async function run() {
  const seen = [];
  try {
    let r = await fetch(api + "/api/tasks", { method: "POST", headers,
      body: JSON.stringify({ title: "from the browser" }) });
    const task = await r.json();
    seen.push(["create", r.status, r.headers.get("x-request-id") !== null]);
    r = await fetch(api + "/api/tasks", { headers });
    seen.push(["list", r.status, (await r.json()).total]);
    r = await fetch(api + "/api/tasks/" + task.id, { method: "PATCH", headers,
      body: JSON.stringify({ completed: true }) });
    seen.push(["update", r.status, (await r.json()).completed]);
    r = await fetch(api + "/api/tasks/" + task.id, { method: "DELETE", headers });
    seen.push(["delete", r.status, null]);
    r = await fetch(api + "/api/tasks");
    seen.push(["unauthenticated", r.status, r.headers.get("www-authenticate") !== null]);
  } catch (error) {
    seen.push(["error", String(error)]);
  }
  await fetch("/result", { method: "POST", body: JSON.stringify(seen) });
}
run();
</script>
"#;

fn chromium() -> Option<&'static str> {
    let found = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if found {
        return Some("chromium");
    }
    testkit::skip::missing(
        "the_frontend_origin_can_call_the_api_from_a_browser_and_another_cannot",
        "no chromium: run `make tools` (Debian package chromium)",
    );
    None
}

/// A web server for the page on its own loopback port: its origin is `http://127.0.0.1:PORT`.
struct PageServer {
    origin: String,
    results: mpsc::UnboundedReceiver<Value>,
    accepting: tokio::task::JoinHandle<()>,
    page: Arc<Mutex<String>>,
}

impl PageServer {
    async fn start() -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (sender, results) = mpsc::unbounded_channel();
        let page = Arc::new(Mutex::new(String::new()));
        let served = page.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (sender, page) = (sender.clone(), served.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (sender, page) = (sender.clone(), page.clone());
                        async move {
                            let body = if request.method() == Method::POST {
                                let bytes = request.into_body().collect().await.unwrap();
                                let result = serde_json::from_slice(&bytes.to_bytes())
                                    .unwrap_or(Value::Null);
                                let _ = sender.send(result);
                                String::new()
                            } else {
                                page.lock().unwrap().clone()
                            };
                            let mut response = Response::new(Full::new(Bytes::from(body)));
                            response.headers_mut().insert(
                                "content-type",
                                "text/html; charset=utf-8".parse().unwrap(),
                            );
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        PageServer {
            origin,
            results,
            accepting,
            page,
        }
    }

    /// Loads the page in headless Chromium and returns what it reported.
    async fn run_page(&mut self, browser: &str, api: &str, token: &str) -> Value {
        *self.page.lock().unwrap() = PAGE.replace("__API__", api).replace("__TOKEN__", token);
        let profile = std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4()));
        let child = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("{}/", self.origin))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let _browser = KillOnDrop(child);
        let result = tokio::time::timeout(Duration::from_secs(60), self.results.recv())
            .await
            .expect("the page reports within 60 s")
            .expect("a report");
        let _ = std::fs::remove_dir_all(profile);
        result
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_frontend_origin_can_call_the_api_from_a_browser_and_another_cannot() {
    let Some(browser) = chromium() else { return };
    let mut frontend = PageServer::start().await;
    let mut elsewhere = PageServer::start().await;
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", &frontend.origin)]).await;
    let token = app.token("browser-user");

    let seen = frontend.run_page(browser, &app.base, &token).await;
    assert_eq!(
        seen,
        json!([
            ["create", 201, true],
            ["list", 200, 1],
            ["update", 200, true],
            ["delete", 204, null],
            ["unauthenticated", 401, true],
        ]),
        "from the allowed origin every call goes through and its headers are readable"
    );

    let seen = elsewhere.run_page(browser, &app.base, &token).await;
    assert_eq!(
        seen,
        json!([["error", "TypeError: Failed to fetch"]]),
        "from another origin the browser blocks the first call"
    );
    let list = app.task_list(&token).await;
    assert_eq!(
        list["total"], 0,
        "the blocked page's preflight created nothing"
    );
}
