//! The signals that stop the service: SIGTERM (Kubernetes, docker stop) and SIGINT (Ctrl-C).

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal};

/// Installs the handlers now and returns a future that resolves at the first SIGTERM or SIGINT.
///
/// Installing them before anything else matters when the process is PID 1 in a container: the
/// kernel drops signals that PID 1 has no handler for, so a stop during start-up (while the
/// database is still being retried) would otherwise wait for SIGKILL.
pub fn install() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "signal received");
    })
}
