//! One connection's driver: builds pipelines of requests, writes each in one write, parses the
//! replies without allocating, records latency, and (with --verify) checks reads against this
//! connection's own writes. Closed loop by default; open loop (fixed schedule, latency from the
//! intended send time, see `Driver::run`) with --rate.

use crate::cli::Protocol;
use crate::http;
use crate::plan::{Op, Plan};
use crate::resp::{self, Reply};
use crate::runner::{op_index, ThreadCtx};
use crate::tls::Stream;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

struct Pending {
    op: Op,
    key: u64,
    /// Verify: (sequence, size) written by a SET.
    seq: u64,
    size: usize,
    /// Intended send time (open loop) or write time.
    t0: Instant,
}

/// The value --verify writes for (key, seq, size): a header naming both (so a wrong value
/// says whose it is), then filler up to `size`. Deterministic, so a GET's expected value is
/// rebuilt from the (seq, size) recorded when the SET was acknowledged. No allocation once
/// `out` has grown.
fn make_value(plan: &Plan, key: u64, seq: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    out.push(b'k');
    resp::push_decimal(out, key as usize);
    out.push(b's');
    resp::push_decimal(out, seq as usize);
    out.push(b':');
    while out.len() < size {
        let take = (size - out.len()).min(plan.filler.len());
        out.extend_from_slice(&plan.filler[..take]);
    }
}

/// The error type: the first word of an error reply (borrowed, no allocation for UTF-8).
fn error_kind(text: &[u8]) -> std::borrow::Cow<'_, str> {
    let word = text
        .split(|&b| b == b' ')
        .next()
        .filter(|w| !w.is_empty())
        .unwrap_or(b"ERR");
    String::from_utf8_lossy(word)
}

/// Runs one connection until the plan is done.
pub async fn run(ctx: Rc<ThreadCtx>, conn_id: usize) {
    let plan = ctx.plan.clone();
    let stream = match Stream::connect(&plan.addr, plan.tls.as_ref()).await {
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
        arrived: Instant::now(),
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
    stream: Stream,
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
    /// When the last read() returned.
    arrived: Instant,
}

impl Driver {
    async fn run(&mut self) -> Result<(), &'static str> {
        if let Some(auth) = self.plan.auth.clone() {
            let args: Vec<&[u8]> = auth.iter().map(|s| s.as_bytes()).collect();
            resp::encode(&mut self.wbuf, &args);
            self.flush().await?;
            let reply = self.next_reply().await?;
            if !matches!(reply, Reply::Simple) {
                let mut st = self.ctx.stats.borrow_mut();
                if st.verify_samples.len() < 5 {
                    let text = match &reply {
                        Reply::Error(r) => String::from_utf8_lossy(&self.rbuf[r.clone()]).into(),
                        other => format!("unexpected reply {other:?}"),
                    };
                    st.verify_samples.push(format!("AUTH refused: {text}"));
                }
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
                let sent = Instant::now();
                let n = self.plan.take(self.plan.pipeline, sent);
                if n == 0 {
                    return Ok(());
                }
                // Coordinated-omission correction: latency counts from the intended send time
                // whenever the server made us late (the previous reply arrived after it), so a
                // stall shows up in every request it delayed, as in wrk2. What is left out is
                // only the client's own timer lateness while the connection was idle (tokio
                // timers have 1 ms resolution), which would otherwise add up to 1 ms to every
                // request: t0 = actual send time minus the server-caused delay.
                let late = self.arrived.saturating_duration_since(next_send);
                let t0 = sent.checked_sub(late).unwrap_or(next_send);
                for _ in 0..n {
                    self.queue(t0);
                }
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
                let p = self.pending.pop_front().ok_or("PROTOCOL")?;
                // Every reply parsed out of one read arrived at the same time: one clock read
                // per read() instead of one per reply.
                self.complete(p, reply, self.arrived);
            }
        }
    }

    /// Picks an operation and key and encodes the request into the write buffer. Keys come
    /// pre-encoded (`Plan::key_bulk`) and values are slices of a shared filler (or rebuilt in
    /// place with --verify): no allocation here.
    fn queue(&mut self, t0: Instant) {
        let plan = &*self.plan;
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
        let out = &mut self.wbuf;
        match (op, plan.protocol) {
            (Op::Set, proto) => {
                let value: &[u8] = if plan.verify {
                    seq = self.next_seq;
                    self.next_seq += 1;
                    make_value(plan, key, seq, size, &mut self.value);
                    vsize = self.value.len();
                    &self.value
                } else {
                    &plan.filler[..size]
                };
                if proto == Protocol::Resp {
                    match &plan.ttl_arg {
                        Some(t) => {
                            out.extend_from_slice(b"*5\r\n$3\r\nSET\r\n");
                            out.extend_from_slice(plan.key_bulk(key));
                            resp::bulk(out, &[value]);
                            out.extend_from_slice(b"$2\r\nEX\r\n");
                            resp::bulk(out, &[t.as_bytes()]);
                        }
                        None => {
                            out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
                            out.extend_from_slice(plan.key_bulk(key));
                            resp::bulk(out, &[value]);
                        }
                    }
                } else {
                    http::encode_set(out, plan.key(key), value, plan.ttl, &plan.http_headers);
                }
            }
            (Op::Get, Protocol::Resp) => {
                out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
                out.extend_from_slice(plan.key_bulk(key));
            }
            (Op::Get, Protocol::Http) => http::encode_get(out, plan.key(key), &plan.http_headers),
            (Op::Template(i), _) => {
                let data = &plan.filler[..size.min(plan.filler.len())];
                plan.templates[i].encode(out, plan.key(key), data);
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
            self.arrived = Instant::now();
            self.filled += n;
        }
    }

    /// Accounts one reply: latency, hits/misses, error kinds, and the --verify check.
    fn complete(&mut self, p: Pending, reply: Reply, done: Instant) {
        let ctx = &*self.ctx;
        let recording = p.t0 >= self.plan.measure_from;
        let micros = done.saturating_duration_since(p.t0).as_micros() as u64;
        let _ = ctx.interval.borrow_mut().record(micros.max(1));
        let mut st = ctx.stats.borrow_mut();
        if recording {
            // Error replies are answered requests too: they count and have a latency.
            ctx.latency.borrow_mut()[op_index(p.op)].saturating_record(micros.max(1));
        }
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
                        // With --ttl the key may have expired: a miss is then no mismatch.
                        let ok = match &found {
                            Some(r) => self.rbuf[r.clone()] == self.value[..],
                            None => self.plan.ttl.is_some(),
                        };
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
    }
}
