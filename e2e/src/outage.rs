//! The judgement of the PostgreSQL outage check: what the deployment contract implies when the
//! database goes away under steady writes, and which failed requests that excuses.
//!
//! The contract: "If database becomes unavailable, health check fails; pod marked as not ready,
//! traffic stops; pod attempts reconnection automatically", with readiness and liveness both on
//! `/api/health` (period 10 s, 3 failures, 5 s timeout). So within about 3 x 10 s of the database
//! going the pods turn unready; liveness, failing as long, may restart their containers (the
//! contract's "Kubernetes restarts the container"), which is allowed either way; once the
//! database is back every pod must be ready and serving again within a bound; no write the API
//! acknowledged may be lost. While it lasts, only the failures an outage explains are excused,
//! and only inside it: the service's own 503, a connection refused (no ready endpoint, or a
//! container restarting) or dropped (a container killed mid-request). A request that got no
//! answer at all (the service promises never to hang), any other status, a failure before the
//! outage or after the recovery, and a write acknowledged while the database was gone all fail
//! the check.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::Probe;

/// What one request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer; a 201 carries the created task's id.
    Status { code: u16, created: Option<String> },
    /// No connection: refused, or the connection attempt timed out.
    ConnectFailed,
    /// Connected and sent, then the connection closed or reset before an answer.
    Dropped,
    /// Sent, and no answer within the client's timeout.
    NoAnswer,
    /// Anything else (a body that is not a task, a TLS or protocol error, ...).
    Other(String),
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Status { code, .. } => write!(f, "HTTP {code}"),
            Answer::ConnectFailed => write!(f, "connection refused"),
            Answer::Dropped => write!(f, "connection dropped"),
            Answer::NoAnswer => write!(f, "no answer"),
            Answer::Other(what) => write!(f, "{what}"),
        }
    }
}

/// One request of the check's traffic: when it was sent (since the traffic started), what it
/// got, and the pod that answered (`X-Served-By`), if one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub sent_at: Duration,
    pub answer: Answer,
    pub served_by: Option<String>,
}

/// The outage's moments, since the traffic started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// PostgreSQL asked to scale to 0: failures are excused from here.
    pub start: Duration,
    /// PostgreSQL's pods gone.
    pub database_gone: Duration,
    /// PostgreSQL asked to scale back: until here no write can have been acknowledged.
    pub database_restored: Duration,
    /// Every backend pod ready again, plus the time kube-proxy takes to follow the endpoints:
    /// failures are excused until here.
    pub end: Duration,
}

/// What the traffic saw, judged.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Ids of the tasks the API acknowledged (201), which must all still exist.
    pub acknowledged: Vec<String>,
    /// Excused failures inside the outage, by kind.
    pub excused: BTreeMap<String, usize>,
    /// Everything that fails the check, one line each.
    pub unexpected: Vec<String>,
}

/// Whether a failure is one a database outage explains (see the module's documentation).
pub fn is_excused(answer: &Answer) -> bool {
    matches!(
        answer,
        Answer::Status { code: 503, .. } | Answer::ConnectFailed | Answer::Dropped
    )
}

/// Judges every request against the outage's window.
pub fn judge(requests: &[Request], window: Window) -> Verdict {
    let mut verdict = Verdict::default();
    for request in requests {
        let at = request.sent_at;
        let inside = at >= window.start && at < window.end;
        match &request.answer {
            Answer::Status {
                code: 201,
                created: Some(id),
            } => {
                if at >= window.database_gone && at < window.database_restored {
                    verdict.unexpected.push(format!(
                        "a write sent at {:.1}s was acknowledged while PostgreSQL was gone",
                        at.as_secs_f64()
                    ));
                }
                verdict.acknowledged.push(id.clone());
            }
            answer if inside && is_excused(answer) => {
                *verdict.excused.entry(answer.to_string()).or_default() += 1;
            }
            answer => {
                let when = if at < window.start {
                    "before the outage"
                } else if inside {
                    "during the outage"
                } else {
                    "after the recovery"
                };
                verdict.unexpected.push(format!(
                    "{answer} {when} (sent at {:.1}s)",
                    at.as_secs_f64()
                ));
            }
        }
    }
    verdict
}

/// How long the pods may take to turn unready once the database is gone, by the readiness
/// probe: `failureThreshold` probes `periodSeconds` apart, the last one up to `timeoutSeconds`
/// long, plus `slack` for the endpoints to follow.
pub fn unready_bound(readiness: &Probe, slack: Duration) -> Duration {
    let period = readiness.period_seconds.unwrap_or(10).max(1) as u64;
    let failures = readiness.failure_threshold.unwrap_or(3).max(1) as u64;
    let timeout = readiness.timeout_seconds.unwrap_or(1).max(1) as u64;
    Duration::from_secs(period * failures + timeout) + slack
}

/// Container restarts per pod between two observations (pod name to restart count), and the
/// pods of `before` that are gone from `after`: an outage restarts containers, it must not
/// replace pods.
pub fn restarts(
    before: &BTreeMap<String, i32>,
    after: &BTreeMap<String, i32>,
) -> (BTreeMap<String, i32>, Vec<String>) {
    let mut restarted = BTreeMap::new();
    let mut replaced = Vec::new();
    for (pod, count) in before {
        match after.get(pod) {
            Some(now) => {
                restarted.insert(pod.clone(), now - count);
            }
            None => replaced.push(pod.clone()),
        }
    }
    (restarted, replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64, answer: Answer) -> Request {
        Request {
            sent_at: Duration::from_secs(seconds),
            answer,
            served_by: None,
        }
    }

    fn created(id: &str) -> Answer {
        Answer::Status {
            code: 201,
            created: Some(id.to_owned()),
        }
    }

    fn status(code: u16) -> Answer {
        Answer::Status {
            code,
            created: None,
        }
    }

    /// Scaled down at 10 s, gone at 20 s, scaled back at 60 s, recovered (plus grace) at 120 s.
    const WINDOW: Window = Window {
        start: Duration::from_secs(10),
        database_gone: Duration::from_secs(20),
        database_restored: Duration::from_secs(60),
        end: Duration::from_secs(120),
    };

    #[test]
    fn an_outage_with_only_the_failures_it_explains_passes() {
        let requests = [
            at(1, created("a")),
            at(12, created("b")),
            at(25, status(503)),
            at(40, Answer::ConnectFailed),
            at(45, Answer::Dropped),
            at(70, Answer::ConnectFailed),
            at(90, created("c")),
            at(125, created("d")),
        ];
        let verdict = judge(&requests, WINDOW);
        assert!(verdict.unexpected.is_empty(), "{:?}", verdict.unexpected);
        assert_eq!(verdict.acknowledged, ["a", "b", "c", "d"]);
        assert_eq!(
            verdict.excused,
            BTreeMap::from([
                ("HTTP 503".to_owned(), 1),
                ("connection dropped".to_owned(), 1),
                ("connection refused".to_owned(), 2),
            ])
        );
    }

    #[test]
    fn failures_outside_the_outage_are_never_excused() {
        let verdict = judge(
            &[at(5, status(503)), at(121, Answer::ConnectFailed)],
            WINDOW,
        );
        assert_eq!(
            verdict.unexpected,
            [
                "HTTP 503 before the outage (sent at 5.0s)",
                "connection refused after the recovery (sent at 121.0s)",
            ]
        );
    }

    #[test]
    fn failures_an_outage_does_not_explain_fail_even_inside_it() {
        let verdict = judge(
            &[
                at(30, status(500)),
                at(31, status(401)),
                at(32, Answer::NoAnswer),
                at(33, Answer::Other("201 without an id".into())),
                at(34, status(200)),
            ],
            WINDOW,
        );
        assert_eq!(verdict.unexpected.len(), 5, "{:?}", verdict.unexpected);
        assert!(verdict.unexpected[0].starts_with("HTTP 500 during the outage"));
        assert!(verdict.unexpected[2].starts_with("no answer during the outage"));
        assert!(verdict.excused.is_empty());
    }

    #[test]
    fn a_write_acknowledged_while_the_database_was_gone_fails() {
        let verdict = judge(&[at(15, created("x")), at(30, created("y"))], WINDOW);
        assert_eq!(
            verdict.unexpected,
            ["a write sent at 30.0s was acknowledged while PostgreSQL was gone"]
        );
        // Before the database went, or once it was asked back, a write may succeed.
        let verdict = judge(&[at(19, created("x")), at(60, created("y"))], WINDOW);
        assert!(verdict.unexpected.is_empty(), "{:?}", verdict.unexpected);
    }

    #[test]
    fn the_unready_bound_follows_the_readiness_probe() {
        // The contract's probe: every 10 s, 3 failures, 5 s timeout.
        let contract = Probe {
            period_seconds: Some(10),
            failure_threshold: Some(3),
            timeout_seconds: Some(5),
            ..Probe::default()
        };
        assert_eq!(
            unready_bound(&contract, Duration::from_secs(15)),
            Duration::from_secs(50)
        );
        let defaults = Probe::default();
        assert_eq!(
            unready_bound(&defaults, Duration::ZERO),
            Duration::from_secs(31),
            "Kubernetes' defaults: 10 s, 3 failures, 1 s"
        );
    }

    #[test]
    fn restarts_are_counted_per_pod_and_replaced_pods_named() {
        let before = BTreeMap::from([("a".to_owned(), 0), ("b".to_owned(), 2)]);
        let after = BTreeMap::from([("a".to_owned(), 1), ("c".to_owned(), 0)]);
        let (restarted, replaced) = restarts(&before, &after);
        assert_eq!(restarted, BTreeMap::from([("a".to_owned(), 1)]));
        assert_eq!(replaced, ["b"]);
    }
}
