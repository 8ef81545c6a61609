//! Helpers shared by the tests in `tests/` (this crate has no other purpose).

use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::Duration;

/// The tests pin executors to CPUs 0 and 1; run them one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on its own thread and fails if it does not finish within `limit`: a lost wake-up
/// shows up as executors parked forever, which this turns into a test failure.
pub fn with_watchdog<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            worker.join().expect("worker thread");
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // `f` panicked: surface its panic.
            match worker.join() {
                Err(e) => std::panic::resume_unwind(e),
                Ok(()) => unreachable!(),
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("HANG: {what} did not finish within {limit:?} (lost wake-up?)")
        }
    }
}

/// CPU `i` modulo the number of CPUs available.
pub fn cpu(i: usize) -> usize {
    i % std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Pins the calling (plain) thread to `cpu`.
pub fn pin_current_thread(cpu: usize) {
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Voluntary context switches of the calling thread so far: each time an executor parks
/// (sleeps in io_uring_enter) this goes up by one.
pub fn voluntary_switches() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads a positive integer from the environment, with a default.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A tiny xorshift generator for timing jitter.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Busy-waits for about `iters` spin-loop hints.
pub fn spin(iters: u64) {
    for _ in 0..iters {
        std::hint::spin_loop();
    }
}
