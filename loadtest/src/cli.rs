//! Command-line options.

use clap::{Parser, ValueEnum};
use std::time::Duration;

/// Which front end to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// The Redis protocol (any RESP server).
    Resp,
    /// Synap's HTTP KV API (`POST /kv/set`, `GET /kv/get/{key}`).
    Http,
}

/// synap-loadtest: load any RESP server (or Synap's HTTP API) and measure throughput and
/// latency with HDR histograms.
#[derive(Debug, Parser, Clone)]
#[command(name = "synap-loadtest", version, about)]
pub struct Args {
    /// Server host.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Server port (RESP, or HTTP with --protocol http).
    #[arg(long, default_value_t = 6379)]
    pub port: u16,
    /// Password (AUTH password), or with --user the user's password; with --protocol http,
    /// sent as `Authorization: Bearer` (a Synap API key).
    #[arg(long)]
    pub auth: Option<String>,
    /// User name for AUTH user password.
    #[arg(long)]
    pub user: Option<String>,
    /// Connect with TLS (with --cacert, or --tls-insecure).
    #[arg(long)]
    pub tls: bool,
    /// CA certificate (PEM) that signed the server's certificate.
    #[arg(long, value_name = "PATH")]
    pub cacert: Option<std::path::PathBuf>,
    /// Accept any server certificate (testing only).
    #[arg(long)]
    pub tls_insecure: bool,
    /// Client certificate (PEM), when the server requires one.
    #[arg(long, value_name = "PATH")]
    pub cert: Option<std::path::PathBuf>,
    /// Client private key (PEM) for --cert.
    #[arg(long, value_name = "PATH")]
    pub key: Option<std::path::PathBuf>,
    /// Server name to verify the certificate against (default: --host).
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// resp or http.
    #[arg(long, value_enum, default_value_t = Protocol::Resp)]
    pub protocol: Protocol,
    /// Client threads, each with its own event loop.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Pin thread i to the i-th CPU of this list (e.g. "1", "0,2", "2-3").
    #[arg(long)]
    pub cpus: Option<String>,
    /// Connections per thread.
    #[arg(long, default_value_t = 50)]
    pub connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Total requests (ignored with --duration).
    #[arg(long, default_value_t = 100_000)]
    pub requests: u64,
    /// Run for this long instead (e.g. 10s, 500ms, 2m).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Run this long first without recording.
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// SET:GET ratio.
    #[arg(long, default_value = "1:10")]
    pub ratio: String,
    /// Keyspace size.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// uniform, zipf:S (e.g. zipf:0.99) or sequential.
    #[arg(long, default_value = "uniform")]
    pub key_pattern: String,
    /// Key prefix.
    #[arg(long, default_value = "key:")]
    pub key_prefix: String,
    /// Value size in bytes, fixed ("100") or a range ("32-512"). The default is
    /// redis-benchmark's (-d 3), so equivalent command lines compare like for like.
    #[arg(long, default_value = "3")]
    pub data_size: String,
    /// Command templates replacing the SET/GET mix ("HSET __key__ f __data__"); an optional
    /// "N:" prefix weighs them ("3:SET __key__ __data__").
    #[arg(long = "command")]
    pub commands: Vec<String>,
    /// Expire SET keys after this many seconds (RESP: SET … EX N; HTTP: "ttl": N).
    #[arg(long)]
    pub ttl: Option<u64>,
    /// Open loop: send at this total rate (requests/s) and measure latency from each request's
    /// intended send time (coordinated-omission corrected, like wrk2). With --pipeline N, each
    /// connection sends N requests together once per interval.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Check every GET against what this run last wrote to that key.
    #[arg(long)]
    pub verify: bool,
    /// Print the final result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write an HdrHistogram interval log (V2-serialized, µs) to this file: one interval per
    /// second, then one per command for the measured run.
    #[arg(long)]
    pub hdr_out: Option<std::path::PathBuf>,
    /// No live lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// Parses "10s", "500ms", "2m", "1h" or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let v: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1000.0,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?} (use ms, s, m, h)")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("duration must be positive: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a CPU list: "1", "0,2", "2-3", "0-1,4".
pub fn parse_cpus(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (
                    a.parse().map_err(|_| format!("bad CPU {a:?}"))?,
                    b.parse().map_err(|_| format!("bad CPU {b:?}"))?,
                );
                if a > b {
                    return Err(format!("bad CPU range {part:?}"));
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| format!("bad CPU {part:?}"))?),
        }
    }
    if out.is_empty() {
        return Err("empty CPU list".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpus("1"), Ok(vec![1]));
        assert_eq!(parse_cpus("0,2"), Ok(vec![0, 2]));
        assert_eq!(parse_cpus("2-4,7"), Ok(vec![2, 3, 4, 7]));
        assert!(parse_cpus("3-1").is_err());
        assert!(parse_cpus("x").is_err());
    }
}
