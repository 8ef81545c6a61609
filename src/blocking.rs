//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP; the sorted-set pops plug in
//! the same way): a client waits on keys of any shards until one of them holds a value of the
//! type it wants, a timeout, CLIENT UNBLOCK, a disconnect or shutdown.
//!
//! # How it works
//! - A command declares `Exec::Block(prepare)`: `prepare` parses the arguments (Redis's order
//!   of checks and errors) into a [`BlockReq`] (keys, wanted type, a [`ServeFn`] that pops) and
//!   a timeout.
//! - The connection creates one [`Waiter`] (shared by `Arc` with every shard involved) with a
//!   global sequence number, then walks the keys in argument order, one message per run of
//!   keys owned by the same shard ([`attempt`]): on that shard, atomically, a key holding the
//!   wanted type with elements is served at once (another type answers WRONGTYPE), otherwise
//!   the waiter joins the FIFO of each key (kept sorted by sequence, so FIFO order holds
//!   whichever shard a client blocked from) and the key is watched in the keyspace.
//! - A watched key that gets a value is reported by the keyspace; after the command that
//!   stored it (and after every job or batch from another shard) the shard serves that key's
//!   waiters in FIFO order ([`serve_ready`]): each must first be *claimed* (an atomic flag, so a
//!   client waiting on keys of two shards is served exactly once), then its `ServeFn` pops on
//!   the shard and the reply goes to the client's connection through a oneshot channel.
//! - The connection meanwhile awaits that channel, a timer and its socket (pure awaits: no CPU
//!   while blocked). A timeout, CLIENT UNBLOCK, shutdown or a disconnect claims the waiter, so a
//!   late server cannot pop for it. Registrations left on other shards are removed by a cleanup
//!   message (and skipped meanwhile because they are claimed).
//!
//! BLMOVE whose destination lives on another shard: the source's shard pops and hands the
//! element to the connection, which pushes it to the destination's shard
//! ([`crate::commands::lists::finish_move`]).

use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::{Shard, ShardCtx};
use futures::channel::oneshot;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use synap_shard::{Blob, ValueType};

/// Pops for a claimed waiter from `key` (which holds a non-empty value of the wanted type) on
/// the key's shard, and says what the client gets.
pub type ServeFn = fn(&mut ShardCtx<'_>, &BlockReq, &[u8]) -> Served;

/// Parses a blocking command's arguments (replying the error when they are bad).
pub type PrepareFn = fn(&[&[u8]], &mut Reply<'_>) -> Option<Blocking>;

/// A parsed blocking command.
pub struct Blocking {
    /// What to wait for.
    pub req: BlockReq,
    /// How long (None = forever).
    pub timeout: Option<Duration>,
}

/// What a blocked client waits for and how it is served.
pub struct BlockReq {
    /// The keys, in argument order.
    pub keys: Vec<Blob>,
    /// A key holding this type (with elements) serves the client.
    pub kind: ValueType,
    /// Pops for the client.
    pub serve: ServeFn,
    /// Which end: LEFT for lists (MIN for sorted sets).
    pub left: bool,
    /// BLMPOP's COUNT (None for single-element pops).
    pub count: Option<usize>,
    /// BLMOVE's destination and the end it pushes to.
    pub dest: Option<(Blob, bool)>,
    /// Encode replies in RESP3.
    pub resp3: bool,
}

/// What serving a client produced.
pub enum Served {
    /// The encoded reply.
    Reply(Vec<u8>),
    /// BLMOVE with its destination on another shard: `el` was popped from `src`; the client's
    /// connection pushes it to the destination.
    MoveAcross {
        /// The source key.
        src: Blob,
        /// The element.
        el: Blob,
    },
}

/// How a wait ended (other than by a timer or a disconnect, which the connection sees itself).
pub enum Outcome {
    /// Served.
    Served(Served),
    /// CLIENT UNBLOCK (TIMEOUT): answer as a timeout.
    Timeout,
    /// CLIENT UNBLOCK ERROR.
    Error,
    /// The server is stopping: close the connection.
    Shutdown,
}

/// One blocked client, shared by every shard it waits on.
pub struct Waiter {
    /// Global order of blocking (FIFO per key).
    pub seq: u64,
    /// The client's id.
    pub client: u64,
    /// What it waits for.
    pub req: BlockReq,
    claimed: AtomicBool,
    tx: Mutex<Option<oneshot::Sender<Outcome>>>,
}

impl Waiter {
    /// Takes the right to serve or release this waiter; true for exactly one caller.
    #[inline]
    pub fn claim(&self) -> bool {
        self.claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether it was claimed already.
    #[inline]
    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    /// Sends the outcome to the client (by whoever claimed it).
    pub fn deliver(&self, o: Outcome) {
        let tx = match self.tx.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some(tx) = tx {
            // The connection may be gone (its Pending was dropped): nothing to do then.
            let _ = tx.send(o);
        }
    }
}

/// A shard's blocking state.
#[derive(Default)]
pub struct Registry {
    /// Waiters per key of this shard, ordered by `seq`.
    queues: HashMap<Blob, VecDeque<Arc<Waiter>>, ahash::RandomState>,
    /// Blocked clients connected to this shard, by client id (CLIENT UNBLOCK, shutdown, INFO).
    local: BTreeMap<u64, (Arc<Waiter>, bool)>,
}

impl Registry {
    /// Blocked clients connected to this shard.
    pub fn blocked_clients(&self) -> usize {
        self.local.len()
    }

    /// Blocked clients of this shard with a timeout.
    pub fn clients_with_timeout(&self) -> usize {
        self.local.values().filter(|(_, t)| *t).count()
    }

    /// Keys of this shard some client waits on.
    pub fn blocking_keys(&self) -> usize {
        self.queues.len()
    }

    fn add(&mut self, key: &Blob, w: &Arc<Waiter>) -> bool {
        let q = self.queues.entry(key.clone()).or_default();
        let at = q.partition_point(|x| x.seq < w.seq);
        if q.get(at).is_some_and(|x| x.seq == w.seq) {
            return false; // the same key twice in one command
        }
        q.insert(at, w.clone());
        true
    }

    /// Removes `w` from `key`'s queue; true when the queue is now empty (and gone).
    fn remove(&mut self, key: &[u8], seq: u64) -> bool {
        let Some(q) = self.queues.get_mut(key) else {
            return false;
        };
        if let Ok(at) = q.binary_search_by_key(&seq, |x| x.seq) {
            q.remove(at);
        }
        if q.is_empty() {
            self.queues.remove(key);
            return true;
        }
        false
    }
}

/// The result of trying a run of keys on their shard.
pub enum Attempt {
    /// Served at once.
    Served(Served),
    /// Nothing to serve: the waiter now waits on these keys.
    Registered,
    /// Another shard claimed the waiter meanwhile (its outcome is on the way).
    Lost,
}

/// On the keys' shard: serves `w` from the first of `keys` holding its type with elements
/// (WRONGTYPE for a key of another type), else registers it on all of them (unless
/// `register` is false: a client that may not block).
pub fn attempt(s: &Shard, w: &Arc<Waiter>, keys: &[Blob], register: bool) -> Attempt {
    let now = synap_shard::time::now_ms();
    if s.persist_error.borrow().is_some() {
        // Writes are refused while this shard cannot write its AOF (MISCONF), pops included.
        if !w.claim() {
            return Attempt::Lost;
        }
        let mut out = Vec::new();
        Reply::new(&mut out, w.req.resp3).error(ErrorCode::Misconf, errors::MISCONF);
        return Attempt::Served(Served::Reply(out));
    }
    {
        let mut ks = s.ks.borrow_mut();
        for key in keys {
            let Some(t) = ks.peek(key, now).map(|e| e.value.value_type()) else {
                continue;
            };
            if !w.claim() {
                return Attempt::Lost;
            }
            if t != w.req.kind {
                let mut out = Vec::new();
                Reply::new(&mut out, w.req.resp3).error(ErrorCode::WrongType, errors::WRONGTYPE);
                return Attempt::Served(Served::Reply(out));
            }
            let mut ctx = ShardCtx::new(&mut ks, now, s);
            return Attempt::Served((w.req.serve)(&mut ctx, &w.req, key));
        }
        if w.is_claimed() {
            return Attempt::Lost;
        }
        if register {
            let mut reg = s.blocking.borrow_mut();
            for key in keys {
                if reg.add(key, w) {
                    ks.watch(key);
                }
            }
        }
    }
    Attempt::Registered
}

/// On a shard: removes `w`'s registrations on `keys`.
pub fn unregister(s: &Shard, seq: u64, keys: &[Blob]) {
    let mut reg = s.blocking.borrow_mut();
    let mut ks = s.ks.borrow_mut();
    for key in keys {
        if reg.remove(key, seq) {
            ks.unwatch(key);
        }
    }
}

/// Serves the waiters of every watched key that got a value (call after each command; it
/// returns at once when nothing is ready).
#[inline]
pub fn serve_ready(s: &Shard) {
    if s.ks.borrow().has_ready() {
        serve_ready_slow(s);
    }
}

fn serve_ready_slow(s: &Shard) {
    // Serving may make more keys ready (BLMOVE pushes to its destination): loop until none.
    loop {
        let ready = s.ks.borrow_mut().take_ready();
        if ready.is_empty() {
            return;
        }
        for key in ready {
            serve_key(s, &key);
        }
    }
}

/// Serves `key`'s waiters in FIFO order while it holds what they want.
fn serve_key(s: &Shard, key: &Blob) {
    let now = synap_shard::time::now_ms();
    let mut i = 0;
    loop {
        let w = {
            let reg = s.blocking.borrow();
            match reg.queues.get(key).and_then(|q| q.get(i)) {
                Some(w) => w.clone(),
                None => return,
            }
        };
        if w.is_claimed() {
            drop_at(s, key, w.seq);
            continue;
        }
        let t =
            s.ks.borrow_mut()
                .peek(key, now)
                .map(|e| e.value.value_type());
        match t {
            None => return,
            Some(t) if t != w.req.kind => {
                // Waits for another type (a list pop behind a sorted-set pop on one key).
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        if !w.claim() {
            drop_at(s, key, w.seq);
            continue;
        }
        let served = {
            let mut ks = s.ks.borrow_mut();
            let mut ctx = ShardCtx::new(&mut ks, now, s);
            (w.req.serve)(&mut ctx, &w.req, key)
        };
        drop_at(s, key, w.seq);
        // The reply leaves once the pop is durable (`appendfsync always`).
        let o = Outcome::Served(served);
        s.journal
            .borrow_mut()
            .after_durable(Box::new(move || w.deliver(o)));
    }
}

fn drop_at(s: &Shard, key: &Blob, seq: u64) {
    if s.blocking.borrow_mut().remove(key, seq) {
        s.ks.borrow_mut().unwatch(key);
    }
}

/// Parses a timeout in seconds as Redis 7 does (`strtold`, then milliseconds truncated toward
/// zero; a value whose milliseconds overflow counts as negative). Some(None) = forever.
pub fn parse_timeout(arg: &[u8], r: &mut Reply<'_>) -> Option<Option<Duration>> {
    let secs = match parse_seconds(arg) {
        Some(v) => v,
        None => {
            r.error(ErrorCode::Err, errors::TIMEOUT_NOT_FLOAT);
            return None;
        }
    };
    let ms = secs * 1000.0;
    // (long long) of a value out of range is LLONG_MIN on x86: negative.
    if !(ms > -9.223_372_036_854_776e18 && ms < 9.223_372_036_854_776e18) {
        r.error(ErrorCode::Err, errors::TIMEOUT_NEGATIVE);
        return None;
    }
    let ms = ms.trunc() as i64;
    if ms < 0 {
        r.error(ErrorCode::Err, errors::TIMEOUT_NEGATIVE);
        return None;
    }
    Some((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// `strtold` as Redis's `string2ld` uses it: no spaces, not NaN, decimal or hex, `inf`.
fn parse_seconds(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b[0].is_ascii_whitespace() || b.len() > 5120 {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if body.len() > 2 && (body.starts_with("0x") || body.starts_with("0X")) {
        parse_hex_float(&body[2..])?
    } else {
        let v = synap_shard::strings::parse_f64(body.as_bytes())?;
        if body.starts_with(['+', '-']) {
            return None;
        }
        if v.is_infinite() && !body.to_ascii_lowercase().starts_with("inf") {
            // Beyond f64 but maybe within long double: strtold fails (ERANGE) only past
            // about 1e4932.
            let exp = body
                .find(['e', 'E'])
                .and_then(|i| body[i + 1..].parse::<i64>().ok())
                .unwrap_or(0);
            let int_digits = body.split(['.', 'e', 'E']).next().map_or(0, |d| d.len()) as i64;
            if exp + int_digits > 4932 {
                return None;
            }
        }
        v
    };
    Some(if neg { -v } else { v })
}

/// `hhh[.hhh][p[+-]ddd]` (after `0x`).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// A blocking command in progress on its connection.
pub struct Pending {
    shard: Rc<Shard>,
    /// The waiter.
    pub waiter: Arc<Waiter>,
    /// Where the outcome arrives.
    pub rx: oneshot::Receiver<Outcome>,
    /// When it times out (None = never).
    pub deadline: Option<Instant>,
    /// Shards and keys it is registered on.
    regs: Vec<(usize, Vec<Blob>)>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Whatever ended the wait (even the connection task being dropped), no shard may pop
        // for this client any more.
        self.waiter.claim();
        if let Ok(mut reg) = self.shard.blocking.try_borrow_mut() {
            let mine = reg
                .local
                .get(&self.waiter.client)
                .is_some_and(|(w, _)| w.seq == self.waiter.seq);
            if mine {
                reg.local.remove(&self.waiter.client);
            }
        }
    }
}

impl Pending {
    /// Removes the registrations (at once on this shard, by a message on the others).
    pub fn cleanup(&mut self) {
        let seq = self.waiter.seq;
        for (target, keys) in std::mem::take(&mut self.regs) {
            if target == self.shard.id {
                unregister(&self.shard, seq, &keys);
            } else {
                let s = self.shard.clone();
                glommio::spawn_local(async move {
                    s.run_on(target, move |t| unregister(t, seq, &keys)).await;
                })
                .detach();
            }
        }
    }
}

/// How starting a blocking command ended.
pub enum Start {
    /// The reply is written.
    Done,
    /// The client must wait.
    Wait(Pending),
}

/// Parses and first tries a blocking command; writes the reply when it completes at once.
/// With `may_block` false (HTTP), a command that would block answers like a timeout.
pub async fn start(
    shard: &Rc<Shard>,
    client: u64,
    resp3: bool,
    prepare: PrepareFn,
    argv: &[&[u8]],
    may_block: bool,
    out: &mut Vec<u8>,
) -> (Start, Option<ErrorCode>) {
    let mut r = Reply::new(out, resp3);
    let Some(Blocking { mut req, timeout }) = prepare(argv, &mut r) else {
        return (Start::Done, r.errors);
    };
    let deadline = timeout.map(|t| Instant::now() + t);
    req.resp3 = resp3;
    let (tx, rx) = oneshot::channel();
    let waiter = Arc::new(Waiter {
        seq: shard.global.next_block_seq.fetch_add(1, Ordering::Relaxed),
        client,
        req,
        claimed: AtomicBool::new(false),
        tx: Mutex::new(Some(tx)),
    });
    let mut pending = Pending {
        shard: shard.clone(),
        waiter: waiter.clone(),
        rx,
        deadline,
        regs: Vec::new(),
    };
    // Runs of consecutive keys owned by the same shard, tried in argument order.
    let mut runs: Vec<(usize, Vec<Blob>)> = Vec::new();
    for k in &waiter.req.keys {
        let owner = shard.global.slots.shard_of_key(k);
        match runs.last_mut() {
            Some((o, ks)) if *o == owner => ks.push(k.clone()),
            _ => runs.push((owner, vec![k.clone()])),
        }
    }
    let mut first: Option<Served> = None;
    for (target, keys) in runs {
        let (w, ks) = (waiter.clone(), keys.clone());
        let res = shard
            .run_on(target, move |s| attempt(s, &w, &ks, may_block))
            .await;
        match res {
            Some(Attempt::Registered) => pending.regs.push((target, keys)),
            Some(Attempt::Served(s)) => {
                first = Some(s);
                break;
            }
            Some(Attempt::Lost) => break,
            None => {
                // A shard is gone: the server is stopping.
                pending.cleanup();
                r.error(ErrorCode::Err, "ERR shard unavailable (shutting down)");
                return (Start::Done, r.errors);
            }
        }
    }
    if let Some(s) = first {
        pending.cleanup();
        let code = finish(shard, &waiter.req, Outcome::Served(s), resp3, out).await;
        return (Start::Done, code);
    }
    if !may_block && waiter.claim() {
        pending.cleanup();
        // Redis answers a client that may not block (MULTI, scripts) as on a timeout; BLMOVE
        // then replies a null bulk rather than a null array.
        if waiter.req.dest.is_some() {
            r.null();
        } else {
            r.null_array();
        }
        return (Start::Done, None);
    }
    shard
        .blocking
        .borrow_mut()
        .local
        .insert(client, (waiter.clone(), deadline.is_some()));
    (Start::Wait(pending), None)
}

/// Writes the reply for how a wait ended (after the connection saw it end); returns the error
/// code when the reply is an error. `Outcome::Shutdown` writes nothing.
pub async fn finish(
    shard: &Rc<Shard>,
    req: &BlockReq,
    outcome: Outcome,
    resp3: bool,
    out: &mut Vec<u8>,
) -> Option<ErrorCode> {
    let mut r = Reply::new(out, resp3);
    match outcome {
        Outcome::Served(Served::Reply(bytes)) => {
            r.raw(&bytes);
            if bytes.first() == Some(&b'-') {
                let label = bytes[1..].split(|&b| b == b' ').next().unwrap_or(b"");
                return Some(
                    ErrorCode::ALL
                        .into_iter()
                        .find(|c| c.label().as_bytes() == label)
                        .unwrap_or(ErrorCode::Err),
                );
            }
        }
        Outcome::Served(Served::MoveAcross { src, el }) => {
            let (dst, to_left) = match &req.dest {
                Some((d, t)) => (d.to_vec(), *t),
                None => (Vec::new(), false),
            };
            match crate::commands::lists::finish_move(
                shard,
                src.to_vec(),
                dst,
                el,
                req.left,
                to_left,
            )
            .await
            {
                Ok(el) => r.bulk(&el),
                Err(e) => crate::commands::reply_op_error(e, &mut r),
            }
        }
        Outcome::Timeout => r.null_array(),
        Outcome::Error => r.error(ErrorCode::Unblocked, errors::UNBLOCKED),
        Outcome::Shutdown => {}
    }
    r.errors
}

/// The client went away while blocked: nothing may be popped for it any more. If a shard
/// claimed it first, a move across shards still completes (so the element is not lost).
pub async fn abandon(shard: &Rc<Shard>, mut pending: Pending) {
    if !pending.waiter.claim() {
        if let Ok(Outcome::Served(s @ Served::MoveAcross { .. })) = (&mut pending.rx).await {
            let mut sink = Vec::new();
            finish(
                shard,
                &pending.waiter.req,
                Outcome::Served(s),
                false,
                &mut sink,
            )
            .await;
        }
    }
    pending.cleanup();
}

/// CLIENT UNBLOCK on this shard: releases client `id` if it is blocked here.
pub fn unblock(s: &Shard, id: u64, error: bool) -> bool {
    let w = s.blocking.borrow().local.get(&id).map(|(w, _)| w.clone());
    match w {
        Some(w) if w.claim() => {
            w.deliver(if error {
                Outcome::Error
            } else {
                Outcome::Timeout
            });
            true
        }
        _ => false,
    }
}

/// At shutdown: releases every client blocked on this shard (their connections close).
pub fn release_all(s: &Shard) {
    let all: Vec<Arc<Waiter>> = s
        .blocking
        .borrow()
        .local
        .values()
        .map(|(w, _)| w.clone())
        .collect();
    for w in all {
        if w.claim() {
            w.deliver(Outcome::Shutdown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<Option<Duration>, String> {
        let mut out = Vec::new();
        let mut r = Reply::new(&mut out, false);
        match parse_timeout(s.as_bytes(), &mut r) {
            Some(v) => Ok(v),
            None => Err(String::from_utf8_lossy(&out).trim().to_string()),
        }
    }

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(t("0"), Ok(None));
        assert_eq!(t("0.1"), Ok(Some(Duration::from_millis(100))));
        assert_eq!(t("1.5e3"), Ok(Some(Duration::from_secs(1500))));
        assert_eq!(t(".5"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(t("5."), Ok(Some(Duration::from_secs(5))));
        assert_eq!(t("+5"), Ok(Some(Duration::from_secs(5))));
        assert_eq!(t("0x10"), Ok(Some(Duration::from_secs(16))));
        assert_eq!(t("0x1p3"), Ok(Some(Duration::from_secs(8))));
        assert_eq!(t("-0.0001"), Ok(None), "truncated to 0 ms: forever");
        assert_eq!(t("0.0009"), Ok(None));
        assert_eq!(t("1e10"), Ok(Some(Duration::from_secs(10_000_000_000))));
        let neg = Err("-ERR timeout is negative".to_string());
        let nan = Err("-ERR timeout is not a float or out of range".to_string());
        for s in [
            "-1",
            "inf",
            "-inf",
            "infinity",
            "1e400",
            "9223372036854775807",
            "1e16",
        ] {
            assert_eq!(t(s), neg, "{s}");
        }
        for s in ["abc", "nan", " 1", "1 ", "", "1e5000", "--1", "0x"] {
            assert_eq!(t(s), nan, "{s}");
        }
    }
}
