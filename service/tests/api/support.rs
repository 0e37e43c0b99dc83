//! Shared setup: the app in-process on a fresh database ([`TestApp`]), the real binary as a
//! child process ([`ServiceProcess`]), and request helpers. Every test gets its own database.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backend::{App, Config, Lifecycle, Stopped};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const POD_NAME: &str = "test-pod";

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub lifecycle: Lifecycle,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Stopped>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    /// The app on a fresh database, with these environment variables on top of the defaults.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        let database_url = testkit::postgres::fresh_database()
            .await
            .expect("a fresh test database");
        TestApp::spawn_on(&database_url, overrides).await
    }

    pub async fn spawn_on(database_url: &str, overrides: &[(&str, &str)]) -> TestApp {
        TestApp::spawn_adjusted(database_url, overrides, |_| {}).await
    }

    /// The app with these variables, and `adjust` applied to the configuration they give (for
    /// settings no variable reaches, such as the JWKS refetch interval).
    pub async fn spawn_adjusted(
        database_url: &str,
        overrides: &[(&str, &str)],
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let vars = service_env(database_url, overrides);
        let mut config =
            Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test config");
        adjust(&mut config);
        let app = App::build(config).await.expect("the app starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let lifecycle = app.lifecycle();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            database_url: database_url.to_owned(),
            lifecycle,
            client: reqwest::Client::new(),
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn token(&self, user: &str) -> String {
        testkit::jwt::mint(SECRET, user, 300)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the request is answered")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// The caller's first page of tasks (`{"items", "total", ...}`); fails the test unless 200.
    pub async fn task_list(&self, token: &str) -> Value {
        let response = self.get("/api/tasks", Some(token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a task list as JSON")
    }

    /// Creates a task with this title and returns it; fails the test unless the answer is 201.
    pub async fn create_task(&self, token: &str, title: &str) -> Value {
        self.create_task_from(token, &json!({ "title": title }))
            .await
    }

    /// Creates a task from this body and returns it; fails the test unless the answer is 201.
    pub async fn create_task_from(&self, token: &str, body: &Value) -> Value {
        let response = self.post("/api/tasks", token, body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("a task as JSON")
    }

    /// Stops the app the way SIGTERM does and reports how it stopped.
    pub async fn stop(mut self) -> Stopped {
        let _ = self.stop.take().expect("not stopped yet").send(());
        self.server
            .take()
            .expect("not stopped yet")
            .await
            .expect("the server task does not panic")
    }
}

/// The path of a task returned by the API.
pub fn task_path(task: &Value) -> String {
    format!("/api/tasks/{}", task["id"].as_str().expect("a task id"))
}

/// The service's environment for tests: required variables, port 0, short start-up timeout.
pub fn service_env(database_url: &str, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url),
        ("BETTER_AUTH_SECRET", SECRET),
        ("PORT", "0"),
        ("POD_NAME", POD_NAME),
        ("DB_STARTUP_TIMEOUT_SECS", "5"),
        ("LOG_LEVEL", "warn"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    for (name, value) in overrides {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    vars
}

/// Asserts an error response: the status, the JSON shape and the code. Returns the body.
pub async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    let body: Value = response.json().await.expect("an error body in JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body
}

/// The real `backend` binary, started with PORT=0; its port is read from its "listening" log.
pub struct ServiceProcess {
    child: Child,
    pub base: String,
    logs: Arc<Mutex<Vec<String>>>,
    /// Reads stdout until the process closes it; joined on exit so `logs` then holds every line.
    log_reader: Option<std::thread::JoinHandle<()>>,
}

impl ServiceProcess {
    pub fn command(vars: &HashMap<String, String>) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_backend"));
        command.env_clear().envs(vars);
        command
    }

    pub async fn start(database_url: &str, overrides: &[(&str, &str)]) -> ServiceProcess {
        // The port is read from the info-level "listening" line.
        let mut settings = vec![("LOG_LEVEL", "info")];
        settings.extend_from_slice(overrides);
        let vars = service_env(database_url, &settings);
        let mut command = ServiceProcess::command(&vars);
        // If the test dies without dropping us, the kernel stops the service too.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the backend binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (port_sender, port_receiver) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let collected = logs.clone();
        let log_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["message"] == "listening"
                {
                    let _ = port_sender.send(event["port"].as_u64());
                }
                collected.lock().expect("log lock").push(line);
            }
        });
        let port = tokio::task::spawn_blocking(move || {
            port_receiver.recv_timeout(Duration::from_secs(30))
        })
        .await
        .expect("join")
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("backend did not log 'listening' within 30 s"));
        ServiceProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            logs,
            log_reader: Some(log_reader),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn terminate(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM delivered");
    }

    /// Waits for the process to exit, failing the test after `within`, and for its last log
    /// lines to be read.
    pub async fn wait_for_exit(&mut self, within: Duration) -> ExitStatus {
        let child = &mut self.child;
        let status = testkit::wait::until(
            "the backend process to exit",
            within,
            Duration::from_millis(20),
            || {
                let status = child.try_wait().expect("try_wait");
                async move { status }
            },
        )
        .await
        .expect("process exit");
        if let Some(reader) = self.log_reader.take() {
            tokio::task::spawn_blocking(move || reader.join())
                .await
                .expect("join")
                .expect("the log reader ends at end of output");
        }
        status
    }

    /// The process's resident memory, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the backend process is running");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Stops the process (SIGTERM) and returns its first log line that contains every one of
    /// `needles`; fails the test if none does.
    pub async fn stop_and_find_log(&mut self, needles: &[&str]) -> String {
        self.terminate();
        let _ = self.wait_for_exit(Duration::from_secs(20)).await;
        self.logs()
            .into_iter()
            .find(|line| needles.iter().all(|needle| line.contains(needle)))
            .unwrap_or_else(|| panic!("no log line with {needles:?}: {:#?}", self.logs()))
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection of the test's own, e.g. to hold locks that make the service's queries wait.
pub async fn connect(database_url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .expect("test connection");
    tokio::spawn(connection);
    client
}

/// A TCP proxy in front of PostgreSQL. [`DatabaseProxy::slow`] holds every chunk the server
/// sends for a delay: a database a few milliseconds away, as in a real cluster, instead of one on
/// loopback. [`DatabaseProxy::blackhole`] drops every byte in both directions without closing
/// anything, as a network partition does (connections still close when either end closes them,
/// so the server is not left with stale backends), until [`DatabaseProxy::restore`].
pub struct DatabaseProxy {
    pub database_url: String,
    forwarding: Arc<AtomicBool>,
    accepting: tokio::task::JoinHandle<()>,
}

impl DatabaseProxy {
    pub async fn start(database_url: &str) -> DatabaseProxy {
        DatabaseProxy::slow(database_url, Duration::ZERO).await
    }

    pub async fn slow(database_url: &str, delay: Duration) -> DatabaseProxy {
        let target: url::Url = database_url.parse().expect("a database URL");
        let upstream = format!(
            "{}:{}",
            target.host_str().expect("a host"),
            target.port().unwrap_or(5432)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let forwarding = Arc::new(AtomicBool::new(true));
        let accepting = tokio::spawn({
            let forwarding = forwarding.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let upstream = upstream.clone();
                    let forwarding = forwarding.clone();
                    tokio::spawn(async move {
                        let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        let _ = tokio::join!(
                            pump(client_read, server_write, Duration::ZERO, &forwarding),
                            pump(server_read, client_write, delay, &forwarding),
                        );
                    });
                }
            }
        });
        let mut url = target.clone();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(port)).unwrap();
        DatabaseProxy {
            database_url: url.to_string(),
            forwarding,
            accepting,
        }
    }

    /// From now on every byte is dropped, on open connections and new ones alike.
    pub fn blackhole(&self) {
        self.forwarding.store(false, Ordering::SeqCst);
    }

    /// Forwards again (what was dropped stays lost).
    pub fn restore(&self) {
        self.forwarding.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, each chunk after `delay`, dropping chunks while not `forwarding`.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    forwarding: &AtomicBool,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if forwarding.load(Ordering::SeqCst) {
            to.write_all(&buffer[..n]).await?;
        }
    }
}

impl Drop for DatabaseProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
