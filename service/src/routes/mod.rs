//! The HTTP API: every route, wrapped in request observation, with every rejection turned into
//! a JSON error.

pub mod docs;
pub mod health;
pub mod json;
pub mod metrics;
mod observe;
pub mod tasks;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::error;
use crate::state::AppState;

/// A path the service serves and the methods it answers there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTemplate {
    pub path: &'static str,
    pub methods: &'static [&'static str],
}

/// Every route the service serves. Metrics and logs label requests with these templates, never
/// with raw paths, so label cardinality stays bounded whatever clients send; a 405 lists the
/// template's methods in `Allow`.
pub const ROUTE_TEMPLATES: &[RouteTemplate] = &[
    RouteTemplate {
        path: "/api/health",
        methods: &["GET", "HEAD"],
    },
    RouteTemplate {
        path: "/api/health/live",
        methods: &["GET", "HEAD"],
    },
    RouteTemplate {
        path: "/api/health/ready",
        methods: &["GET", "HEAD"],
    },
    RouteTemplate {
        path: "/api/tasks",
        methods: &["GET", "POST"],
    },
    RouteTemplate {
        path: "/api/tasks/{id}",
        methods: &["GET", "PATCH", "DELETE"],
    },
    RouteTemplate {
        path: "/metrics",
        methods: &["GET"],
    },
    RouteTemplate {
        path: "/openapi.json",
        methods: &["GET"],
    },
    RouteTemplate {
        path: "/docs",
        methods: &["GET"],
    },
    RouteTemplate {
        path: "/docs/{file}",
        methods: &["GET"],
    },
];

/// The label for paths that match no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The template of `path`, e.g. `/api/tasks/{id}` for `/api/tasks/0191...`.
pub fn route_template(path: &str) -> &'static str {
    matching_route(path).map_or(UNMATCHED_ROUTE, |route| route.path)
}

/// The route whose template `path` matches, if any.
pub fn matching_route(path: &str) -> Option<&'static RouteTemplate> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    ROUTE_TEMPLATES.iter().find(|route| {
        let template = route.path;
        let mut wanted = template.split('/');
        let mut actual = path.split('/');
        loop {
            match (wanted.next(), actual.next()) {
                (None, None) => return true,
                (Some(w), Some(a)) if w.starts_with('{') && !a.is_empty() => continue,
                (Some(w), Some(a)) if w == a => continue,
                _ => return false,
            }
        }
    })
}

/// The whole API as one filter that always answers.
pub fn api(state: AppState) -> BoxedFilter<(Response,)> {
    let routes = health::routes(state.clone())
        .or(tasks::routes(state.clone()))
        .unify()
        .or(metrics::routes(state.clone()))
        .unify()
        .or(docs::routes())
        .unify()
        .recover(error::recover)
        .unify()
        .boxed();
    observe::observed(state, routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_templates() {
        assert_eq!(route_template("/api/tasks"), "/api/tasks");
        assert_eq!(route_template("/api/tasks/"), "/api/tasks");
        assert_eq!(
            route_template("/api/tasks/0191d1c4-3f7e-7cc1-8d1e-3a4b5c6d7e8f"),
            "/api/tasks/{id}"
        );
        assert_eq!(route_template("/docs/swagger-ui.css"), "/docs/{file}");
        assert_eq!(route_template("/"), UNMATCHED_ROUTE);
        assert_eq!(route_template("/api/tasks/1/extra"), UNMATCHED_ROUTE);
        assert_eq!(route_template("/wp-admin.php"), UNMATCHED_ROUTE);
    }

    #[test]
    fn every_template_names_its_methods() {
        for route in ROUTE_TEMPLATES {
            assert!(!route.methods.is_empty(), "{}", route.path);
            for method in route.methods {
                assert!(warp::http::Method::from_bytes(method.as_bytes()).is_ok());
            }
        }
    }
}
