//! The reporter thread: merges the threads' per-second histograms, prints the live line on
//! stderr and appends each second to the `--hdr-out` interval log.

use crate::runner::{Live, Tick};
use crate::stats::{self, fmt_us};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2Serializer;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// An HdrHistogram interval log (the format of HdrHistogram's `HistogramLogWriter`, readable by
/// `HistogramLogProcessor` and the HdrHistogram plotters): values in microseconds, one untagged
/// interval per second for all requests (warm-up included, marked by a comment), then one
/// tagged interval per command covering the measured run.
pub struct HdrLog {
    out: BufWriter<File>,
    serializer: V2Serializer,
}

impl HdrLog {
    /// Creates the file and writes the header (start time, units).
    pub fn create(path: &std::path::Path, warmup: Duration) -> Result<HdrLog, String> {
        let f = File::create(path).map_err(|e| format!("--hdr-out {}: {e}", path.display()))?;
        let mut log = HdrLog {
            out: BufWriter::new(f),
            serializer: V2Serializer::new(),
        };
        let now = SystemTime::now();
        let mut b = IntervalLogWriterBuilder::new();
        b.add_comment("synap-loadtest latency log; values in microseconds")
            .add_comment(&format!(
                "intervals before {:.3} s are warm-up; Tag=<COMMAND> lines cover the measured run",
                warmup.as_secs_f64()
            ))
            .with_start_time(now)
            .with_base_time(now);
        b.begin_log_with(&mut log.out, &mut log.serializer)
            .map_err(|e| format!("--hdr-out: {e}"))?;
        Ok(log)
    }

    /// Appends one interval (`start` counted from the run's start).
    pub fn write(
        &mut self,
        h: &Histogram<u64>,
        start: Duration,
        len: Duration,
        tag: Option<&str>,
    ) -> Result<(), String> {
        // A builder with no comments writes no header: this only appends the interval line.
        let mut w = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.out, &mut self.serializer)
            .map_err(|e| format!("--hdr-out: {e}"))?;
        w.write_histogram(h, start, len, tag.and_then(Tag::new))
            .map_err(|e| format!("--hdr-out: {e}"))
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<(), String> {
        self.out.flush().map_err(|e| format!("--hdr-out: {e}"))
    }
}

/// Runs until every thread's `Sender` is gone: one live line per second (unless `quiet`),
/// and each merged second into `log`. Returns the log (for the final per-command intervals)
/// and the number of replies over the whole run, warm-up included (for CPU per request).
pub fn report(
    ticks: Receiver<Tick>,
    threads: usize,
    lives: Vec<Arc<Live>>,
    start: Instant,
    quiet: bool,
    mut log: Option<HdrLog>,
) -> Result<(Option<HdrLog>, u64), String> {
    let mut replies = 0;
    let mut pending: BTreeMap<u64, (usize, Histogram<u64>)> = BTreeMap::new();
    // The last second of each thread that has finished: later seconds do not wait for it.
    let mut finals: Vec<u64> = Vec::new();
    let emit = |second: u64, h: &Histogram<u64>, log: &mut Option<HdrLog>| {
        let from = Duration::from_secs(second);
        let len = start
            .elapsed()
            .saturating_sub(from)
            .min(Duration::from_secs(1));
        if h.is_empty() && len < Duration::from_secs(1) {
            return Ok(()); // the run ended just after a second's boundary
        }
        if !quiet {
            let errors: u64 = lives.iter().map(|l| l.errors.load(Ordering::Relaxed)).sum();
            let open: u64 = lives.iter().map(|l| l.open.load(Ordering::Relaxed)).sum();
            eprintln!(
                "[{:>5.1}s] {:>10.0} ops/s  p99 {:>9}  errors {errors}  connections {open}",
                (from + len).as_secs_f64(),
                h.len() as f64 / len.as_secs_f64(),
                fmt_us(h.value_at_quantile(0.99)),
            );
        }
        match log {
            Some(l) => l.write(h, from, len, None),
            _ => Ok(()),
        }
    };
    while let Ok(t) = ticks.recv() {
        let entry = pending
            .entry(t.second)
            .or_insert_with(|| (0, stats::new_histogram()));
        entry.0 += 1;
        replies += t.hist.len();
        let _ = entry.1.add(&t.hist);
        if t.last {
            finals.push(t.second);
        }
        // Emit, in order, every second all threads still running then have reported.
        while let Some(e) = pending.first_entry() {
            let expected = threads - finals.iter().filter(|&&f| f < *e.key()).count();
            if e.get().0 < expected {
                break;
            }
            let (second, (_, h)) = e.remove_entry();
            emit(second, &h, &mut log)?;
        }
    }
    for (second, (_, h)) in pending {
        emit(second, &h, &mut log)?;
    }
    Ok((log, replies))
}
