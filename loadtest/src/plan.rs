//! The run plan shared by every thread: targets, workload, budget, deadlines.

use crate::cli::{Args, Protocol};
use crate::workload::{parse_ratio, DataSize, KeyPattern, Template};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// What one request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// SET key value.
    Set,
    /// GET key.
    Get,
    /// The i-th command template.
    Template(usize),
}

/// Everything a connection needs to know, shared read-only (plus the request budget).
pub struct Plan {
    /// host:port.
    pub addr: String,
    /// RESP or HTTP.
    pub protocol: Protocol,
    /// AUTH arguments, if any (RESP).
    pub auth: Option<Vec<String>>,
    /// Extra HTTP request headers (`Authorization: Bearer …` with --auth).
    pub http_headers: Vec<u8>,
    /// TLS settings (--tls).
    pub tls: Option<crate::tls::Tls>,
    /// Pipeline depth.
    pub pipeline: usize,
    /// Keyspace size.
    pub keys: u64,
    /// Key distribution.
    pub pattern: KeyPattern,
    /// Pre-generated keys, each already encoded as a RESP bulk string (`$W\r\n<key>\r\n`),
    /// fixed width, back to back: a request copies its key in one piece.
    pub key_bytes: Vec<u8>,
    /// Width of each key (the key itself).
    pub key_width: usize,
    /// Width of each entry of `key_bytes` (`$W\r\n` + key + `\r\n`).
    key_stride: usize,
    /// Length of the `$W\r\n` header in front of each key.
    key_head: usize,
    /// Value sizes.
    pub data: DataSize,
    /// Filler for values.
    pub filler: Vec<u8>,
    /// Weighted wheel of operations.
    pub wheel: Vec<Op>,
    /// Command templates.
    pub templates: Vec<Template>,
    /// Requests left to send (requests mode); i64::MAX in duration mode.
    pub budget: AtomicI64,
    /// When the run started (live seconds count from here).
    pub start: Instant,
    /// When recording starts (after the warm-up).
    pub measure_from: Instant,
    /// When to stop (duration mode).
    pub deadline: Option<Instant>,
    /// Seconds between sends per connection (open loop).
    pub interval: Option<Duration>,
    /// TTL in seconds for SETs (RESP: `EX`, HTTP: `"ttl"`).
    pub ttl: Option<u64>,
    /// `ttl` as text, for RESP.
    pub ttl_arg: Option<String>,
    /// Check reads against writes.
    pub verify: bool,
    /// Total connections (all threads).
    pub total_conns: usize,
    /// The shared counter of `--key-pattern sequential`.
    pub seq: std::sync::atomic::AtomicU64,
}

impl Plan {
    /// Builds the plan from the arguments (errors are user errors).
    pub fn new(a: &Args, start: Instant) -> Result<Plan, String> {
        if a.threads == 0 || a.connections == 0 || a.pipeline == 0 {
            return Err("--threads, --connections and --pipeline must be at least 1".into());
        }
        if a.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        let total_conns = a.threads * a.connections;
        let pattern = KeyPattern::parse(&a.key_pattern, a.keys)?;
        let data = DataSize::parse(&a.data_size)?;
        let templates = a
            .commands
            .iter()
            .map(|c| Template::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        if a.protocol == Protocol::Http && !templates.is_empty() {
            return Err("--command templates need --protocol resp".into());
        }
        if a.verify && !templates.is_empty() {
            return Err(
                "--verify checks the SET/GET mix; it cannot be combined with --command".into(),
            );
        }
        if a.verify && (a.keys as usize) < total_conns {
            return Err(format!("--verify gives each connection its own keys: --keys must be at least {total_conns}"));
        }
        if a.ttl == Some(0) {
            return Err("--ttl must be at least 1 second".into());
        }
        let mut wheel = Vec::new();
        if templates.is_empty() {
            let (s, g) = parse_ratio(&a.ratio)?;
            wheel.extend(std::iter::repeat_n(Op::Set, s as usize));
            wheel.extend(std::iter::repeat_n(Op::Get, g as usize));
        } else {
            for (i, t) in templates.iter().enumerate() {
                wheel.extend(std::iter::repeat_n(
                    Op::Template(i),
                    t.weight.max(1) as usize,
                ));
            }
        }
        let interval = match a.rate {
            // Each connection sends its pipeline of requests once per interval.
            Some(r) if r > 0.0 && r.is_finite() => Some(Duration::from_secs_f64(
                (total_conns * a.pipeline.max(1)) as f64 / r,
            )),
            Some(_) => return Err("--rate must be a positive number of requests per second".into()),
            None => None,
        };
        let key_width = a.key_prefix.len() + (a.keys.saturating_sub(1)).to_string().len().max(12);
        let head = format!("${key_width}\r\n");
        let key_stride = head.len() + key_width + 2;
        let mut key_bytes = Vec::with_capacity(key_stride * a.keys as usize);
        let digits = key_width - a.key_prefix.len();
        for i in 0..a.keys {
            key_bytes.extend_from_slice(head.as_bytes());
            key_bytes.extend_from_slice(a.key_prefix.as_bytes());
            key_bytes.extend_from_slice(format!("{i:0digits$}").as_bytes());
            key_bytes.extend_from_slice(b"\r\n");
        }
        let filler: Vec<u8> = (0..data.max.max(64))
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        let warm = a.warmup.unwrap_or_default();
        let measure_from = start + warm;
        let deadline = a.duration.map(|d| measure_from + d);
        let budget = if deadline.is_some() {
            i64::MAX
        } else {
            a.requests as i64
        };
        let auth = a.auth.as_ref().map(|p| match &a.user {
            Some(u) => vec!["AUTH".to_string(), u.clone(), p.clone()],
            None => vec!["AUTH".to_string(), p.clone()],
        });
        let (auth, http_headers) = match (a.protocol, &a.auth) {
            (Protocol::Http, Some(key)) => (
                None,
                format!("Authorization: Bearer {key}\r\n").into_bytes(),
            ),
            _ => (auth, Vec::new()),
        };
        let tls = crate::tls::from_args(a)?;
        Ok(Plan {
            addr: format!("{}:{}", a.host, a.port),
            protocol: a.protocol,
            auth,
            http_headers,
            tls,
            pipeline: a.pipeline,
            keys: a.keys,
            pattern,
            key_bytes,
            key_width,
            key_stride,
            key_head: head.len(),
            data,
            filler,
            wheel,
            templates,
            budget: AtomicI64::new(budget),
            start,
            measure_from,
            deadline,
            interval,
            ttl: a.ttl,
            ttl_arg: a.ttl.map(|t| t.to_string()),
            verify: a.verify,
            total_conns,
            seq: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The bytes of key `i`.
    #[inline]
    pub fn key(&self, i: u64) -> &[u8] {
        let s = i as usize * self.key_stride + self.key_head;
        &self.key_bytes[s..s + self.key_width]
    }

    /// Key `i` encoded as a RESP bulk string, ready to copy into a request.
    #[inline]
    pub fn key_bulk(&self, i: u64) -> &[u8] {
        let s = i as usize * self.key_stride;
        &self.key_bytes[s..s + self.key_stride]
    }

    /// Takes up to `n` requests from the budget (0 when the run is over).
    #[inline]
    pub fn take(&self, n: usize, now: Instant) -> usize {
        if let Some(d) = self.deadline {
            return if now >= d { 0 } else { n };
        }
        if now < self.measure_from {
            return n; // warm-up requests do not count against --requests
        }
        let before = self.budget.fetch_sub(n as i64, Ordering::Relaxed);
        before.clamp(0, n as i64) as usize
    }
}
