//! One connection's driver: builds pipelines of requests, writes each in one write, parses the
//! replies without allocating, records latency, and (with --verify) checks reads against this
//! connection's own writes. Closed loop by default; open loop (fixed schedule, latency from the
//! intended send time) with --rate.

use crate::cli::Protocol;
use crate::http;
use crate::plan::{Op, Plan};
use crate::resp::{self, Reply};
use crate::stats::Stats;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Per-thread live numbers, read by the reporter once a second.
pub struct Live {
    /// Completed requests (all, warm-up included).
    pub done: std::sync::atomic::AtomicU64,
    /// Errors.
    pub errors: std::sync::atomic::AtomicU64,
    /// Open connections.
    pub open: std::sync::atomic::AtomicU64,
    /// p99 of the last second, µs.
    pub p99: std::sync::atomic::AtomicU64,
}

/// What a thread's connections share (same thread: `Rc`).
pub struct ThreadCtx {
    /// The plan.
    pub plan: Arc<Plan>,
    /// Results (counters; histograms are in `latency`).
    pub stats: RefCell<Stats>,
    /// Latency histograms by operation: SET, GET, then each template (indexed by `op_index`).
    pub latency: RefCell<Vec<hdrhistogram::Histogram<u64>>>,
    /// Latencies of the current second (for the live line).
    pub interval: RefCell<hdrhistogram::Histogram<u64>>,
    /// Live counters.
    pub live: Arc<Live>,
}

struct Pending {
    op: Op,
    key: u64,
    /// Verify: (sequence, size) written by a SET.
    seq: u64,
    size: usize,
    /// Intended send time (open loop) or write time.
    t0: Instant,
}

/// The value written for (key, seq, size): with --verify a header naming both (so a wrong
/// value says whose it is), then filler up to `size`.
fn make_value(plan: &Plan, key: u64, seq: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    if plan.verify {
        out.extend_from_slice(format!("k{key}s{seq}:").as_bytes());
    }
    while out.len() < size {
        let take = (size - out.len()).min(plan.filler.len());
        out.extend_from_slice(&plan.filler[..take]);
    }
}

/// Index of an operation's histogram in `ThreadCtx::latency`.
#[inline]
pub fn op_index(op: Op) -> usize {
    match op {
        Op::Set => 0,
        Op::Get => 1,
        Op::Template(i) => 2 + i,
    }
}

/// The error type: the first word of an error reply (borrowed, no allocation for UTF-8).
fn error_kind(text: &[u8]) -> std::borrow::Cow<'_, str> {
    let word = text.split(|&b| b == b' ').next().unwrap_or(b"ERR");
    String::from_utf8_lossy(word)
}

/// Runs one connection until the plan is done.
pub async fn run(ctx: Rc<ThreadCtx>, conn_id: usize) {
    let plan = ctx.plan.clone();
    let stream = match TcpStream::connect(&plan.addr).await {
        Ok(s) => s,
        Err(e) => {
            let mut st = ctx.stats.borrow_mut();
            st.error("CONNECT");
            if st.verify_samples.len() < 5 {
                st.verify_samples
                    .push(format!("connect to {}: {e}", plan.addr));
            }
            ctx.live
                .errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    ctx.live
        .open
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut d = Driver {
        ctx: ctx.clone(),
        plan: plan.clone(),
        stream,
        rng: SmallRng::seed_from_u64(0x5eed ^ (conn_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        conn_id,
        wbuf: Vec::with_capacity(64 * 1024),
        rbuf: vec![0; 64 * 1024],
        filled: 0,
        pos: 0,
        pending: std::collections::VecDeque::new(),
        expected: HashMap::new(),
        next_seq: 0,
        value: Vec::new(),
    };
    if let Err(kind) = d.run().await {
        ctx.stats.borrow_mut().error(kind);
        ctx.live
            .errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    ctx.live
        .open
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

struct Driver {
    ctx: Rc<ThreadCtx>,
    plan: Arc<Plan>,
    stream: TcpStream,
    rng: SmallRng,
    conn_id: usize,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    filled: usize,
    pos: usize,
    pending: std::collections::VecDeque<Pending>,
    expected: HashMap<u64, (u64, usize)>,
    next_seq: u64,
    value: Vec<u8>,
}

impl Driver {
    async fn run(&mut self) -> Result<(), &'static str> {
        if let Some(auth) = self.plan.auth.clone() {
            let args: Vec<&[u8]> = auth.iter().map(|s| s.as_bytes()).collect();
            resp::encode(&mut self.wbuf, &args);
            self.flush().await?;
            let reply = self.next_reply().await?;
            if !matches!(reply, Reply::Simple) {
                return Err("AUTH");
            }
        }
        let mut next_send = Instant::now();
        if let Some(iv) = self.plan.interval {
            // Stagger connections over one interval.
            next_send += iv.mul_f64(self.conn_id as f64 / self.plan.total_conns as f64);
        }
        loop {
            let now = Instant::now();
            if let Some(iv) = self.plan.interval {
                if next_send > now {
                    tokio::time::sleep_until(next_send.into()).await;
                }
                if self.plan.take(1, Instant::now()) == 0 {
                    return Ok(());
                }
                self.queue(next_send);
                next_send += iv;
            } else {
                let n = self.plan.take(self.plan.pipeline, now);
                if n == 0 {
                    return Ok(());
                }
                let t0 = Instant::now();
                for _ in 0..n {
                    self.queue(t0);
                }
            }
            self.flush().await?;
            while !self.pending.is_empty() {
                let reply = self.next_reply().await?;
                let done = Instant::now();
                let p = self.pending.pop_front().ok_or("PROTOCOL")?;
                self.complete(p, reply, done);
            }
        }
    }

    /// Picks an operation and key and encodes the request.
    fn queue(&mut self, t0: Instant) {
        let plan = self.plan.clone();
        let op = plan.wheel[self.rng.gen_range(0..plan.wheel.len())];
        let mut key = plan.pattern.next(&mut self.rng, plan.keys, &plan.seq);
        if plan.verify {
            // Each key belongs to exactly one connection: this one's are ≡ conn_id (mod total).
            let total = plan.total_conns as u64;
            key = key - key % total + self.conn_id as u64;
            if key >= plan.keys {
                key -= total;
            }
        }
        let size = plan.data.pick(&mut self.rng);
        let (mut seq, mut vsize) = (0, 0);
        let k = plan.key(key);
        match (op, plan.protocol) {
            (Op::Set, proto) => {
                seq = self.next_seq;
                self.next_seq += 1;
                make_value(&plan, key, seq, size, &mut self.value);
                vsize = self.value.len();
                if proto == Protocol::Resp {
                    match &plan.ttl_arg {
                        Some(t) => resp::encode(
                            &mut self.wbuf,
                            &[b"SET", k, &self.value, b"EX", t.as_bytes()],
                        ),
                        None => resp::encode(&mut self.wbuf, &[b"SET", k, &self.value]),
                    }
                } else {
                    http::encode_set(&mut self.wbuf, k, &self.value, plan.ttl);
                }
            }
            (Op::Get, Protocol::Resp) => resp::encode(&mut self.wbuf, &[b"GET", k]),
            (Op::Get, Protocol::Http) => http::encode_get(&mut self.wbuf, k),
            (Op::Template(i), _) => {
                let data = &plan.filler[..size.min(plan.filler.len())];
                plan.templates[i].encode(&mut self.wbuf, k, data);
            }
        }
        self.pending.push_back(Pending {
            op,
            key,
            seq,
            size: vsize,
            t0,
        });
    }

    async fn flush(&mut self) -> Result<(), &'static str> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await.map_err(|_| "IO")?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Reads until one complete reply is available and returns it (ranges into `rbuf`).
    async fn next_reply(&mut self) -> Result<Reply, &'static str> {
        loop {
            let parsed = match self.plan.protocol {
                Protocol::Resp => {
                    resp::parse(&self.rbuf[..self.filled], self.pos).map_err(|_| "PROTOCOL")?
                }
                Protocol::Http => {
                    http::parse(&self.rbuf[..self.filled], self.pos).map_err(|_| "PROTOCOL")?
                }
            };
            if let Some((reply, next)) = parsed {
                self.pos = next;
                return Ok(reply);
            }
            if self.pos > 0 && self.pos == self.filled {
                self.pos = 0;
                self.filled = 0;
            } else if self.filled == self.rbuf.len() {
                if self.pos > 0 {
                    self.rbuf.copy_within(self.pos..self.filled, 0);
                    self.filled -= self.pos;
                    self.pos = 0;
                } else {
                    let n = self.rbuf.len() * 2;
                    self.rbuf.resize(n, 0);
                }
            }
            let n = self
                .stream
                .read(&mut self.rbuf[self.filled..])
                .await
                .map_err(|_| "IO")?;
            if n == 0 {
                return Err("IO");
            }
            self.filled += n;
        }
    }

    fn complete(&mut self, p: Pending, reply: Reply, done: Instant) {
        let ctx = self.ctx.clone();
        ctx.live
            .done
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let recording = p.t0 >= self.plan.measure_from;
        let micros = done.saturating_duration_since(p.t0).as_micros() as u64;
        let _ = ctx.interval.borrow_mut().record(micros.max(1));
        let mut st = ctx.stats.borrow_mut();
        if let Reply::Error(r) = &reply {
            let kind = error_kind(&self.rbuf[r.clone()]);
            if recording {
                st.error(&kind);
            }
            ctx.live
                .errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        match p.op {
            Op::Set => {
                if self.plan.verify && matches!(reply, Reply::Simple) {
                    self.expected.insert(p.key, (p.seq, p.size));
                }
            }
            Op::Get => {
                let found = match &reply {
                    Reply::Bulk(r) => Some(r.clone()),
                    _ => None,
                };
                if recording {
                    if found.is_some() {
                        st.hits += 1;
                    } else {
                        st.misses += 1;
                    }
                }
                if self.plan.verify {
                    if let Some(&(seq, size)) = self.expected.get(&p.key) {
                        make_value(&self.plan, p.key, seq, size, &mut self.value);
                        let ok = found
                            .as_ref()
                            .is_some_and(|r| self.rbuf[r.clone()] == self.value[..]);
                        if !ok {
                            st.error("VERIFY");
                            ctx.live
                                .errors
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if st.verify_samples.len() < 5 {
                                let got = found.map(|r| {
                                    String::from_utf8_lossy(
                                        &self.rbuf[r.start..r.end.min(r.start + 40)],
                                    )
                                    .into_owned()
                                });
                                st.verify_samples.push(format!(
                                    "GET {}: expected {:?}…, got {:?}",
                                    String::from_utf8_lossy(self.plan.key(p.key)),
                                    String::from_utf8_lossy(
                                        &self.value[..self.value.len().min(40)]
                                    ),
                                    got
                                ));
                            }
                        }
                    }
                }
            }
            Op::Template(_) => {}
        }
        if recording {
            let i = op_index(p.op);
            ctx.latency.borrow_mut()[i].saturating_record(micros.max(1));
        }
    }
}
