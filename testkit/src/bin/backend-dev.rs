//! `make dev`: the backend on `localhost:8000` against a throwaway PostgreSQL, for working on the
//! frontend without a cluster. CORS allows the Next.js dev server (`http://localhost:3000`),
//! BETTER_AUTH_URL is passed through for the JWT plugin's tokens, and a dev token is printed.
//! Ctrl-C (or SIGTERM) stops the backend, then PostgreSQL, and removes its data.
//!
//! Usage: `backend-dev PATH_TO_BACKEND_BINARY` (ci/dev.sh builds it and passes it). Settings
//! from the environment: PORT (8000), CORS_ALLOWED_ORIGINS (http://localhost:3000),
//! BETTER_AUTH_SECRET (a random one, printed), BETTER_AUTH_URL, BETTER_AUTH_JWKS_URL,
//! JWT_ISSUER, JWT_AUDIENCE, LOG_LEVEL (info).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::postgres::PgServer;
use tokio::signal::unix::{SignalKind, signal};

/// The variables passed through to the backend when set.
const PASSED_THROUGH: &[&str] = &[
    "BETTER_AUTH_URL",
    "BETTER_AUTH_JWKS_URL",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "RUST_BACKTRACE",
];

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("make dev: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let backend = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: backend-dev PATH_TO_BACKEND_BINARY")?;
    // Installed first, so a Ctrl-C during start-up still cleans up.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;

    let setting = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let port = setting("PORT", "8000");
    let secret = setting("BETTER_AUTH_SECRET", &random_secret());
    let origins = setting("CORS_ALLOWED_ORIGINS", "http://localhost:3000");

    eprintln!("make dev: starting a throwaway PostgreSQL");
    // On this (the main) thread, not a blocking-pool one: the server is tied to the thread
    // that starts it (PR_SET_PDEATHSIG), and pool threads come and go.
    let database = PgServer::start()
        .context("starting PostgreSQL (run ci/tools.sh for the server binaries)")?;
    let database_url = database.url("postgres");

    let mut command = Command::new(&backend);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database_url)
        .env("BETTER_AUTH_SECRET", &secret)
        .env("PORT", &port)
        .env("CORS_ALLOWED_ORIGINS", &origins)
        .env("ENVIRONMENT", "development")
        .env("POD_NAME", "dev")
        .env("LOG_LEVEL", setting("LOG_LEVEL", "info"));
    for name in PASSED_THROUGH {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    let mut child = KillOnDrop(
        command
            .spawn()
            .with_context(|| format!("starting {}", backend.display()))?,
    );

    let base = format!("http://localhost:{port}");
    let token = tokio::select! {
        ready = wait_until_ready(&backend, &base, &mut child) => {
            ready?;
            mint_token(&backend, &secret)?
        }
        _ = interrupt.recv() => return stop(child, database).await,
        _ = terminate.recv() => return stop(child, database).await,
    };
    let better_auth = std::env::var("BETTER_AUTH_URL").unwrap_or_else(|_| {
        "not set: HS256 tokens only (set BETTER_AUTH_URL for the JWT plugin's)".into()
    });
    eprintln!(
        "\n\
         make dev: the backend is up (Ctrl-C stops it and the database)\n  \
         API:          {base}   (CORS allows {origins})\n  \
         Docs:         {base}/docs\n  \
         Database:     {database_url}\n  \
         Secret:       BETTER_AUTH_SECRET={secret}\n  \
         Better Auth:  {better_auth}\n  \
         Dev token (user dev-user, 24 h):\n{token}\n\n  \
         Try, in another terminal:\n  \
         curl -H \"Authorization: Bearer {token}\" {base}/api/tasks\n"
    );

    let pid = child.0.id();
    let mut exited = tokio::task::spawn_blocking(move || child.0.wait());
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
        _ = &mut exited => {
            drop(database);
            bail!("the backend exited; its log above says why");
        }
    }
    eprintln!("make dev: stopping the backend and PostgreSQL");
    // SIGTERM: the backend's graceful drain; SIGKILL if that takes too long.
    let pid = Pid::from_raw(pid as i32);
    let _ = kill(pid, Signal::SIGTERM);
    if tokio::time::timeout(Duration::from_secs(30), &mut exited)
        .await
        .is_err()
    {
        eprintln!("make dev: the backend did not stop within 30 s; killing it");
        let _ = kill(pid, Signal::SIGKILL);
        let _ = exited.await;
    }
    drop(database);
    eprintln!("make dev: stopped");
    Ok(())
}

/// Stops a backend that has not finished starting, then the database.
async fn stop(child: KillOnDrop, database: PgServer) -> Result<()> {
    eprintln!("make dev: stopping the backend and PostgreSQL");
    drop(child);
    drop(database);
    Ok(())
}

/// Polls the backend's readiness with its own `healthcheck` command (no HTTP client needed).
async fn wait_until_ready(backend: &Path, base: &str, child: &mut KillOnDrop) -> Result<()> {
    let ready = format!("{base}/api/health/ready");
    for _ in 0..300 {
        if let Some(status) = child.0.try_wait()? {
            bail!("the backend exited during start-up ({status}); its log above says why");
        }
        let checked = tokio::process::Command::new(backend)
            .args(["healthcheck", &ready])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        if checked.success() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the backend was not ready within 30 s at {ready}")
}

/// A token from the backend's own `token` command, so it is exactly what the service accepts.
fn mint_token(backend: &Path, secret: &str) -> Result<String> {
    let mut command = Command::new(backend);
    command
        .env_clear()
        .env("BETTER_AUTH_SECRET", secret)
        .args(["token", "dev-user", "--ttl", "24h"]);
    for name in ["JWT_ISSUER", "JWT_AUDIENCE"] {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    let output = command.output().context("running backend token")?;
    if !output.status.success() {
        bail!(
            "backend token failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// 48 random characters from the kernel, for a secret nobody else has.
fn random_secret() -> String {
    let mut bytes = [0u8; 36];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("random bytes from the kernel");
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
