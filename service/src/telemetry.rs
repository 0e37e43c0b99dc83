//! Logging: one JSON object per line on stdout, for the cluster's log collector.
//!
//! Lines are collected in memory and written by a background thread every few milliseconds, in
//! one write per batch. Writing each request's line directly cost one syscall per request, and a
//! channel-based writer (tracing-appender) still made one write and spun per line; at thousands
//! of requests a second that was a fifth of the service's CPU. A line is at most
//! [`FLUSH_INTERVAL`] late, and a handler only ever waits for the writer if the batch grows
//! past [`MAX_BATCH_BYTES`] because stdout is blocked.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// A batch this large is written at once instead of at the next interval.
const SOON_BATCH_BYTES: usize = 256 * 1024;
/// Beyond this, logging waits for stdout rather than buffer without bound.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Installs the subscriber. Keep the guard until exit: dropping it writes the last lines.
pub fn init(level: LevelFilter) -> LogFlushGuard {
    let batch = BatchedWriter::new(std::io::stdout());
    let guard = batch.start_flushing();
    let filter = EnvFilter::builder().parse_lossy(filter_directives(level));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(true)
        .with_env_filter(filter)
        .with_writer(batch)
        .init();
    guard
}

/// The level for everything, with tokio-postgres capped at info: at debug it logs every
/// statement with its parameters, which are user data (ids, titles, descriptions).
fn filter_directives(level: LevelFilter) -> String {
    let database_driver = level.min(LevelFilter::INFO);
    format!("{level},tokio_postgres={database_driver}")
}

/// Makes panics one JSON log line (with where it happened) like every other event, instead of
/// text on stderr. A panicking request is answered 500 by the server; the process goes on.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|at| format!("{}:{}", at.file(), at.line()))
            .unwrap_or_default();
        let message = panic_message(info.payload());
        tracing::error!(panic = message, location, "panicked");
    }));
}

/// An error and its causes, one after the other: hyper's and tokio-postgres's own messages name
/// only the kind of failure ("client error (Connect)", "db error"), and what happened is in
/// their sources.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The text a panic was raised with.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

struct Batch {
    lines: Vec<u8>,
    closed: bool,
}

struct LogPipe<W> {
    batch: Mutex<Batch>,
    wake: Condvar,
    output: Mutex<W>,
}

/// A `MakeWriter` whose writes land in a shared in-memory batch.
pub struct BatchedWriter<W: Write + Send + 'static> {
    shared: Arc<LogPipe<W>>,
}

impl<W: Write + Send + 'static> Clone for BatchedWriter<W> {
    fn clone(&self) -> Self {
        BatchedWriter {
            shared: self.shared.clone(),
        }
    }
}

impl<W: Write + Send + 'static> BatchedWriter<W> {
    pub fn new(output: W) -> BatchedWriter<W> {
        BatchedWriter {
            shared: Arc::new(LogPipe {
                batch: Mutex::new(Batch {
                    lines: Vec::with_capacity(64 * 1024),
                    closed: false,
                }),
                wake: Condvar::new(),
                output: Mutex::new(output),
            }),
        }
    }

    /// Starts the thread that writes batches out; the guard stops it and writes what is left.
    pub fn start_flushing(&self) -> LogFlushGuard {
        let shared = self.shared.clone();
        let flush_all = {
            let shared = self.shared.clone();
            Box::new(move || flush(&shared)) as Box<dyn Fn() + Send>
        };
        let close = {
            let shared = self.shared.clone();
            Box::new(move || {
                shared
                    .batch
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .closed = true;
                shared.wake.notify_one();
            }) as Box<dyn Fn() + Send>
        };
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                loop {
                    let closed = {
                        let batch = shared.batch.lock().unwrap_or_else(|e| e.into_inner());
                        let (batch, _) = shared
                            .wake
                            .wait_timeout_while(batch, FLUSH_INTERVAL, |b| {
                                !b.closed && b.lines.len() < SOON_BATCH_BYTES
                            })
                            .unwrap_or_else(|e| e.into_inner());
                        batch.closed
                    };
                    flush(&shared);
                    if closed {
                        return;
                    }
                }
            })
            .expect("the log writer thread starts");
        LogFlushGuard {
            thread: Some(thread),
            close,
            flush_all,
        }
    }
}

/// Takes the batch and writes it in one go.
fn flush<W: Write>(shared: &LogPipe<W>) {
    let mut output = shared.output.lock().unwrap_or_else(|e| e.into_inner());
    let lines = {
        let mut batch = shared.batch.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut batch.lines, Vec::with_capacity(64 * 1024))
    };
    if !lines.is_empty() {
        // Nowhere to report a failed log write; the next batch tries again.
        let _ = output.write_all(&lines);
        let _ = output.flush();
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for BatchedWriter<W> {
    type Writer = BatchedWriter<W>;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl<W: Write + Send + 'static> Write for BatchedWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let full = {
            let mut batch = self.shared.batch.lock().unwrap_or_else(|e| e.into_inner());
            batch.lines.extend_from_slice(bytes);
            batch.lines.len()
        };
        if full >= MAX_BATCH_BYTES {
            flush(&self.shared);
        } else if full >= SOON_BATCH_BYTES {
            self.shared.wake.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops the writer thread and writes the remaining lines when dropped.
pub struct LogFlushGuard {
    thread: Option<JoinHandle<()>>,
    close: Box<dyn Fn() + Send>,
    flush_all: Box<dyn Fn() + Send>,
}

impl Drop for LogFlushGuard {
    fn drop(&mut self) {
        (self.close)();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        (self.flush_all)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_database_driver_never_logs_below_info() {
        assert_eq!(
            filter_directives(LevelFilter::DEBUG),
            "debug,tokio_postgres=info"
        );
        assert_eq!(
            filter_directives(LevelFilter::TRACE),
            "trace,tokio_postgres=info"
        );
        assert_eq!(
            filter_directives(LevelFilter::WARN),
            "warn,tokio_postgres=warn"
        );
    }

    #[test]
    fn lines_reach_the_output_in_order_by_the_time_the_guard_is_dropped() {
        let sink = Sink::default();
        let writer = BatchedWriter::new(sink.clone());
        let guard = writer.start_flushing();
        for n in 0..1000 {
            writer
                .make_writer()
                .write_all(format!("line {n}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[0], "line 0");
        assert_eq!(lines[999], "line 999");
    }

    #[test]
    fn lines_are_written_within_the_flush_interval() {
        let sink = Sink::default();
        let writer = BatchedWriter::new(sink.clone());
        let _guard = writer.start_flushing();
        writer.make_writer().write_all(b"soon\n").unwrap();
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 20;
        while sink.0.lock().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "not written within {:?}",
                FLUSH_INTERVAL * 20
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
