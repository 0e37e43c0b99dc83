//! Every route the service serves, declared once.
//!
//! A documented route is declared by its handler's `#[utoipa::path]` attribute: method, path
//! template and docs together. This table pairs each with the function that wires its
//! extractors, and everything else is derived from it: the warp filter that matches the path
//! and method, the `route` label of the metrics and logs (never the raw path, so a client
//! cannot create label values), the `Allow` header of a 405, and the paths of the OpenAPI
//! document.

use std::sync::LazyLock;

use utoipa::openapi::path::{HttpMethod, Operation};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::Method;
use warp::path::FullPath;
use warp::reply::Response;

use super::extract::{Captures, Matched};
use super::state::AppState;
use super::{docs, health, metrics, tasks};

/// Wires a route's extractors to its handler.
type Wiring = fn(AppState, Matched) -> BoxedFilter<(Response,)>;

pub struct Route {
    pub method: Method,
    /// The path template, e.g. `/api/tasks/{id}`.
    pub path: &'static str,
    /// The route's entry in the OpenAPI document; undocumented routes (HEAD twins, the docs
    /// themselves) have none.
    pub docs: Option<Docs>,
    wiring: Wiring,
}

/// A route's entry in the OpenAPI document, from its handler's `#[utoipa::path]`.
pub struct Docs {
    pub method: HttpMethod,
    pub operation: Operation,
}

/// The label for paths that match no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    vec![
        documented::<health::__path_health>(HEALTH, health::wire_health),
        undocumented(Method::HEAD, "/api/health", health::wire_health),
        documented::<health::__path_live>(HEALTH, health::wire_live),
        undocumented(Method::HEAD, "/api/health/live", health::wire_live),
        documented::<health::__path_ready>(HEALTH, health::wire_ready),
        undocumented(Method::HEAD, "/api/health/ready", health::wire_ready),
        documented::<tasks::__path_list_tasks>(TASKS, tasks::wire_list),
        documented::<tasks::__path_create_task>(TASKS, tasks::wire_create),
        documented::<tasks::__path_get_task>(TASKS, tasks::wire_get),
        documented::<tasks::__path_update_task>(TASKS, tasks::wire_update),
        documented::<tasks::__path_delete_task>(TASKS, tasks::wire_delete),
        documented::<metrics::__path_metrics>(OPERATIONS, metrics::wire_metrics),
        undocumented(Method::GET, "/openapi.json", docs::wire_openapi),
        undocumented(Method::GET, "/docs", docs::wire_index),
        undocumented(Method::GET, "/docs/{file}", docs::wire_asset),
    ]
});

/// The groups of the OpenAPI document (described in `openapi.rs`).
const TASKS: &str = "tasks";
const HEALTH: &str = "health";
const OPERATIONS: &str = "operations";

/// Every route, in the order they are tried.
pub fn all() -> &'static [Route] {
    &ROUTES
}

/// A route declared by the `#[utoipa::path]` attribute of its handler, in the document's group
/// `tag`. (utoipa keeps an attribute's own `tag` out of the public `Path` trait.)
fn documented<P: utoipa::Path>(tag: &str, wiring: Wiring) -> Route {
    let [method] = &P::methods()[..] else {
        panic!("{} declares one method per handler", P::path());
    };
    let mut operation = P::operation();
    operation.tags = Some(vec![tag.to_owned()]);
    Route {
        method: http_method(method),
        // Leaked once per route when the table is built: templates live as long as the process.
        path: Box::leak(P::path().into_boxed_str()),
        docs: Some(Docs {
            method: method.clone(),
            operation,
        }),
        wiring,
    }
}

fn undocumented(method: Method, path: &'static str, wiring: Wiring) -> Route {
    Route {
        method,
        path,
        docs: None,
        wiring,
    }
}

fn http_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    }
}

impl Route {
    /// The route as a warp filter: its path, then its method, then its handler. The path comes
    /// first so that a path no route has is a 404, and a known path asked with another method
    /// a 405.
    pub fn filter(&self, state: AppState) -> BoxedFilter<(Response,)> {
        let path = self.path;
        let matched = warp::path::full()
            .and_then(move |full: FullPath| async move {
                captures(path, full.as_str()).ok_or_else(warp::reject::not_found)
            })
            .and(method_filter(&self.method))
            .boxed();
        (self.wiring)(state, matched)
    }
}

fn method_filter(method: &Method) -> BoxedFilter<()> {
    match *method {
        Method::GET => warp::get().boxed(),
        Method::HEAD => warp::head().boxed(),
        Method::POST => warp::post().boxed(),
        Method::PUT => warp::put().boxed(),
        Method::PATCH => warp::patch().boxed(),
        Method::DELETE => warp::delete().boxed(),
        Method::OPTIONS => warp::options().boxed(),
        ref other => panic!("no warp filter for the method {other} of the route table"),
    }
}

/// The route template `path` matches, e.g. `/api/tasks/{id}` for `/api/tasks/0191...`, or
/// [`UNMATCHED_ROUTE`].
pub fn template(path: &str) -> &'static str {
    all()
        .iter()
        .find(|route| captures(route.path, path).is_some())
        .map_or(UNMATCHED_ROUTE, |route| route.path)
}

/// The methods served at `path`'s template, for an `Allow` header; empty if no route has it.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let template = template(path);
    all()
        .iter()
        .filter(|route| route.path == template)
        .map(|route| route.method.as_str())
        .collect()
}

/// The `{...}` segments of `path` if it matches `template`. One trailing slash is ignored (as
/// warp's own path filters do); `{id}` segments must be UUIDs, any other `{...}` any non-empty
/// segment.
fn captures(template: &str, path: &str) -> Option<Captures> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let mut wanted = template.split('/');
    let mut actual = path.split('/');
    let mut captured = Vec::new();
    loop {
        match (wanted.next(), actual.next()) {
            (None, None) => return Some(Captures::new(captured)),
            (Some("{id}"), Some(segment)) if Uuid::try_parse(segment).is_ok() => {
                captured.push(segment.to_owned());
            }
            (Some(name), Some(segment))
                if name.starts_with('{') && name != "{id}" && !segment.is_empty() =>
            {
                captured.push(segment.to_owned());
            }
            (Some(name), Some(segment)) if name == segment && !name.starts_with('{') => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0191d1c4-3f7e-7cc1-8d1e-3a4b5c6d7e8f";

    #[test]
    fn paths_map_to_their_templates() {
        assert_eq!(template("/api/tasks"), "/api/tasks");
        assert_eq!(template("/api/tasks/"), "/api/tasks");
        assert_eq!(template(&format!("/api/tasks/{ID}")), "/api/tasks/{id}");
        assert_eq!(template("/docs/swagger-ui.css"), "/docs/{file}");
        assert_eq!(template("/"), UNMATCHED_ROUTE);
        assert_eq!(template("/api/tasks/1/extra"), UNMATCHED_ROUTE);
        assert_eq!(template("/api/tasks/not-a-task-id"), UNMATCHED_ROUTE);
        assert_eq!(template("/wp-admin.php"), UNMATCHED_ROUTE);
    }

    #[test]
    fn captures_are_the_placeholder_segments_in_order() {
        let captured = captures("/api/tasks/{id}", &format!("/api/tasks/{ID}/")).unwrap();
        assert_eq!(captured.get(0), Some(ID));
        assert!(captures("/api/tasks/{id}", "/api/tasks/").is_none());
        assert!(captures("/docs/{file}", "/docs//").is_none());
    }

    #[test]
    fn allowed_methods_list_every_route_of_a_template() {
        assert_eq!(allowed_methods("/api/tasks"), ["GET", "POST"]);
        assert_eq!(
            allowed_methods(&format!("/api/tasks/{ID}")),
            ["GET", "PATCH", "DELETE"]
        );
        assert_eq!(allowed_methods("/api/health"), ["GET", "HEAD"]);
        assert!(allowed_methods("/nowhere").is_empty());
    }

    #[test]
    fn every_route_is_unique_and_has_a_warp_method() {
        let mut seen = std::collections::BTreeSet::new();
        for route in all() {
            assert!(
                seen.insert((route.method.as_str(), route.path)),
                "{} {} twice",
                route.method,
                route.path
            );
            let _ = method_filter(&route.method);
            assert!(route.path.starts_with('/'), "{}", route.path);
        }
    }
}
