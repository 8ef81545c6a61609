//! The set family. Multi-key commands gather the member lists of their keys (from the owning
//! shards when keys span shards: see `cross::gather_sets`), compute, and reply or store.

use super::flags::*;
use super::{arg_i64, reply_op_error, spec, CommandSpec, Exec, Split};
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use std::collections::HashSet;
use synap_shard::set::SetValue;
use synap_shard::{Keyspace, OpError, Value};

const G: &str = "set";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let one = (1, 1, 1);
    let all = (1, -1, 1);
    let sh = |f: super::ShardFn| Exec::Shard(f, Split::None);
    let gather = |f: super::ShardFn| Exec::Shard(f, Split::Gather);
    let rd: &[&str] = &["read", "set", "fast"];
    let wr: &[&str] = &["write", "set", "fast"];
    let rs: &[&str] = &["read", "set", "slow"];
    let ws: &[&str] = &["write", "set", "slow"];
    t.push(spec("sadd", -3, WRITE | DENYOOM | FAST, one, wr, G, "Adds one or more members to a set. Creates the key if it doesn't exist.", sh(sadd)));
    t.push(spec("srem", -3, WRITE | FAST, one, wr, G, "Removes one or more members from a set. Deletes the set if the last member was removed.", sh(srem)));
    t.push(spec("smembers", 2, READONLY, one, rs, G, "Returns all members of a set.", sh(smembers)));
    t.push(spec("sismember", 3, READONLY | FAST, one, rd, G, "Determines whether a member belongs to a set.", sh(sismember)));
    t.push(spec("smismember", -3, READONLY | FAST, one, rd, G, "Determines whether multiple members belong to a set.", sh(smismember)));
    t.push(spec("scard", 2, READONLY | FAST, one, rd, G, "Returns the number of members in a set.", sh(scard)));
    t.push(spec("spop", -2, WRITE | FAST, one, wr, G, "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", sh(spop)));
    t.push(spec("srandmember", -2, READONLY, one, rs, G, "Get one or multiple random members from a set", sh(srandmember)));
    t.push(spec("sscan", -3, READONLY, one, rs, G, "Iterates over members of a set.", sh(sscan)));
    t.push(spec("sunion", -2, READONLY, all, rs, G, "Returns the union of multiple sets.", gather(sunion)));
    t.push(spec("sinter", -2, READONLY, all, rs, G, "Returns the intersect of multiple sets.", gather(sinter)));
    t.push(spec("sdiff", -2, READONLY, all, rs, G, "Returns the difference of multiple sets.", gather(sdiff)));
    t.push(spec("sunionstore", -3, WRITE | DENYOOM, all, ws, G, "Stores the union of multiple sets in a key.", gather(sunionstore)));
    t.push(spec("sinterstore", -3, WRITE | DENYOOM, all, ws, G, "Stores the intersect of multiple sets in a key.", gather(sinterstore)));
    t.push(spec("sdiffstore", -3, WRITE | DENYOOM, all, ws, G, "Stores the difference of multiple sets in a key.", gather(sdiffstore)));
    t.push(spec("sintercard", -3, READONLY, (2, -1, 1), rs, G, "Returns the number of members of the intersect of multiple sets.", gather(sintercard)).numkeys(1));
    t.push(spec("smove", 4, WRITE | FAST, (1, 2, 1), wr, G, "Moves a member from one set to another.", gather(smove)));
}

/// The set at `key` (None = missing), or WRONGTYPE.
pub(crate) fn read_set<'a>(
    ks: &'a mut Keyspace,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a SetValue>, OpError> {
    super::read_as(ks, key, now)
}

/// Runs `f` on the set at `key` (created when `create`); WRONGTYPE when another type.
fn write_set<R>(
    ks: &mut Keyspace,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut SetValue) -> R,
) -> Result<Option<R>, OpError> {
    super::write_as(ks, key, now, create, f)
}

/// Replaces `key` with a set of `members` (deleting it when empty); returns the cardinality.
pub(crate) fn store_set(
    ks: &mut Keyspace,
    key: &[u8],
    members: &[Vec<u8>],
    lim: synap_shard::set::SetLimits,
    now: u64,
) -> usize {
    ks.remove(key, now);
    if members.is_empty() {
        return 0;
    }
    let mut s = SetValue::default();
    for m in members {
        s.add(m, lim);
    }
    let n = s.len();
    ks.insert(key, Value::Set(s), 0, now);
    n
}

/// Set algebra over gathered member lists (None = missing key = empty set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algebra {
    Union,
    Inter,
    Diff,
}

pub(crate) fn compute(op: Algebra, sets: &[Option<Vec<Vec<u8>>>]) -> Vec<Vec<u8>> {
    let empty = Vec::new();
    let get = |i: usize| sets[i].as_ref().unwrap_or(&empty);
    match op {
        Algebra::Union => {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for i in 0..sets.len() {
                for m in get(i) {
                    if seen.insert(m.clone()) {
                        out.push(m.clone());
                    }
                }
            }
            out
        }
        Algebra::Inter => {
            if sets.iter().any(|s| s.as_ref().is_none_or(|v| v.is_empty())) {
                return Vec::new();
            }
            let others: Vec<HashSet<&Vec<u8>>> =
                (1..sets.len()).map(|i| get(i).iter().collect()).collect();
            get(0)
                .iter()
                .filter(|m| others.iter().all(|o| o.contains(m)))
                .cloned()
                .collect()
        }
        Algebra::Diff => {
            let others: HashSet<&Vec<u8>> = (1..sets.len()).flat_map(|i| get(i).iter()).collect();
            get(0)
                .iter()
                .filter(|m| !others.contains(m))
                .cloned()
                .collect()
        }
    }
}

/// Gathers the member lists of `keys` from this shard's keyspace.
fn gather_local(
    ctx: &mut ShardCtx<'_>,
    keys: &[&[u8]],
) -> Result<Vec<Option<Vec<Vec<u8>>>>, OpError> {
    keys.iter()
        .map(|k| read_set(ctx.ks, k, ctx.now).map(|s| s.map(|s| s.members())))
        .collect()
}

fn reply_members(r: &mut Reply<'_>, members: &[Vec<u8>]) {
    r.set(members.len());
    for m in members {
        r.bulk(m);
    }
}

fn algebra_local(
    ctx: &mut ShardCtx<'_>,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
    op: Algebra,
    store: bool,
) {
    let keys = if store { &argv[2..] } else { &argv[1..] };
    match gather_local(ctx, keys) {
        Err(e) => reply_op_error(e, r),
        Ok(sets) => {
            let out = compute(op, &sets);
            if store {
                let lim = ctx.shard.set_limits.get();
                r.int(store_set(ctx.ks, argv[1], &out, lim, ctx.now) as i64);
            } else {
                reply_members(r, &out);
            }
        }
    }
}

fn sunion(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, Algebra::Union, false)
}
fn sinter(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, Algebra::Inter, false)
}
fn sdiff(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, Algebra::Diff, false)
}
fn sunionstore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, Algebra::Union, true)
}
fn sinterstore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, Algebra::Inter, true)
}
fn sdiffstore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, Algebra::Diff, true)
}

/// Parses SINTERCARD's `numkeys key… [LIMIT n]`: (keys, limit) or an error replied.
pub(crate) fn sintercard_args<'a>(
    argv: &[&'a [u8]],
    r: &mut Reply<'_>,
) -> Option<(Vec<&'a [u8]>, usize)> {
    let n = match synap_shard::strings::parse_i64(argv[1]) {
        Some(n) if n > 0 => n as usize,
        Some(_) => {
            r.error(ErrorCode::Err, "ERR numkeys should be greater than 0");
            return None;
        }
        None => {
            r.error(ErrorCode::Err, "ERR numkeys should be greater than 0");
            return None;
        }
    };
    if argv.len() < 2 + n {
        r.error(
            ErrorCode::Err,
            "ERR Number of keys can't be greater than number of args",
        );
        return None;
    }
    let keys = argv[2..2 + n].to_vec();
    let rest = &argv[2 + n..];
    let limit = match rest {
        [] => 0,
        [l, v] if l.eq_ignore_ascii_case(b"LIMIT") => match synap_shard::strings::parse_i64(v) {
            Some(x) if x >= 0 => x as usize,
            _ => {
                r.error(ErrorCode::Err, "ERR LIMIT can't be negative");
                return None;
            }
        },
        _ => {
            r.error(ErrorCode::Err, errors::SYNTAX);
            return None;
        }
    };
    Some((keys, limit))
}

fn sintercard(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some((keys, limit)) = sintercard_args(argv, r) else {
        return;
    };
    match gather_local(ctx, &keys) {
        Err(e) => reply_op_error(e, r),
        Ok(sets) => {
            let n = compute(Algebra::Inter, &sets).len();
            r.int(if limit > 0 { n.min(limit) } else { n } as i64);
        }
    }
}

fn smove(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    // Redis's order: a missing source is 0, then both types are checked, then membership.
    let (src, dst, m) = (argv[1], argv[2], argv[3]);
    let src_has = match read_set(ctx.ks, src, ctx.now) {
        Ok(None) => return r.int(0),
        Err(e) => return reply_op_error(e, r),
        Ok(Some(s)) => s.contains(m),
    };
    if let Err(e) = read_set(ctx.ks, dst, ctx.now) {
        return reply_op_error(e, r);
    }
    if !src_has || src == dst {
        return r.int(src_has as i64);
    }
    let lim = ctx.shard.set_limits.get();
    let _ = write_set(ctx.ks, src, ctx.now, false, |s| s.remove(m));
    let _ = write_set(ctx.ks, dst, ctx.now, true, |s| s.add(m, lim));
    r.int(1);
}

fn sadd(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let lim = ctx.shard.set_limits.get();
    match write_set(ctx.ks, argv[1], ctx.now, true, |s| {
        argv[2..].iter().filter(|m| s.add(m, lim)).count()
    }) {
        Ok(n) => r.int(n.unwrap_or(0) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn srem(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match write_set(ctx.ks, argv[1], ctx.now, false, |s| {
        argv[2..].iter().filter(|m| s.remove(m)).count()
    }) {
        Ok(n) => r.int(n.unwrap_or(0) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn smembers(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match read_set(ctx.ks, argv[1], ctx.now) {
        Ok(s) => reply_members(r, &s.map(|s| s.members()).unwrap_or_default()),
        Err(e) => reply_op_error(e, r),
    }
}

fn sismember(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match read_set(ctx.ks, argv[1], ctx.now) {
        Ok(s) => r.int(s.is_some_and(|s| s.contains(argv[2])) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn smismember(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match read_set(ctx.ks, argv[1], ctx.now) {
        Ok(s) => {
            r.array(argv.len() - 2);
            for m in &argv[2..] {
                r.int(s.is_some_and(|s| s.contains(m)) as i64);
            }
        }
        Err(e) => reply_op_error(e, r),
    }
}

fn scard(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match read_set(ctx.ks, argv[1], ctx.now) {
        Ok(s) => r.int(s.map_or(0, |s| s.len()) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn spop(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let count = match argv.len() {
        2 => None,
        3 => match synap_shard::strings::parse_i64(argv[2]) {
            Some(c) if c >= 0 => Some(c as usize),
            _ => {
                return r.error(
                    ErrorCode::Err,
                    "ERR value is out of range, must be positive",
                )
            }
        },
        _ => return r.error(ErrorCode::Err, errors::SYNTAX),
    };
    let popped = write_set(ctx.ks, argv[1], ctx.now, false, |s| {
        let want = count.unwrap_or(1).min(s.len());
        let mut out = Vec::with_capacity(want);
        for _ in 0..want {
            let i = rand::random::<usize>() % s.len();
            if let Some(m) = s.member_at(i) {
                s.remove(&m);
                out.push(m);
            }
        }
        out
    });
    // Random choices are replayed as the members they removed.
    if let Ok(Some(p)) = &popped {
        let mut cmd: Vec<&[u8]> = vec![b"SREM", argv[1]];
        cmd.extend(p.iter().map(|m| m.as_slice()));
        if cmd.len() > 2 {
            ctx.journal_command(&cmd);
        } else {
            ctx.journaled = true;
        }
    }
    match (popped, count) {
        (Err(e), _) => reply_op_error(e, r),
        (Ok(p), None) => r.opt_bulk(p.as_ref().and_then(|v| v.first()).map(|m| m.as_slice())),
        (Ok(p), Some(_)) => reply_members(r, &p.unwrap_or_default()),
    }
}

fn srandmember(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let count = match argv.len() {
        2 => None,
        3 => match arg_i64(argv[2], r) {
            Some(c) => Some(c),
            None => return,
        },
        _ => return r.error(ErrorCode::Err, errors::SYNTAX),
    };
    let s = match read_set(ctx.ks, argv[1], ctx.now) {
        Ok(s) => s,
        Err(e) => return reply_op_error(e, r),
    };
    let n = s.map_or(0, |s| s.len());
    let Some(count) = count else {
        return r.opt_bulk(
            s.filter(|_| n > 0)
                .and_then(|s| s.member_at(rand::random::<usize>() % n))
                .as_deref(),
        );
    };
    let members = s.map(|s| s.members()).unwrap_or_default();
    let picks = super::random_picks(n, count);
    r.array(picks.len());
    for i in picks {
        r.bulk(&members[i]);
    }
}

fn sscan(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(args) = super::ScanArgs::parse(argv, 2, false, r) else {
        return;
    };
    let s = match read_set(ctx.ks, argv[1], ctx.now) {
        Ok(s) => s,
        Err(e) => return reply_op_error(e, r),
    };
    let members = s.map(|s| s.members()).unwrap_or_default();
    let refs: Vec<&[u8]> = members.iter().map(|m| m.as_slice()).collect();
    let compact = s.is_some_and(|s| !matches!(s, SetValue::Table(_)));
    let (next, chosen) = args.step(&refs, compact, |m| m);
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(chosen.len());
    for m in chosen {
        r.bulk(m);
    }
}

/// Gathers the member lists of `keys` from their owning shards.
async fn gather_across(
    shard: &std::rc::Rc<crate::shard::Shard>,
    keys: &[&[u8]],
) -> Result<Vec<Option<Vec<Vec<u8>>>>, OpError> {
    let futs = keys.iter().map(|k| {
        let key = k.to_vec();
        let owner = shard.global.slots.shard_of_key(&key);
        shard.run_on(owner, move |s| {
            let now = synap_shard::time::now_ms();
            read_set(&mut s.ks.borrow_mut(), &key, now).map(|o| o.map(|set| set.members()))
        })
    });
    futures::future::join_all(futs)
        .await
        .into_iter()
        .map(|r| r.unwrap_or(Ok(None)))
        .collect()
}

/// The multi-key set commands when their keys live on several shards: gather, compute, then
/// reply or store on the destination's shard. (Each step is atomic on its shard; the command
/// as a whole is not, like the other cross-shard commands.)
pub(crate) async fn across(
    conn: &mut crate::connection::ConnState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
) {
    let shard = conn.shard.clone();
    let op = match spec.name {
        "sunion" | "sunionstore" => Algebra::Union,
        "sinter" | "sinterstore" | "sintercard" => Algebra::Inter,
        "sdiff" | "sdiffstore" => Algebra::Diff,
        "smove" => return smove_across(&shard, argv, r).await,
        _ => return r.error(ErrorCode::Err, "ERR unsupported cross-shard command"),
    };
    if spec.name == "sintercard" {
        let Some((keys, limit)) = sintercard_args(argv, r) else {
            return;
        };
        return match gather_across(&shard, &keys).await {
            Err(e) => reply_op_error(e, r),
            Ok(sets) => {
                let n = compute(op, &sets).len();
                r.int(if limit > 0 { n.min(limit) } else { n } as i64)
            }
        };
    }
    let store = spec.name.ends_with("store");
    let keys = if store { &argv[2..] } else { &argv[1..] };
    let sets = match gather_across(&shard, keys).await {
        Ok(s) => s,
        Err(e) => return reply_op_error(e, r),
    };
    let out = compute(op, &sets);
    if !store {
        return reply_members(r, &out);
    }
    let dest = argv[1].to_vec();
    let owner = shard.global.slots.shard_of_key(&dest);
    let n = shard
        .run_on(owner, move |s| {
            let lim = s.set_limits.get();
            let n = store_set(
                &mut s.ks.borrow_mut(),
                &dest,
                &out,
                lim,
                synap_shard::time::now_ms(),
            );
            s.journal_key(&dest);
            n
        })
        .await
        .unwrap_or(0);
    r.int(n as i64);
}

async fn smove_across(shard: &std::rc::Rc<crate::shard::Shard>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let (src, dst, m) = (argv[1].to_vec(), argv[2].to_vec(), argv[3].to_vec());
    let slots = &shard.global.slots;
    let (s_src, s_dst) = (slots.shard_of_key(&src), slots.shard_of_key(&dst));
    // Same checks as Redis, in its order: missing source (0), types, then membership.
    let src_key = src.clone();
    let src_state = shard
        .run_on(s_src, move |s| {
            read_set(
                &mut s.ks.borrow_mut(),
                &src_key,
                synap_shard::time::now_ms(),
            )
            .map(|o| o.is_some())
        })
        .await
        .unwrap_or(Ok(false));
    match src_state {
        Ok(false) => return r.int(0),
        Err(e) => return reply_op_error(e, r),
        Ok(true) => {}
    }
    let check_dst = dst.clone();
    let dst_ok = shard
        .run_on(s_dst, move |s| {
            read_set(
                &mut s.ks.borrow_mut(),
                &check_dst,
                synap_shard::time::now_ms(),
            )
            .map(|_| ())
        })
        .await
        .unwrap_or(Ok(()));
    if let Err(e) = dst_ok {
        return reply_op_error(e, r);
    }
    let (src_key, member) = (src.clone(), m.clone());
    let removed = shard
        .run_on(s_src, move |s| {
            let removed = write_set(
                &mut s.ks.borrow_mut(),
                &src_key,
                synap_shard::time::now_ms(),
                false,
                |set| set.remove(&member),
            )
            .map(|o| o.unwrap_or(false));
            if matches!(removed, Ok(true)) {
                s.journal_command(&[&b"SREM"[..], &src_key, &member]);
            }
            removed
        })
        .await
        .unwrap_or(Ok(false));
    match removed {
        Err(e) => reply_op_error(e, r),
        Ok(false) => r.int(0),
        Ok(true) => {
            shard
                .run_on(s_dst, move |s| {
                    let lim = s.set_limits.get();
                    let _ = write_set(
                        &mut s.ks.borrow_mut(),
                        &dst,
                        synap_shard::time::now_ms(),
                        true,
                        |set| set.add(&m, lim),
                    );
                    s.journal_command(&[&b"SADD"[..], &dst, &m]);
                })
                .await;
            r.int(1);
        }
    }
}
