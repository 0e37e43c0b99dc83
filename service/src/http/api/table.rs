//! The route table: the API's resources, in the order they are tried (see `routes.rs` for
//! what every resource does besides its routes).

use std::sync::LazyLock;

use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::routes::{Route, Table, build};
use super::{docs, health, metrics, tasks};

static TABLE: LazyLock<(Table, BoxedFilter<(Response,)>)> = LazyLock::new(|| {
    // The tasks, which carry the traffic, come first.
    build(&[
        tasks::declare,
        health::declare,
        metrics::declare,
        docs::declare,
    ])
});

/// Every route, in the order they are tried.
pub fn all() -> &'static [Route] {
    TABLE.0.routes()
}

/// Answers every request (404 when no resource matches). The app's state must be in the
/// request's extensions (`extract::state`).
pub fn filter() -> BoxedFilter<(Response,)> {
    TABLE.1.clone()
}
