//! CORS, so the frontend's browser code may call the API from its own origin (e.g. the Next.js
//! dev server on `http://localhost:3000` calling `http://localhost:30081`).
//!
//! Applied once, around every route ([`super::api`]): a request whose `Origin` is one of
//! CORS_ALLOWED_ORIGINS gets that origin back in `Access-Control-Allow-Origin` on every answer,
//! errors included, and the headers a frontend reads are exposed. A preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) is answered 204 with the route's methods and the request
//! headers the API reads, and never needs a token. Any other origin gets no CORS headers at all,
//! so the browser keeps its response from the page. Credentials (cookies) are never allowed:
//! the API takes bearer tokens.

use warp::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ALLOW,
    ORIGIN, VARY,
};
use warp::http::{HeaderMap, HeaderValue, Method};
use warp::reply::Response;

/// The request headers the API reads besides the CORS-safelisted ones.
const ALLOWED_HEADERS: HeaderValue =
    HeaderValue::from_static("authorization, content-type, x-request-id");
/// The response headers a frontend may read: the request id (to report errors), the serving
/// pod, when to retry (503, 429), where a created task is, and why a token was refused.
const EXPOSED_HEADERS: HeaderValue =
    HeaderValue::from_static("x-request-id, x-served-by, retry-after, location, www-authenticate");
/// Two hours, the most Chromium honours (Firefox allows a day): the preflight cache is per URL,
/// and every task id is a new URL.
const MAX_AGE: HeaderValue = HeaderValue::from_static("7200");
const VARY_ORIGIN: HeaderValue = HeaderValue::from_static("origin");
const VARY_PREFLIGHT: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<HeaderValue>,
}

impl CorsPolicy {
    /// `origins` are exact serialized origins (the configuration checks their form).
    pub fn new(origins: Vec<String>) -> CorsPolicy {
        CorsPolicy {
            origins: origins
                .into_iter()
                .filter_map(|origin| HeaderValue::from_str(&origin).ok())
                .collect(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// What CORS makes of a request, decided before it is answered.
    pub fn classify(&self, method: &Method, headers: &HeaderMap) -> Cors {
        if !self.is_enabled() {
            return Cors::Off;
        }
        let allowed = headers
            .get(ORIGIN)
            .filter(|origin| self.origins.contains(origin))
            .cloned();
        match allowed {
            Some(origin)
                if method == Method::OPTIONS
                    && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD) =>
            {
                Cors::Preflight(origin)
            }
            Some(origin) => Cors::Allowed(origin),
            None => Cors::NotAllowed,
        }
    }
}

/// A request, as CORS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No origins are configured: responses are left as they are.
    Off,
    /// No `Origin`, or one not in the list: no CORS headers (only `Vary: Origin`, so a shared
    /// cache cannot hand this answer to an allowed origin, or the reverse).
    NotAllowed,
    /// An actual request from an allowed origin.
    Allowed(HeaderValue),
    /// An `OPTIONS` preflight from an allowed origin.
    Preflight(HeaderValue),
}

impl Cors {
    /// Adds the CORS headers to an answer. A preflight's allowed methods are those its path
    /// serves, from the answer's `Allow` (a path that is no route's has none, and its
    /// preflight then fails in the browser).
    pub fn apply(self, response: &mut Response) {
        let headers = response.headers_mut();
        match self {
            Cors::Off => {}
            Cors::NotAllowed => {
                headers.append(VARY, VARY_ORIGIN);
            }
            Cors::Allowed(origin) => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED_HEADERS);
                headers.append(VARY, VARY_ORIGIN);
            }
            Cors::Preflight(origin) => {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                if let Some(methods) = preflight_methods(headers.get(ALLOW)) {
                    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
                }
                headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS);
                headers.insert(ACCESS_CONTROL_MAX_AGE, MAX_AGE);
                headers.append(VARY, VARY_PREFLIGHT);
            }
        }
    }
}

/// The methods a preflight may ask for: those of `Allow`, but OPTIONS (the preflight's own).
fn preflight_methods(allow: Option<&HeaderValue>) -> Option<HeaderValue> {
    let methods: Vec<&str> = allow?
        .to_str()
        .ok()?
        .split(',')
        .map(str::trim)
        .filter(|method| *method != "OPTIONS")
        .collect();
    HeaderValue::from_str(&methods.join(", ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRONTEND: &str = "http://localhost:3000";

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    warp::http::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    fn policy() -> CorsPolicy {
        CorsPolicy::new(vec![FRONTEND.into(), "https://todo.example.com".into()])
    }

    #[test]
    fn requests_are_classified_by_origin_and_preflight() {
        let origin = HeaderValue::from_static(FRONTEND);
        assert_eq!(
            policy().classify(&Method::GET, &request(&[("origin", FRONTEND)])),
            Cors::Allowed(origin.clone())
        );
        let preflight = request(&[
            ("origin", FRONTEND),
            ("access-control-request-method", "PATCH"),
        ]);
        assert_eq!(
            policy().classify(&Method::OPTIONS, &preflight),
            Cors::Preflight(origin.clone())
        );
        assert_eq!(
            policy().classify(&Method::GET, &preflight),
            Cors::Allowed(origin),
            "only OPTIONS is a preflight"
        );
        for headers in [
            request(&[("origin", "http://evil.example")]),
            request(&[("origin", "http://localhost:3000/")]),
            request(&[("origin", "null")]),
            request(&[]),
        ] {
            assert_eq!(
                policy().classify(&Method::GET, &headers),
                Cors::NotAllowed,
                "{headers:?}"
            );
        }
        assert_eq!(
            CorsPolicy::default().classify(&Method::GET, &request(&[("origin", FRONTEND)])),
            Cors::Off
        );
    }

    #[test]
    fn an_allowed_origin_is_echoed_never_a_wildcard() {
        let mut response = Response::default();
        Cors::Allowed(HeaderValue::from_static(FRONTEND)).apply(&mut response);
        let headers = response.headers();
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], FRONTEND);
        assert_eq!(headers[VARY], "origin");
        assert!(
            headers[ACCESS_CONTROL_EXPOSE_HEADERS]
                .to_str()
                .unwrap()
                .contains("x-request-id")
        );
        assert!(!headers.contains_key("access-control-allow-credentials"));
    }

    #[test]
    fn a_preflight_names_the_routes_methods_and_the_headers_the_api_reads() {
        let mut response = Response::default();
        response.headers_mut().insert(
            ALLOW,
            HeaderValue::from_static("GET, HEAD, PATCH, DELETE, OPTIONS"),
        );
        Cors::Preflight(HeaderValue::from_static(FRONTEND)).apply(&mut response);
        let headers = response.headers();
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_METHODS],
            "GET, HEAD, PATCH, DELETE"
        );
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization, content-type, x-request-id"
        );
        assert_eq!(headers[ACCESS_CONTROL_MAX_AGE], "7200");
    }

    #[test]
    fn another_origin_gets_no_cors_headers() {
        let mut response = Response::default();
        Cors::NotAllowed.apply(&mut response);
        assert!(
            response
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-")),
            "{:?}",
            response.headers()
        );
    }
}
