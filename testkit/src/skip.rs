//! Tests that need something a machine may lack (Docker and the built images, helm, Prometheus,
//! chromium, the backend binary): without it they are skipped by name, loudly, unless
//! E2E_REQUIRE=1 (as `make test` sets) makes its absence a failure.

use std::io::Write;

/// Whether a missing dependency fails the test instead of skipping it: E2E_REQUIRE=1.
pub fn required() -> bool {
    std::env::var("E2E_REQUIRE").as_deref() == Ok("1")
}

/// What `test` needs is missing: says `SKIPPED <test>: <why>` on the terminal, or, with
/// E2E_REQUIRE=1, fails the test with `why`. `why` says what is missing and how to get it.
pub fn missing(test: &str, why: &str) {
    if required() {
        panic!("{test}: {why} (E2E_REQUIRE=1 makes this a failure)");
    }
    skipped(test, why);
}

/// Says `SKIPPED <test>: <why>` on the terminal, whatever E2E_REQUIRE says (for a test that
/// cannot run in this setting at all, such as a Helm 4 feature under Helm 3).
pub fn skipped(test: &str, why: &str) {
    // Written to the stderr handle itself: libtest captures `eprintln!` of a passing test and
    // shows it only with --nocapture, so a skip said that way is never seen under `cargo test`.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The running test's name as libtest reports it (`module::test_name`): libtest runs each test
/// on a thread named after it.
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<a test on an unnamed thread>")
        .to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_current_test_is_named_by_its_thread() {
        assert_eq!(
            super::current_test(),
            "skip::tests::the_current_test_is_named_by_its_thread"
        );
    }
}
