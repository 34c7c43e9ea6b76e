//! The peak of a process's resident memory while something runs: a thread that reads
//! `VmRSS` every 20 ms, apart from the generator's event loop, so a busy loop does not
//! delay the readings. (Large buffers go back to the system as soon as they are freed,
//! so a peak between two readings is missed: they are frequent, and cost the
//! generator's core little.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sockjs_bench::rss_bytes;

/// How often the sampler reads the server's RSS.
const EVERY: Duration = Duration::from_millis(20);

/// Samples a process's RSS until stopped and keeps the largest reading.
pub(crate) struct PeakRss {
    pid: String,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PeakRss {
    /// Starts sampling `pid` every 20 ms; the first reading is taken at once.
    pub(crate) fn start(pid: &str) -> PeakRss {
        PeakRss::every(pid, EVERY)
    }

    /// Starts sampling `pid` every `interval`; the first reading is taken at once.
    pub(crate) fn every(pid: &str, interval: Duration) -> PeakRss {
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop, pid) = (peak.clone(), stop.clone(), pid.to_owned());
            std::thread::Builder::new()
                .name("rss-sampler".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok(rss) = rss_bytes(&pid) {
                            peak.fetch_max(rss, Ordering::Relaxed);
                        }
                        std::thread::sleep(interval);
                    }
                })
                .ok()
        };
        PeakRss {
            pid: pid.to_owned(),
            peak,
            stop,
            thread,
        }
    }

    /// Stops sampling and returns the largest reading (one taken now included), in
    /// bytes.
    pub(crate) fn stop(mut self) -> u64 {
        self.halt();
        let last = rss_bytes(&self.pid).unwrap_or(0);
        self.peak.load(Ordering::Relaxed).max(last)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.halt();
    }
}
