//! Every route the service serves, declared once.
//!
//! A documented route is declared by its handler's `#[utoipa::path]` attribute: method, path
//! template and docs together. This table pairs each with the function that wires its warp
//! extractors, and everything else is derived from it: which route a request goes to
//! ([`resolve`], one pass over the table per request), the `route` label of the metrics and
//! logs (never the raw path, so a client cannot create label values), the `Allow` header of a
//! 405, and the paths of the OpenAPI document.

use std::sync::LazyLock;

use utoipa::openapi::path::{HttpMethod, Operation};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::Method;
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
    // Tried in this order; the tasks routes, which carry the traffic, come first.
    vec![
        documented::<tasks::__path_list_tasks>(TASKS, tasks::wire_list),
        documented::<tasks::__path_create_task>(TASKS, tasks::wire_create),
        documented::<tasks::__path_get_task>(TASKS, tasks::wire_get),
        documented::<tasks::__path_update_task>(TASKS, tasks::wire_update),
        documented::<tasks::__path_delete_task>(TASKS, tasks::wire_delete),
        documented::<health::__path_health>(HEALTH, health::wire_health),
        undocumented(Method::HEAD, "/api/health", health::wire_health),
        documented::<health::__path_live>(HEALTH, health::wire_live),
        undocumented(Method::HEAD, "/api/health/live", health::wire_live),
        documented::<health::__path_ready>(HEALTH, health::wire_ready),
        undocumented(Method::HEAD, "/api/health/ready", health::wire_ready),
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
    /// The route's handler with its extractors, as a warp filter that always answers (its
    /// rejections become JSON errors). It runs only for requests [`resolve`] sent to it, which
    /// carry the path's segments as a [`Captures`] extension.
    pub fn filter(&self, state: AppState) -> BoxedFilter<(Response,)> {
        let matched = warp::ext::get::<Captures>().boxed();
        (self.wiring)(state, matched)
            .recover(super::error::recover)
            .unify()
            .boxed()
    }
}

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    /// To this route of [`all`], with the path's segments.
    Route(usize, Captures),
    /// The path is a route's, the method is not: 405 with the template's methods.
    MethodNotAllowed(&'static str),
    /// No route has this path: 404.
    NotFound,
}

/// The route for `method` and `path`, found in one pass over the table.
pub fn resolve(method: &Method, path: &str) -> Resolution {
    let mut known_path = None;
    for (index, route) in all().iter().enumerate() {
        if known_path.is_some_and(|template| template != route.path) {
            continue;
        }
        if !matches(route.path, path) {
            continue;
        }
        if route.method == *method {
            return Resolution::Route(index, captures(route.path, path));
        }
        known_path = Some(route.path);
    }
    known_path.map_or(Resolution::NotFound, Resolution::MethodNotAllowed)
}

/// The methods served at `template`, for an `Allow` header.
pub fn allowed_methods(template: &str) -> Vec<&'static str> {
    all()
        .iter()
        .filter(|route| route.path == template)
        .map(|route| route.method.as_str())
        .collect()
}

/// `path` without one trailing slash, which warp's own path filters ignore too.
fn trimmed(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    }
}

/// Whether `path` matches `template`: `{id}` segments must be UUIDs, any other `{...}` any
/// non-empty segment, everything else itself.
fn matches(template: &str, path: &str) -> bool {
    let mut wanted = template.split('/');
    let mut actual = trimmed(path).split('/');
    loop {
        match (wanted.next(), actual.next()) {
            (None, None) => return true,
            (Some("{id}"), Some(segment)) if Uuid::try_parse(segment).is_ok() => {}
            (Some(name), Some(segment))
                if name.starts_with('{') && name != "{id}" && !segment.is_empty() => {}
            (Some(name), Some(segment)) if name == segment && !name.starts_with('{') => {}
            _ => return false,
        }
    }
}

/// The `{...}` segments of a `path` that [`matches`] `template`.
fn captures(template: &str, path: &str) -> Captures {
    Captures::new(
        template
            .split('/')
            .zip(trimmed(path).split('/'))
            .filter(|(name, _)| name.starts_with('{'))
            .map(|(_, segment)| segment.to_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0191d1c4-3f7e-7cc1-8d1e-3a4b5c6d7e8f";

    /// The template a GET of `path` is labelled with.
    fn template(path: &str) -> &'static str {
        match resolve(&Method::GET, path) {
            Resolution::Route(index, _) => all()[index].path,
            Resolution::MethodNotAllowed(template) => template,
            Resolution::NotFound => UNMATCHED_ROUTE,
        }
    }

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
        let path = format!("/api/tasks/{ID}/");
        assert!(matches("/api/tasks/{id}", &path));
        assert_eq!(captures("/api/tasks/{id}", &path).get(0), Some(ID));
        assert!(!matches("/api/tasks/{id}", "/api/tasks/"));
        assert!(!matches("/docs/{file}", "/docs//"));
    }

    #[test]
    fn a_request_resolves_to_its_route_or_to_405_or_404() {
        let get = Method::GET;
        let Resolution::Route(index, captured) = resolve(&get, &format!("/api/tasks/{ID}")) else {
            panic!("GET /api/tasks/{{id}} is a route");
        };
        assert_eq!(all()[index].path, "/api/tasks/{id}");
        assert_eq!(all()[index].method, Method::GET);
        assert_eq!(captured.get(0), Some(ID));
        assert_eq!(
            resolve(&Method::PUT, "/api/tasks"),
            Resolution::MethodNotAllowed("/api/tasks")
        );
        assert_eq!(
            resolve(&get, "/api/tasks/not-a-task-id"),
            Resolution::NotFound
        );
        assert_eq!(resolve(&get, "/nowhere"), Resolution::NotFound);
        assert!(matches!(
            resolve(&Method::HEAD, "/api/health"),
            Resolution::Route(..)
        ));
    }

    #[test]
    fn allowed_methods_list_every_route_of_a_template() {
        assert_eq!(allowed_methods("/api/tasks"), ["GET", "POST"]);
        assert_eq!(
            allowed_methods("/api/tasks/{id}"),
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
            assert!(route.path.starts_with('/'), "{}", route.path);
        }
    }
}
