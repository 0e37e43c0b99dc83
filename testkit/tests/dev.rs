//! `make dev` (the `backend-dev` runner): a working, authenticated backend with CORS for the
//! Next.js dev server, and after Ctrl-C nothing left running.
//!
//! Needs the `backend` binary beside this test's (cargo builds it for `make test`); without it
//! the test is skipped by name, unless E2E_REQUIRE=1 (as `make test` sets).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn backend_binary() -> Option<PathBuf> {
    // target/debug/deps/dev-<hash> -> target/debug/backend
    let exe = std::env::current_exe().expect("the test's path");
    let backend = exe.parent()?.parent()?.join("backend");
    if backend.exists() {
        return Some(backend);
    }
    testkit::skip::missing(
        "make_dev_serves_an_authenticated_api_and_ctrl_c_leaves_nothing_running",
        &format!(
            "no backend binary at {} (cargo build -p backend)",
            backend.display()
        ),
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn make_dev_serves_an_authenticated_api_and_ctrl_c_leaves_nothing_running() {
    let Some(backend) = backend_binary() else {
        return;
    };
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_backend-dev"))
        .arg(&backend)
        .env("PORT", port.to_string())
        .env_remove("BETTER_AUTH_URL")
        .env_remove("CORS_ALLOWED_ORIGINS")
        .env("LOG_LEVEL", "warn")
        // Its own process group, as a terminal's foreground job has: Ctrl-C signals all of it.
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("backend-dev starts");
    let pid = child.id() as i32;
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut banner = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !banner.iter().any(|line: &String| line.starts_with("eyJ")) {
        let line = received
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no dev token within 90 s; printed: {banner:#?}"));
        banner.push(line);
    }
    let token = banner.last().unwrap().clone();
    let database_port: u16 = banner
        .iter()
        .find_map(|line| line.trim().strip_prefix("Database:"))
        .and_then(|url| url.split(':').nth(2))
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("a Database line in {banner:#?}"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let base = format!("http://localhost:{port}");
        let created = client
            .post(format!("{base}/api/tasks"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"title": "made in make dev"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), reqwest::StatusCode::CREATED);
        let preflight = client
            .request(reqwest::Method::OPTIONS, format!("{base}/api/tasks"))
            .header("origin", "http://localhost:3000")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "http://localhost:3000"
        );
    });

    // Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT delivered");
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "backend-dev still running 40 s after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(!listening(port), "the backend still listens on {port}");
    assert!(
        !listening(database_port),
        "PostgreSQL still listens on {database_port}"
    );
    let data_dirs = std::env::temp_dir().join("testkit-postgres");
    let left: Vec<_> = std::fs::read_dir(&data_dirs)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&format!("{pid}-")))
        .collect();
    assert!(left.is_empty(), "data directories left behind: {left:?}");
}
