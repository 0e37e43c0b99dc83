//! Returning memory after bursts of connections: glibc's malloc keeps what closed connections
//! freed in its arenas, so RSS would otherwise stay at the peak of the last flood.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

/// How often the open-connection count is compared with its peak, and by how many
/// connections it must have fallen to make returning memory worth it.
const MEMORY_RELEASE_INTERVAL: Duration = Duration::from_secs(2);
const MEMORY_RELEASE_AFTER_CLOSED: usize = 64;

/// glibc's malloc keeps what closed connections freed (their buffers are below its mmap
/// threshold) in its arenas for the life of the process, so RSS would stay at the peak of the
/// last flood of connections. After a burst has closed, `malloc_trim` gives it back.
pub async fn release_memory_after_bursts(
    connections: Arc<Semaphore>,
    max_connections: usize,
    peak_open: Arc<AtomicUsize>,
) {
    let mut interval = tokio::time::interval(MEMORY_RELEASE_INTERVAL);
    let mut release = MemoryRelease::default();
    loop {
        interval.tick().await;
        let open = max_connections - connections.available_permits();
        let peak = peak_open.swap(open, Ordering::Relaxed);
        if release.after_tick(peak, open) {
            // Off the runtime's workers: the trim walks the arenas under their locks for as long
            // as it takes, and a worker stalled there would stall its requests.
            let _ = tokio::task::spawn_blocking(return_freed_memory).await;
        }
    }
}

/// When to return memory: once the open connections have fallen well below their peak, and
/// then at every tick until the count stops falling, so that the tail of a burst, which closes
/// over several ticks, is returned too and not only its first part.
#[derive(Default)]
struct MemoryRelease {
    releasing: bool,
    last_open: usize,
}

impl MemoryRelease {
    /// `peak`: the most connections open since the last tick; `open`: those open now.
    fn after_tick(&mut self, peak: usize, open: usize) -> bool {
        if peak >= open + MEMORY_RELEASE_AFTER_CLOSED {
            self.releasing = true;
        }
        let release = self.releasing;
        if release {
            self.releasing = open < self.last_open;
        }
        self.last_open = open;
        release
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory() {
    // SAFETY: malloc_trim only reorganises the allocator's free lists under its own locks; it
    // may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl's) return freed memory themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory() {}

#[cfg(test)]
mod tests {
    use super::MemoryRelease;

    #[test]
    fn memory_is_returned_until_the_tail_of_a_burst_has_closed() {
        let mut release = MemoryRelease::default();
        let ticks = |release: &mut MemoryRelease, counts: &[(usize, usize)]| {
            counts
                .iter()
                .map(|&(peak, open)| release.after_tick(peak, open))
                .collect::<Vec<bool>>()
        };
        // (peak since the last tick, open now): 400 open, closing over three ticks, then quiet.
        assert_eq!(
            ticks(
                &mut release,
                &[(400, 400), (400, 200), (200, 30), (30, 0), (0, 0), (0, 0)]
            ),
            [false, true, true, true, true, false]
        );
        // A few connections coming and going return nothing.
        assert_eq!(
            ticks(&mut release, &[(10, 5), (20, 0), (63, 0)]),
            [false, false, false]
        );
    }
}
