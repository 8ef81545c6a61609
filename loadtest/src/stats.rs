//! Counters and HDR latency histograms (per thread, merged at the end), the final table and
//! the JSON result.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Latencies are recorded in microseconds, up to 60 s, 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("valid histogram bounds"))
    })
}

/// A latency in µs with its unit: `870µs`, `12.3ms`, `1.52s`.
pub fn fmt_us(us: u64) -> String {
    match us {
        0..=9_999 => format!("{us}µs"),
        10_000..=999_999 => format!("{:.2}ms", us as f64 / 1000.0),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

/// One thread's (or the merged) results.
#[derive(Clone, Default)]
pub struct Stats {
    /// Per command name: latency histogram.
    pub per_op: BTreeMap<String, Histogram<u64>>,
    /// GETs that found a value.
    pub hits: u64,
    /// GETs that found nothing.
    pub misses: u64,
    /// Errors by type (first word of an error reply, or CONNECT/IO/VERIFY/PROTOCOL).
    pub errors: BTreeMap<String, u64>,
    /// The first few failures described (VERIFY mismatches, connection errors), for the report.
    pub verify_samples: Vec<String>,
}

impl Stats {
    /// Adds a histogram of completed requests for `op`.
    pub fn add_histogram(&mut self, op: &str, h: &Histogram<u64>) {
        if !h.is_empty() {
            let _ = self
                .per_op
                .entry(op.to_string())
                .or_insert_with(new_histogram)
                .add(h);
        }
    }

    /// Counts an error of `kind` (allocates only the first time a kind is seen).
    pub fn error(&mut self, kind: &str) {
        match self.errors.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(kind.to_string(), 1);
            }
        }
    }

    /// Adds another thread's results.
    pub fn merge(&mut self, o: &Stats) {
        for (k, h) in &o.per_op {
            let _ = self
                .per_op
                .entry(k.clone())
                .or_insert_with(new_histogram)
                .add(h);
        }
        self.hits += o.hits;
        self.misses += o.misses;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_insert(0) += v;
        }
        for s in &o.verify_samples {
            if self.verify_samples.len() < 5 {
                self.verify_samples.push(s.clone());
            }
        }
    }

    /// All operations in one histogram.
    pub fn overall(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for h in self.per_op.values() {
            let _ = all.add(h);
        }
        all
    }
}

/// Latency percentiles in microseconds.
#[derive(Serialize, Clone, Debug)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th.
    pub p99: u64,
    /// 99.9th.
    pub p999: u64,
    /// 99.99th.
    pub p9999: u64,
    /// Maximum.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// From a histogram.
    pub fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// Per-command results.
#[derive(Serialize, Clone, Debug)]
pub struct OpResult {
    /// Completed requests.
    pub requests: u64,
    /// Requests per second.
    pub throughput: f64,
    /// Latency, µs.
    pub latency_us: Latency,
}

/// The final result (`--json` prints exactly this).
#[derive(Serialize, Clone, Debug)]
pub struct Report {
    /// Target, e.g. "resp://127.0.0.1:6379".
    pub target: String,
    /// Threads × connections.
    pub connections: usize,
    /// Pipeline depth.
    pub pipeline: usize,
    /// Open-loop rate, if any.
    pub rate: Option<f64>,
    /// Measured seconds (after warm-up).
    pub duration_secs: f64,
    /// Completed requests (after warm-up).
    pub requests: u64,
    /// Requests per second.
    pub throughput: f64,
    /// GET hits.
    pub hits: u64,
    /// GET misses.
    pub misses: u64,
    /// Errors by type.
    pub errors: BTreeMap<String, u64>,
    /// The first few failures described (VERIFY mismatches with expected and received values,
    /// connection errors).
    pub error_samples: Vec<String>,
    /// All requests' latency, µs.
    pub latency_us: Latency,
    /// Per command.
    pub commands: BTreeMap<String, OpResult>,
    /// Client CPU time per request, µs: user+system time of this process over every reply of
    /// the run (warm-up included).
    pub client_cpu_us_per_request: f64,
}

/// What the report says about the run besides the counters.
pub struct RunInfo {
    /// Target, e.g. "resp://127.0.0.1:6379".
    pub target: String,
    /// Threads × connections.
    pub connections: usize,
    /// Pipeline depth.
    pub pipeline: usize,
    /// Open-loop rate, if any.
    pub rate: Option<f64>,
    /// Measured time (after warm-up).
    pub elapsed: Duration,
    /// Client CPU time of the whole run.
    pub cpu: Duration,
    /// Replies of the whole run, warm-up included.
    pub all_replies: u64,
}

impl Report {
    /// Builds the report.
    pub fn new(info: RunInfo, stats: &Stats) -> Report {
        let RunInfo {
            target,
            connections,
            pipeline,
            rate,
            elapsed,
            cpu,
            all_replies,
        } = info;
        let secs = elapsed.as_secs_f64().max(1e-9);
        let overall = stats.overall();
        let requests = overall.len();
        let commands = stats
            .per_op
            .iter()
            .map(|(k, h)| {
                (
                    k.clone(),
                    OpResult {
                        requests: h.len(),
                        throughput: h.len() as f64 / secs,
                        latency_us: Latency::of(h),
                    },
                )
            })
            .collect();
        Report {
            target,
            connections,
            pipeline,
            rate,
            duration_secs: secs,
            requests,
            throughput: requests as f64 / secs,
            hits: stats.hits,
            misses: stats.misses,
            errors: stats.errors.clone(),
            error_samples: stats.verify_samples.clone(),
            latency_us: Latency::of(&overall),
            commands,
            client_cpu_us_per_request: if all_replies > 0 {
                cpu.as_secs_f64() * 1e6 / all_replies as f64
            } else {
                0.0
            },
        }
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "target {}  connections {}  pipeline {}{}\n",
            self.target,
            self.connections,
            self.pipeline,
            self.rate
                .map(|r| format!("  open loop at {r:.0}/s"))
                .unwrap_or_default()
        ));
        s.push_str(&format!(
            "{} requests in {:.2} s: {:.0} requests/s   hits {}  misses {}   client CPU {:.2} µs/request\n",
            self.requests, self.duration_secs, self.throughput, self.hits, self.misses, self.client_cpu_us_per_request
        ));
        let errs: u64 = self.errors.values().sum();
        if errs == 0 {
            s.push_str("errors: none\n");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            s.push_str(&format!("errors: {errs} ({})\n", list.join(", ")));
            for e in &self.error_samples {
                s.push_str(&format!("  {e}\n"));
            }
        }
        s.push_str("\ncommand        requests       ops/s       p50       p90       p99     p99.9    p99.99       max\n");
        let row = |name: &str, n: u64, tput: f64, l: &Latency| {
            format!(
                "{name:<10} {n:>12} {tput:>11.0} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                fmt_us(l.p50),
                fmt_us(l.p90),
                fmt_us(l.p99),
                fmt_us(l.p999),
                fmt_us(l.p9999),
                fmt_us(l.max)
            )
        };
        for (k, o) in &self.commands {
            s.push_str(&row(k, o.requests, o.throughput, &o.latency_us));
        }
        s.push_str(&row(
            "ALL",
            self.requests,
            self.throughput,
            &self.latency_us,
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_units() {
        assert_eq!(fmt_us(870), "870µs");
        assert_eq!(fmt_us(12_345), "12.35ms");
        assert_eq!(fmt_us(1_520_000), "1.52s");
    }
}
