//! Waiting for a condition: poll it until it holds or a deadline passes, and say what was
//! being waited for when it doesn't.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every `interval` until it returns `Some`, or fails after `timeout` with an
/// error naming `what`.
pub async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_value() {
        let mut calls = 0;
        let value = until(
            "third call",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                calls += 1;
                let done = calls == 3;
                async move { done.then_some(calls) }
            },
        )
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn timeout_names_what_was_awaited() {
        let error = until(
            "the impossible",
            Duration::from_millis(20),
            Duration::from_millis(5),
            || async { None::<()> },
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("the impossible"), "{error}");
    }
}
