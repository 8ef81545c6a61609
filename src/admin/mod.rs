//! `synap-admin` logic that talks to a running server. The binary (`src/bin/synap-admin.rs`)
//! only parses the command line and calls in here.
//!
//! # Layout
//! - [`client`]: a small blocking RESP client with pipelining (replies decoded with
//!   [`crate::protocol::read`]), `AUTH` first when an API key is given.
//! - [`format`]: the export file format (`docs/EXPORT-FORMAT.md`): header, key records, end
//!   line; binary-safe fields.
//! - [`export`]: `synap-admin export`: SCAN the keyspace and stream every key to a file.
//! - [`import`]: `synap-admin import`: stream a file back into a server in pipelined batches.
//!
//! Neither direction holds the dataset in memory: export writes each key as SCAN yields it and
//! reads large aggregates in windows; import reads one line (one key) at a time.

pub mod check_aof;
pub mod client;
pub mod export;
pub mod format;
pub mod import;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the server is and how to authenticate.
#[derive(Clone, Debug)]
pub struct Connect {
    /// Host name or address.
    pub host: String,
    /// RESP port.
    pub port: u16,
    /// Sent as `AUTH <key>` before any other command when given.
    pub api_key: Option<String>,
}

/// Runs a subcommand's body: prints its error (if any) as `synap-admin: …` and maps it to the
/// exit code.
pub fn exit_code(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synap-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Milliseconds since the Unix epoch by the local clock.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A progress line on stderr, redrawn at most four times a second, only when stderr is a
/// terminal (so logs and pipes get only the final summary).
pub struct Progress {
    label: &'static str,
    enabled: bool,
    drawn: bool,
    start: Instant,
    last: Instant,
}

impl Progress {
    /// A progress line starting now.
    pub fn new(label: &'static str) -> Progress {
        let now = Instant::now();
        Progress {
            label,
            enabled: std::io::stderr().is_terminal(),
            drawn: false,
            start: now,
            last: now,
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Keys per second so far.
    pub fn rate(&self, keys: u64) -> f64 {
        keys as f64 / self.start.elapsed().as_secs_f64().max(1e-6)
    }

    /// Redraws the line if due: `done` keys, out of `total` (or `pct` percent) when known.
    pub fn tick(&mut self, done: u64, total: Option<u64>, pct: Option<f64>) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last = Instant::now();
        let pct = pct.or_else(|| total.map(|t| 100.0 * done as f64 / t.max(1) as f64));
        let mut line = format!("\r{}: {done}", self.label);
        if let Some(t) = total {
            line.push_str(&format!("/{t}"));
        }
        line.push_str(" keys");
        if let Some(p) = pct {
            line.push_str(&format!(" ({:.1}%)", p.min(100.0)));
        }
        line.push_str(&format!(", {:.0} keys/s\x1b[K", self.rate(done)));
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
        self.drawn = true;
    }

    /// Clears the line (before the summary is printed).
    pub fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    /// Whatever way the work ends, the next message starts on a clean line.
    fn drop(&mut self) {
        self.clear();
    }
}
