//! How routes are declared: every path the API serves, each with its methods, handlers and
//! docs, declared once by the module that holds the handlers (`tasks::declare` and the others;
//! `table.rs` lists them).
//!
//! Routing and extraction are warp's: a resource is a path filter (`warp::path!`), and each
//! route adds its method, its extractors and its handler. What every resource does besides is
//! here, once:
//! - a route's extractors are settled into a `Result` (see [`settle`]), so once a request's
//!   method and path match, that route answers it: a 401 or 422 is its answer, never a reason
//!   to try the next route;
//! - GET routes answer HEAD too (RFC 9110 9.3.2; hyper sends the head without the body);
//! - every resource answers OPTIONS with 204 and `Allow` (a CORS preflight is one: `cors.rs`
//!   adds its headers), and a method it does not serve with 405 and `Allow`;
//! - a path no resource matches gets 404;
//! - every answer carries its resource's template ([`RouteTemplate`]), the `route` label of
//!   the metrics and the log line (never the raw path, so clients cannot create label values).
//!
//! A route's method and path template come from its handler's `#[utoipa::path]`, which also
//! documents it: the OpenAPI document's paths are this table's.

use std::convert::Infallible;
use std::future::Future;

use utoipa::openapi::path::{HttpMethod, Operation};
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, Method, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::ApiError;
use super::extract;
use super::state::AppState;

/// The template of the route that answered, attached to its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTemplate(pub &'static str);

/// The label for paths that match no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// One route of the table, as the OpenAPI document and the tests see it.
pub struct Route {
    pub method: Method,
    /// The path template, e.g. `/api/tasks/{id}`.
    pub path: &'static str,
    /// Its entry in the OpenAPI document; the docs' own routes have none.
    pub docs: Option<Docs>,
}

/// A route's entry in the OpenAPI document, from its handler's `#[utoipa::path]`.
pub struct Docs {
    pub method: HttpMethod,
    pub operation: Operation,
}

/// Every route, and the warp filter that answers every request.
pub struct Table {
    routes: Vec<Route>,
    /// The resources declared so far, tried in order.
    resources: Option<BoxedFilter<(Response,)>>,
}

/// Builds the table from each module's `declare`, in order: its routes, and the filter that
/// answers every request (the resources, tried in order, then 404 for every other path).
pub fn build(declares: &[fn(&mut Table)]) -> (Table, BoxedFilter<(Response,)>) {
    let mut table = Table {
        routes: Vec::new(),
        resources: None,
    };
    for declare in declares {
        declare(&mut table);
    }
    let unmatched = warp::any().map(|| tagged(ApiError::NotFound.into_response(), UNMATCHED_ROUTE));
    let filter = table
        .resources
        .clone()
        .expect("the API declares resources")
        .or(unmatched)
        .unify()
        .boxed();
    (table, filter)
}

impl Table {
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Starts the resource at `template`, whose path filter extracts the template's one
    /// parameter (`()` for a template without any).
    pub fn resource<T, P>(&mut self, template: &'static str, path: P) -> Resource<'_, T>
    where
        T: Send + 'static,
        P: Filter<Extract = (T,), Error = Rejection> + Clone + Send + Sync + 'static,
    {
        Resource {
            table: self,
            template,
            path: path.boxed(),
            routes: None,
            methods: Vec::new(),
        }
    }
}

/// A path and the routes (one per method) it serves, until [`Resource::finish`] adds it to the
/// table.
pub struct Resource<'t, T> {
    table: &'t mut Table,
    template: &'static str,
    path: BoxedFilter<(T,)>,
    routes: Option<BoxedFilter<(Response,)>>,
    methods: Vec<Method>,
}

impl<T: Send + 'static> Resource<'_, T> {
    /// A documented route: `_docs` is its handler's `#[utoipa::path]` (the `__path_<handler>`
    /// value, passed only for its type), whose method it serves; `inputs` its extractors,
    /// `handler` what answers.
    pub fn route<D, X, H, F>(self, _docs: D, inputs: impl Input<X>, handler: H) -> Self
    where
        D: utoipa::Path,
        X: Send + 'static,
        H: Fn(AppState, T, X) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let [method] = &D::methods()[..] else {
            panic!("{} declares one method per handler", D::path());
        };
        assert_eq!(
            D::path(),
            self.template,
            "a handler documented under another path"
        );
        let mut operation = D::operation();
        operation.tags = Some(vec![tag_of(self.template).to_owned()]);
        let docs = Docs {
            method: method.clone(),
            operation,
        };
        self.add(http_method(method), Some(docs), inputs, handler)
    }

    /// A route the OpenAPI document does not list (the docs themselves).
    pub fn undocumented<X, H, F>(self, method: Method, inputs: impl Input<X>, handler: H) -> Self
    where
        X: Send + 'static,
        H: Fn(AppState, T, X) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(method, None, inputs, handler)
    }

    fn add<X, H, F>(
        mut self,
        method: Method,
        docs: Option<Docs>,
        inputs: impl Input<X>,
        handler: H,
    ) -> Self
    where
        X: Send + 'static,
        H: Fn(AppState, T, X) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let route = method_is(method.clone())
            .and(self.path.clone())
            .and(settle(
                extract::state().and(inputs).map(|state, x| (state, x)),
            ))
            .then(move |param: T, inputs: Result<(AppState, X), ApiError>| {
                let handler = handler.clone();
                async move {
                    match inputs {
                        Ok((state, x)) => handler(state, param, x).await,
                        Err(error) => Err(error),
                    }
                    .unwrap_or_else(ApiError::into_response)
                }
            })
            .boxed();
        self.routes = Some(match self.routes.take() {
            None => route,
            Some(routes) => routes.or(route).unify().boxed(),
        });
        self.table.routes.push(Route {
            method: method.clone(),
            path: self.template,
            docs,
        });
        self.methods.push(method);
        self
    }

    /// Adds the resource to the table: its routes, then OPTIONS and 405 for its path.
    pub fn finish(self) {
        let Resource {
            table,
            template,
            path,
            routes,
            methods,
        } = self;
        let allow = allow_header(&methods);
        let others = path.and(warp::method()).map(move |_: T, method: Method| {
            let (status, error) = if method == Method::OPTIONS {
                (StatusCode::NO_CONTENT, None)
            } else {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    Some(ApiError::MethodNotAllowed),
                )
            };
            let mut response = error.map_or_else(Response::default, ApiError::into_response);
            *response.status_mut() = status;
            response.headers_mut().insert(header::ALLOW, allow.clone());
            response
        });
        let resource = routes
            .expect("a resource serves at least one route")
            .or(others)
            .unify()
            .map(move |response| tagged(response, template));
        table.resources = Some(match table.resources.take() {
            None => resource.boxed(),
            Some(earlier) => earlier.or(resource).unify().boxed(),
        });
    }
}

/// A route's extractors: a warp filter extracting one value (a tuple for several) or
/// rejecting with an [`ApiError`] (see `extract.rs`).
pub trait Input<X>:
    Filter<Extract = (X,), Error = Rejection> + Clone + Send + Sync + 'static
{
}

impl<X, F> Input<X> for F where
    F: Filter<Extract = (X,), Error = Rejection> + Clone + Send + Sync + 'static
{
}

/// Turns a route's extractors into a filter that always succeeds with what they extracted or
/// why they could not, so a route whose method and path matched always answers.
fn settle<X: Send + 'static>(
    inputs: impl Filter<Extract = (X,), Error = Rejection> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (Result<X, ApiError>,), Error = Infallible> + Clone {
    inputs
        .map(Ok)
        .recover(|rejection: Rejection| async move {
            Ok::<_, Infallible>(Err(ApiError::from_rejection(&rejection)))
        })
        .unify()
}

/// Requests with `method`; GET routes take HEAD requests too. warp's own method filters, which
/// answer at once (no future to poll).
fn method_is(method: Method) -> BoxedFilter<()> {
    match method {
        Method::GET => warp::get().or(warp::head()).unify().boxed(),
        Method::POST => warp::post().boxed(),
        Method::PATCH => warp::patch().boxed(),
        Method::DELETE => warp::delete().boxed(),
        Method::PUT => warp::put().boxed(),
        other => panic!("no route serves {other}"),
    }
}

/// `Allow` for a resource serving `methods`: those, HEAD after GET, and OPTIONS.
fn allow_header(methods: &[Method]) -> HeaderValue {
    let mut names: Vec<&str> = Vec::new();
    for method in methods {
        names.push(method.as_str());
        if *method == Method::GET {
            names.push(Method::HEAD.as_str());
        }
    }
    names.push(Method::OPTIONS.as_str());
    HeaderValue::from_str(&names.join(", ")).expect("method names are header-safe")
}

fn tagged(mut response: Response, template: &'static str) -> Response {
    response.extensions_mut().insert(RouteTemplate(template));
    response
}

/// The OpenAPI group of a template (described in `openapi.rs`).
fn tag_of(template: &str) -> &'static str {
    if template.starts_with("/api/tasks") {
        "tasks"
    } else if template.starts_with("/api/health") {
        "health"
    } else {
        "operations"
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
