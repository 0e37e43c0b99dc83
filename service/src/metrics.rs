//! Prometheus metrics, in a registry of the app's own (so several apps in one test process don't
//! share counters), rendered in the text format at `/metrics`.

use std::time::Duration;

use deadpool_postgres::Status;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use warp::http::{Method, StatusCode};

/// Latency buckets for a service whose requests take about a millisecond: fine below 10 ms,
/// coarse up to the 5 s statement timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    pool: IntGaugeVec,
    reads: IntGaugeVec,
    db_up: IntGauge,
    connections_open: IntGauge,
    connections_refused: IntCounter,
    jwks_fetches: IntCounterVec,
    jwks_keys: IntGauge,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("valid metric")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

/// The `method` label: the methods of RFC 9110 (and PATCH) by name, anything else as `other`.
/// hyper accepts any token as a method, and a label taken verbatim would let any client create
/// series without end.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

impl Metrics {
    pub fn new(version: &str) -> Metrics {
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request received to response ready, by route template.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid metric");
        let metrics = Metrics {
            registry: Registry::new(),
            requests: counter_vec(
                "http_requests_total",
                "HTTP requests answered, by route template and status.",
                &["method", "route", "status"],
            ),
            latency,
            in_flight: gauge("http_requests_in_flight", "HTTP requests being served."),
            pool: gauge_vec(
                "db_pool_connections",
                "Database pool: max (configured size), open, in_use, and waiting (requests queued for a connection).",
                &["state"],
            ),
            reads: gauge_vec(
                "db_shared_reads",
                "Reads on the shared (pipelined) database connections: max (DB_MAX_READS_IN_FLIGHT) and in_flight.",
                &["state"],
            ),
            db_up: gauge(
                "db_up",
                "1 if the last database health check succeeded, 0 if it failed.",
            ),
            connections_open: gauge(
                "http_connections_open",
                "Client connections open (HTTP_MAX_CONNECTIONS caps them).",
            ),
            connections_refused: IntCounter::new(
                "http_connections_refused_total",
                "Client connections answered 503 and closed because HTTP_MAX_CONNECTIONS were open.",
            )
            .expect("valid metric"),
            jwks_fetches: counter_vec(
                "jwks_fetches_total",
                "Fetches of Better Auth's JWKS (BETTER_AUTH_URL), by outcome: success or error.",
                &["outcome"],
            ),
            jwks_keys: gauge(
                "jwks_keys",
                "Public keys held from Better Auth's JWKS (0 without BETTER_AUTH_URL).",
            ),
        };
        metrics.register(version);
        metrics
    }

    /// Registers every metric, the build's version and the process's own.
    fn register(&self, version: &str) {
        let build_info = gauge_vec(
            "backend_build_info",
            "Always 1; labels describe the running build.",
            &["version"],
        );
        build_info.with_label_values(&[version]).set(1);
        for collector in [
            Box::new(self.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(self.latency.clone()),
            Box::new(self.in_flight.clone()),
            Box::new(self.pool.clone()),
            Box::new(self.reads.clone()),
            Box::new(self.db_up.clone()),
            Box::new(self.connections_open.clone()),
            Box::new(self.connections_refused.clone()),
            Box::new(self.jwks_fetches.clone()),
            Box::new(self.jwks_keys.clone()),
            Box::new(build_info),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            self.registry
                .register(collector)
                .expect("metric names are unique");
        }
    }

    pub fn observe_request(
        &self,
        method: &Method,
        route: &str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        self.requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a request as in flight until the returned guard is dropped, which also happens
    /// when the client goes away mid-request.
    pub fn track_in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Counts a connection as open until the returned guard is dropped.
    pub fn connection_opened(&self) -> ConnectionOpen {
        self.connections_open.inc();
        ConnectionOpen(self.connections_open.clone())
    }

    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    pub fn set_db_up(&self, up: bool) {
        self.db_up.set(i64::from(up));
    }

    pub fn observe_jwks_fetch(&self, succeeded: bool) {
        let outcome = if succeeded { "success" } else { "error" };
        self.jwks_fetches.with_label_values(&[outcome]).inc();
    }

    pub fn set_jwks_keys(&self, keys: usize) {
        self.jwks_keys.set(i64::try_from(keys).unwrap_or(i64::MAX));
    }

    /// The text exposition, with the database gauges read at scrape time: the pool's status,
    /// and the reads in flight on the shared connections with their limit.
    pub fn render(&self, pool: Status, reads: (usize, usize)) -> String {
        let (reads_in_flight, reads_max) = reads;
        for (state, value) in [("max", reads_max), ("in_flight", reads_in_flight)] {
            self.reads
                .with_label_values(&[state])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
        let in_use = pool.size.saturating_sub(pool.available);
        for (state, value) in [
            ("max", pool.max_size),
            ("open", pool.size),
            ("in_use", in_use),
            ("waiting", pool.waiting),
        ] {
            self.pool
                .with_label_values(&[state])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
        self.text()
    }

    /// The text exposition of every metric as it stands.
    pub fn text(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding of gathered metrics cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

pub struct InFlight(IntGauge);

pub struct ConnectionOpen(IntGauge);

impl Drop for ConnectionOpen {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_metrics_use_the_route_template() {
        let metrics = Metrics::new("1.2.3");
        metrics.observe_request(
            &Method::GET,
            "/api/tasks/{id}",
            StatusCode::OK,
            Duration::from_millis(2),
        );
        let text = metrics.render(
            Status {
                max_size: 10,
                size: 3,
                available: 1,
                waiting: 0,
            },
            (3, 256),
        );
        assert!(text.contains(
            r#"http_requests_total{method="GET",route="/api/tasks/{id}",status="200"} 1"#
        ));
        assert!(text.contains(r#"db_pool_connections{state="in_use"} 2"#));
        assert!(text.contains(r#"db_shared_reads{state="in_flight"} 3"#));
        assert!(text.contains(r#"backend_build_info{version="1.2.3"} 1"#));
    }

    #[test]
    fn invented_methods_share_one_label() {
        for name in ["GET", "PATCH", "OPTIONS"] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(method_label(&method), name);
        }
        for name in ["BREW", "get", "X-INVENTED-1"] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{name}");
        }
    }

    #[test]
    fn in_flight_guard_decrements_on_drop() {
        let metrics = Metrics::new("test");
        let guard = metrics.track_in_flight();
        assert_eq!(metrics.in_flight.get(), 1);
        drop(guard);
        assert_eq!(metrics.in_flight.get(), 0);
    }
}
