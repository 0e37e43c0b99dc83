//! The signals that stop the service: SIGTERM (Kubernetes, docker stop) and SIGINT (Ctrl-C).

use tokio::signal::unix::{SignalKind, signal};

/// Resolves at the first SIGTERM or SIGINT.
pub async fn signal_received() {
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler can be installed");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler can be installed");
    let name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "signal received");
}
