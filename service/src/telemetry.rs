//! Logging: one JSON object per line on stdout, for the cluster's log collector.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

pub fn init(level: LevelFilter) {
    // hyper reports every client that hangs up mid-request as a "connection error"; those are
    // the client's business, not an operator's.
    let filter = EnvFilter::builder().parse_lossy(format!("{level},warp::server=off"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}
