//! The sorted set family, with Redis 7's replies and errors (ZRANK/ZREVRANK also take 7.2's
//! WITHSCORE). Multi-key commands (ZUNION…, ZRANGESTORE, ZMPOP) run here when their keys share
//! a shard and in `across` (gather from the owning shards, store on the destination's) when
//! they do not. Blocking pops are not here yet: they will reuse [`pop_min_max`] and the
//! reply helpers.

use super::flags::*;
use super::{arg_i64, reply_op_error, spec, CommandSpec, Exec, Split};
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use std::collections::HashMap;
use synap_shard::zset::score::{format_score, parse_score, LexRange, ScoreRange};
use synap_shard::zset::{AddFlags, AddOutcome, ZsetLimits, ZsetValue};
use synap_shard::{Keyspace, OpError, Value};

const G: &str = "sorted_set";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let one = (1, 1, 1);
    let none = (0, 0, 0);
    let sh = |f: super::ShardFn| Exec::Shard(f, Split::None);
    let gather = |f: super::ShardFn| Exec::Shard(f, Split::Gather);
    let rd: &[&str] = &["read", "sortedset", "fast"];
    let wr: &[&str] = &["write", "sortedset", "fast"];
    let rs: &[&str] = &["read", "sortedset", "slow"];
    let ws: &[&str] = &["write", "sortedset", "slow"];
    t.push(spec("zadd", -4, WRITE | DENYOOM | FAST, one, wr, G, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", sh(zadd)));
    t.push(spec("zincrby", 4, WRITE | DENYOOM | FAST, one, wr, G, "Increments the score of a member in a sorted set.", sh(zincrby)));
    t.push(spec("zrem", -3, WRITE | FAST, one, wr, G, "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", sh(zrem)));
    t.push(spec("zscore", 3, READONLY | FAST, one, rd, G, "Returns the score of a member in a sorted set.", sh(zscore)));
    t.push(spec("zmscore", -3, READONLY | FAST, one, rd, G, "Returns the score of one or more members in a sorted set.", sh(zmscore)));
    t.push(spec("zcard", 2, READONLY | FAST, one, rd, G, "Returns the number of members in a sorted set.", sh(zcard)));
    t.push(spec("zcount", 4, READONLY | FAST, one, rd, G, "Returns the count of members in a sorted set that have scores within a range.", sh(zcount)));
    t.push(spec("zlexcount", 4, READONLY | FAST, one, rd, G, "Returns the number of members in a sorted set within a lexicographical range.", sh(zlexcount)));
    t.push(spec("zrank", -3, READONLY | FAST, one, rd, G, "Returns the index of a member in a sorted set ordered by ascending scores.", sh(zrank)));
    t.push(spec("zrevrank", -3, READONLY | FAST, one, rd, G, "Returns the index of a member in a sorted set ordered by descending scores.", sh(zrevrank)));
    t.push(spec("zrange", -4, READONLY, one, rs, G, "Returns members in a sorted set within a range of indexes.", sh(zrange)));
    t.push(spec("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), ws, G, "Stores a range of members from sorted set in a key.", gather(zrangestore)));
    t.push(spec("zrevrange", -4, READONLY, one, rs, G, "Returns members in a sorted set within a range of indexes in reverse order.", sh(zrevrange)));
    t.push(spec("zrangebyscore", -4, READONLY, one, rs, G, "Returns members in a sorted set within a range of scores.", sh(zrangebyscore)));
    t.push(spec("zrevrangebyscore", -4, READONLY, one, rs, G, "Returns members in a sorted set within a range of scores in reverse order.", sh(zrevrangebyscore)));
    t.push(spec("zrangebylex", -4, READONLY, one, rs, G, "Returns members in a sorted set within a lexicographical range.", sh(zrangebylex)));
    t.push(spec("zrevrangebylex", -4, READONLY, one, rs, G, "Returns members in a sorted set within a lexicographical range in reverse order.", sh(zrevrangebylex)));
    t.push(spec("zremrangebyrank", 4, WRITE, one, ws, G, "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", sh(zremrangebyrank)));
    t.push(spec("zremrangebyscore", 4, WRITE, one, ws, G, "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", sh(zremrangebyscore)));
    t.push(spec("zremrangebylex", 4, WRITE, one, ws, G, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", sh(zremrangebylex)));
    t.push(spec("zpopmin", -2, WRITE | FAST, one, wr, G, "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", sh(zpopmin)));
    t.push(spec("zpopmax", -2, WRITE | FAST, one, wr, G, "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", sh(zpopmax)));
    t.push(spec("zmpop", -4, WRITE, none, ws, G, "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", gather(zmpop)).numkeys(1));
    t.push(spec("zunion", -3, READONLY, none, rs, G, "Returns the union of multiple sorted sets.", gather(zunion)).numkeys(1));
    t.push(spec("zinter", -3, READONLY, none, rs, G, "Returns the intersect of multiple sorted sets.", gather(zinter)).numkeys(1));
    t.push(spec("zdiff", -3, READONLY, none, rs, G, "Returns the difference between multiple sorted sets.", gather(zdiff)).numkeys(1));
    t.push(spec("zunionstore", -4, WRITE | DENYOOM, one, ws, G, "Stores the union of multiple sorted sets in a key.", gather(zunionstore)).numkeys(2));
    t.push(spec("zinterstore", -4, WRITE | DENYOOM, one, ws, G, "Stores the intersect of multiple sorted sets in a key.", gather(zinterstore)).numkeys(2));
    t.push(spec("zdiffstore", -4, WRITE | DENYOOM, one, ws, G, "Stores the difference of multiple sorted sets in a key.", gather(zdiffstore)).numkeys(2));
    t.push(spec("zintercard", -3, READONLY, none, rs, G, "Returns the number of members of the intersect of multiple sorted sets.", gather(zintercard)).numkeys(1));
    t.push(spec("zrandmember", -2, READONLY, one, rs, G, "Returns one or more random members from a sorted set.", sh(zrandmember)));
    t.push(spec("zscan", -3, READONLY, one, rs, G, "Iterates over members and scores of a sorted set.", sh(zscan)));
}

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The sorted set at `key` (None = missing), or WRONGTYPE.
fn read_zset<'a>(
    ks: &'a mut Keyspace,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a ZsetValue>, OpError> {
    super::read_as(ks, key, now)
}

/// Runs `f` on the sorted set at `key` (created empty when `create`); WRONGTYPE when another
/// type. A set left empty is deleted.
fn write_zset<R>(
    ks: &mut Keyspace,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut ZsetValue) -> R,
) -> Result<Option<R>, OpError> {
    super::write_as(ks, key, now, create, f)
}

/// Members and scores, owned (what pops return and gathers carry between shards).
pub(crate) type Entries = Vec<(Vec<u8>, f64)>;

/// Replaces `key` with a sorted set of `entries` (distinct members; deleting the key when
/// empty), packed when `lim` allows; returns its size.
pub(crate) fn store_zset(
    ks: &mut Keyspace,
    key: &[u8],
    entries: Vec<(Vec<u8>, f64)>,
    lim: ZsetLimits,
    now: u64,
) -> usize {
    ks.remove(key, now);
    let n = entries.len();
    if n > 0 {
        let z = ZsetValue::from_entries(entries, lim);
        ks.insert(key, Value::Zset(Box::new(z)), 0, now);
    }
    n
}

/// Replies `(member, score)` pairs: a flat array in RESP2, pairs in RESP3 (or members only).
pub(crate) fn reply_entries<M: AsRef<[u8]>>(
    r: &mut Reply<'_>,
    entries: &[(M, f64)],
    withscores: bool,
) {
    let nested = withscores && r.resp3();
    r.array(entries.len() * if withscores && !nested { 2 } else { 1 });
    for (m, s) in entries {
        if nested {
            r.array(2);
        }
        r.bulk(m.as_ref());
        if withscores {
            r.double(*s);
        }
    }
}

/// Pops up to `count` members with the lowest scores (highest when `max`) from the sorted
/// set at `key`, deleting it when emptied: None when the key is missing, WRONGTYPE for
/// another type. ZPOPMIN/ZPOPMAX/ZMPOP use it, and the blocking variants will once a key is
/// ready.
pub(crate) fn pop_min_max(
    ks: &mut Keyspace,
    key: &[u8],
    now: u64,
    max: bool,
    count: usize,
) -> Result<Option<Entries>, OpError> {
    write_zset(ks, key, now, false, |z| z.pop(max, count))
}

/// The ZMPOP / BZMPOP reply: `[key, [[member, score]…]]`.
pub(crate) fn reply_mpop(r: &mut Reply<'_>, key: &[u8], popped: &[(Vec<u8>, f64)]) {
    r.array(2);
    r.bulk(key);
    r.array(popped.len());
    for (m, s) in popped {
        r.array(2);
        r.bulk(m);
        r.double(*s);
    }
}

// ---- ZADD, ZINCRBY, ZREM, lookups ----------------------------------------------------------

fn zadd_generic(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, incr_cmd: bool) {
    let mut f = AddFlags {
        incr: incr_cmd,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < argv.len() {
        let o = argv[i];
        if o.eq_ignore_ascii_case(b"nx") {
            f.nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            f.xx = true;
        } else if o.eq_ignore_ascii_case(b"ch") {
            ch = true;
        } else if o.eq_ignore_ascii_case(b"incr") {
            f.incr = true;
        } else if o.eq_ignore_ascii_case(b"gt") {
            f.gt = true;
        } else if o.eq_ignore_ascii_case(b"lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &argv[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return r.error(ErrorCode::Err, errors::SYNTAX);
    }
    if f.nx && f.xx {
        return r.error(
            ErrorCode::Err,
            "ERR XX and NX options at the same time are not compatible",
        );
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return r.error(
            ErrorCode::Err,
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        );
    }
    if f.incr && pairs.len() > 2 {
        return r.error(
            ErrorCode::Err,
            "ERR INCR option supports a single increment-element pair",
        );
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for p in pairs.chunks_exact(2) {
        match parse_score(p[0]) {
            Some(s) => scores.push(s),
            None => return r.error(ErrorCode::Err, errors::NOT_FLOAT),
        }
    }
    let lim = ctx.shard.zset_limits.get();
    let res = write_zset(ctx.ks, argv[1], ctx.now, !f.xx, |z| {
        let (mut added, mut updated, mut processed, mut last) = (0, 0, 0, 0.0);
        for (p, &s) in pairs.chunks_exact(2).zip(&scores) {
            match z.add(p[1], s, f, lim) {
                AddOutcome::NotANumber => return Err(()),
                AddOutcome::Added(v) => (added, processed, last) = (added + 1, processed + 1, v),
                AddOutcome::Updated(v) => {
                    (updated, processed, last) = (updated + 1, processed + 1, v)
                }
                AddOutcome::Unchanged(v) => (processed, last) = (processed + 1, v),
                AddOutcome::Skipped => {}
            }
        }
        Ok((added, updated, processed, last))
    });
    match res {
        Err(e) => reply_op_error(e, r),
        Ok(Some(Err(()))) => r.error(ErrorCode::Err, "ERR resulting score is not a number (NaN)"),
        Ok(done) => {
            let (added, updated, processed, last) =
                done.and_then(|d| d.ok()).unwrap_or((0, 0, 0, 0.0));
            if f.incr {
                if processed > 0 {
                    r.double(last)
                } else {
                    r.null()
                }
            } else {
                r.int(if ch { added + updated } else { added })
            }
        }
    }
}

fn zadd(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    zadd_generic(c, a, r, false)
}
fn zincrby(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    zadd_generic(c, a, r, true)
}

fn zrem(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match write_zset(ctx.ks, argv[1], ctx.now, false, |z| {
        argv[2..].iter().filter(|m| z.remove(m)).count()
    }) {
        Ok(n) => r.int(n.unwrap_or(0) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn zscore(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match read_zset(ctx.ks, argv[1], ctx.now) {
        Ok(z) => match z.and_then(|z| z.score(argv[2])) {
            Some(s) => r.double(s),
            None => r.null(),
        },
        Err(e) => reply_op_error(e, r),
    }
}

fn zmscore(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match read_zset(ctx.ks, argv[1], ctx.now) {
        Ok(z) => {
            r.array(argv.len() - 2);
            for m in &argv[2..] {
                match z.and_then(|z| z.score(m)) {
                    Some(s) => r.double(s),
                    None => r.null(),
                }
            }
        }
        Err(e) => reply_op_error(e, r),
    }
}

fn zcard(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match read_zset(ctx.ks, argv[1], ctx.now) {
        Ok(z) => r.int(z.map_or(0, |z| z.len()) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn zcount(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(range) = ScoreRange::parse(argv[2], argv[3]) else {
        return r.error(ErrorCode::Err, NOT_FLOAT_RANGE);
    };
    match read_zset(ctx.ks, argv[1], ctx.now) {
        Ok(z) => r.int(z.map_or(0, |z| {
            let (s, e) = z.score_span(&range);
            e - s
        }) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn zlexcount(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(range) = LexRange::parse(argv[2], argv[3]) else {
        return r.error(ErrorCode::Err, NOT_LEX_RANGE);
    };
    match read_zset(ctx.ks, argv[1], ctx.now) {
        Ok(z) => r.int(z.map_or(0, |z| {
            let (s, e) = z.lex_span(&range, false);
            e - s
        }) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn rank_generic(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, rev: bool) {
    if argv.len() > 4 {
        return r.error(
            ErrorCode::Err,
            &errors::arity(if rev { "zrevrank" } else { "zrank" }),
        );
    }
    let withscore = match argv.get(3) {
        None => false,
        Some(o) if o.eq_ignore_ascii_case(b"withscore") => true,
        Some(_) => return r.error(ErrorCode::Err, errors::SYNTAX),
    };
    match read_zset(ctx.ks, argv[1], ctx.now) {
        Err(e) => reply_op_error(e, r),
        Ok(z) => match (z.and_then(|z| z.rank(argv[2], rev)), withscore) {
            (Some((rank, _)), false) => r.int(rank as i64),
            (Some((rank, s)), true) => {
                r.array(2);
                r.int(rank as i64);
                r.double(s);
            }
            (None, false) => r.null(),
            (None, true) => r.null_array(),
        },
    }
}

fn zrank(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    rank_generic(c, a, r, false)
}
fn zrevrank(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    rank_generic(c, a, r, true)
}

// ---- ZRANGE and friends ---------------------------------------------------------------------

/// What a range selects.
#[derive(Clone, Debug)]
enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A parsed ZRANGE-style request.
#[derive(Clone, Debug)]
pub(crate) struct RangeReq {
    spec: Spec,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Parses `<src> <min> <max> [options]` from `argv[at..]` as Redis's zrangeGenericCommand
/// does; `kind` / `rev` are fixed by the older commands (ZRANGEBYSCORE…).
fn parse_range(
    argv: &[&[u8]],
    at: usize,
    store: bool,
    mut kind: Kind,
    mut rev: Option<bool>,
    r: &mut Reply<'_>,
) -> Option<RangeReq> {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = at + 3;
    while j < argv.len() {
        let o = argv[j];
        let left = argv.len() - j - 1;
        if !store && o.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if o.eq_ignore_ascii_case(b"limit") && left >= 2 {
            offset = arg_i64(argv[j + 1], r)?;
            limit = arg_i64(argv[j + 2], r)?;
            j += 2;
        } else if rev.is_none() && o.eq_ignore_ascii_case(b"rev") {
            rev = Some(true);
        } else if kind == Kind::Auto && o.eq_ignore_ascii_case(b"bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && o.eq_ignore_ascii_case(b"byscore") {
            kind = Kind::Score;
        } else {
            r.error(ErrorCode::Err, errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        r.error(
            ErrorCode::Err,
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return None;
    }
    if withscores && kind == Kind::Lex {
        r.error(
            ErrorCode::Err,
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        );
        return None;
    }
    let (mut lo, mut hi) = (argv[at + 1], argv[at + 2]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let spec = match kind {
        Kind::Score => match ScoreRange::parse(lo, hi) {
            Some(s) => Spec::Score(s),
            None => {
                r.error(ErrorCode::Err, NOT_FLOAT_RANGE);
                return None;
            }
        },
        Kind::Lex => match LexRange::parse(lo, hi) {
            Some(l) => Spec::Lex(l),
            None => {
                r.error(ErrorCode::Err, NOT_LEX_RANGE);
                return None;
            }
        },
        _ => Spec::Rank(arg_i64(lo, r)?, arg_i64(hi, r)?),
    };
    Some(RangeReq {
        spec,
        rev,
        withscores,
        offset,
        limit,
    })
}

/// The ascending ranks `from..to` a request selects, and whether to walk them backwards.
fn select(z: &ZsetValue, q: &RangeReq) -> (usize, usize) {
    let len = z.len() as i64;
    let (s, e) = match &q.spec {
        Spec::Rank(start, end) => {
            let mut start = if *start < 0 { len + start } else { *start };
            let mut end = if *end < 0 { len + end } else { *end };
            if start < 0 {
                start = 0;
            }
            if start > end || start >= len {
                return (0, 0);
            }
            if end >= len {
                end = len - 1;
            }
            if q.rev {
                (start, end) = (len - 1 - end, len - 1 - start);
            }
            return (start as usize, end as usize + 1);
        }
        Spec::Score(range) => z.score_span(range),
        Spec::Lex(range) => z.lex_span(range, q.rev),
    };
    // LIMIT: a negative offset or one past the set's size selects nothing (as in Redis);
    // a negative count means all.
    if q.offset < 0 || (q.offset > 0 && q.offset >= len) {
        return (0, 0);
    }
    let (s, e, off) = (s as u64, e as u64, q.offset as u64);
    let take = if q.limit < 0 {
        u64::MAX
    } else {
        q.limit as u64
    };
    if e.saturating_sub(s) <= off {
        return (0, 0);
    }
    if q.rev {
        let hi = e - off;
        (hi.saturating_sub(take).max(s) as usize, hi as usize)
    } else {
        let lo = s + off;
        (lo as usize, lo.saturating_add(take).min(e) as usize)
    }
}

/// The entries a request selects, in reply order.
fn range_entries(z: &ZsetValue, q: &RangeReq) -> Vec<(Vec<u8>, f64)> {
    let (from, to) = select(z, q);
    z.range(from, to, q.rev)
}

fn range_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
    kind: Kind,
    rev: Option<bool>,
) {
    let Some(q) = parse_range(argv, 1, false, kind, rev, r) else {
        return;
    };
    let z = match read_zset(ctx.ks, argv[1], ctx.now) {
        Err(e) => return reply_op_error(e, r),
        Ok(None) => return r.array(0),
        Ok(Some(z)) => z,
    };
    let (from, to) = select(z, &q);
    let n = to - from;
    let nested = q.withscores && r.resp3();
    r.array(n * if q.withscores && !nested { 2 } else { 1 });
    z.visit(from, to, q.rev, |m, s| {
        if nested {
            r.array(2);
        }
        r.bulk(m);
        if q.withscores {
            r.double(s);
        }
    });
}

fn zrange(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    range_generic(c, a, r, Kind::Auto, None)
}
fn zrevrange(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    range_generic(c, a, r, Kind::Rank, Some(true))
}
fn zrangebyscore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    range_generic(c, a, r, Kind::Score, Some(false))
}
fn zrevrangebyscore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    range_generic(c, a, r, Kind::Score, Some(true))
}
fn zrangebylex(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    range_generic(c, a, r, Kind::Lex, Some(false))
}
fn zrevrangebylex(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    range_generic(c, a, r, Kind::Lex, Some(true))
}

fn zrangestore(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(q) = parse_range(argv, 2, true, Kind::Auto, None, r) else {
        return;
    };
    let entries = match read_zset(ctx.ks, argv[2], ctx.now) {
        Err(e) => return reply_op_error(e, r),
        Ok(z) => z.map(|z| range_entries(z, &q)).unwrap_or_default(),
    };
    let lim = ctx.shard.zset_limits.get();
    r.int(store_zset(ctx.ks, argv[1], entries, lim, ctx.now) as i64);
}

fn remrange_generic(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, kind: Kind) {
    let spec = match kind {
        Kind::Score => match ScoreRange::parse(argv[2], argv[3]) {
            Some(s) => Spec::Score(s),
            None => return r.error(ErrorCode::Err, NOT_FLOAT_RANGE),
        },
        Kind::Lex => match LexRange::parse(argv[2], argv[3]) {
            Some(l) => Spec::Lex(l),
            None => return r.error(ErrorCode::Err, NOT_LEX_RANGE),
        },
        _ => {
            let Some(a) = arg_i64(argv[2], r) else { return };
            let Some(b) = arg_i64(argv[3], r) else { return };
            Spec::Rank(a, b)
        }
    };
    let q = RangeReq {
        spec,
        rev: false,
        withscores: false,
        offset: 0,
        limit: -1,
    };
    match write_zset(ctx.ks, argv[1], ctx.now, false, |z| {
        let (from, to) = select(z, &q);
        z.remove_ranks(from, to)
    }) {
        Ok(n) => r.int(n.unwrap_or(0) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn zremrangebyrank(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    remrange_generic(c, a, r, Kind::Rank)
}
fn zremrangebyscore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    remrange_generic(c, a, r, Kind::Score)
}
fn zremrangebylex(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    remrange_generic(c, a, r, Kind::Lex)
}

// ---- Pops -----------------------------------------------------------------------------------

fn pop_generic(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, max: bool) {
    if argv.len() > 3 {
        return r.error(ErrorCode::Err, errors::SYNTAX);
    }
    let count = match argv.get(2) {
        None => None,
        Some(c) => match synap_shard::strings::parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return r.error(ErrorCode::Err, MUST_BE_POSITIVE),
        },
    };
    if count == Some(0) {
        // Redis checks the type first, then answers an empty array.
        return match read_zset(ctx.ks, argv[1], ctx.now) {
            Err(e) => reply_op_error(e, r),
            Ok(_) => r.array(0),
        };
    }
    match pop_min_max(ctx.ks, argv[1], ctx.now, max, count.unwrap_or(1)) {
        Err(e) => reply_op_error(e, r),
        Ok(None) => r.array(0),
        Ok(Some(popped)) => {
            // RESP3 nests the pairs only when a count was given.
            if count.is_some() && r.resp3() {
                reply_entries(r, &popped, true);
            } else {
                r.array(popped.len() * 2);
                for (m, s) in &popped {
                    r.bulk(m);
                    r.double(*s);
                }
            }
        }
    }
}

fn zpopmin(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    pop_generic(c, a, r, false)
}
fn zpopmax(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    pop_generic(c, a, r, true)
}

/// Parses `numkeys key… MIN|MAX [COUNT n]` from `argv[at..]` (ZMPOP at 1, BZMPOP at 2):
/// (keys, max, count), or None after replying the error.
pub(crate) fn mpop_args<'a>(
    argv: &[&'a [u8]],
    at: usize,
    r: &mut Reply<'_>,
) -> Option<(Vec<&'a [u8]>, bool, usize)> {
    let n = match synap_shard::strings::parse_i64(argv[at]) {
        Some(n) if n > 0 => n as usize,
        _ => {
            r.error(ErrorCode::Err, "ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_at = at.saturating_add(n).saturating_add(1);
    let Some(w) = argv.get(where_at) else {
        r.error(ErrorCode::Err, errors::SYNTAX);
        return None;
    };
    let max = if w.eq_ignore_ascii_case(b"min") {
        false
    } else if w.eq_ignore_ascii_case(b"max") {
        true
    } else {
        r.error(ErrorCode::Err, errors::SYNTAX);
        return None;
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        if count.is_none() && argv[j].eq_ignore_ascii_case(b"count") && j + 1 < argv.len() {
            match synap_shard::strings::parse_i64(argv[j + 1]) {
                Some(c) if c > 0 => count = Some(c as usize),
                _ => {
                    r.error(ErrorCode::Err, "ERR count should be greater than 0");
                    return None;
                }
            }
            j += 2;
        } else {
            r.error(ErrorCode::Err, errors::SYNTAX);
            return None;
        }
    }
    Some((argv[at + 1..where_at].to_vec(), max, count.unwrap_or(1)))
}

fn pop_name(max: bool) -> &'static [u8] {
    if max {
        b"ZPOPMAX"
    } else {
        b"ZPOPMIN"
    }
}

fn zmpop(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some((keys, max, count)) = mpop_args(argv, 1, r) else {
        return;
    };
    // The first existing key decides: popped when a sorted set, WRONGTYPE otherwise.
    for k in keys {
        match pop_min_max(ctx.ks, k, ctx.now, max, count) {
            Err(e) => return reply_op_error(e, r),
            Ok(Some(p)) => {
                // Journaled as Redis replicates it.
                let n = p.len().to_string();
                ctx.journal_command(&[pop_name(max), k, n.as_bytes()]);
                return reply_mpop(r, k, &p);
            }
            Ok(None) => {}
        }
    }
    r.null_array();
}

// ---- Set algebra ----------------------------------------------------------------------------

/// ZUNION… operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// An input of ZUNION…: a sorted set's entries, a set's members with score 1, or nothing.
type Input = Option<Vec<(Vec<u8>, f64)>>;

/// The input at `key`: sorted sets and sets are accepted, other types are WRONGTYPE.
fn read_input(ks: &mut Keyspace, key: &[u8], now: u64) -> Result<Input, OpError> {
    match ks.lookup(key, now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Zset(z)) => Ok(Some(z.to_vec())),
        Some(Value::Set(s)) => Ok(Some(s.members().into_iter().map(|m| (m, 1.0)).collect())),
        Some(_) => Err(OpError::WrongType),
    }
}

/// `numkeys key…` at `argv[at..]`: the keys, or None after replying the error.
fn numkeys<'a>(
    argv: &[&'a [u8]],
    at: usize,
    name: &str,
    r: &mut Reply<'_>,
) -> Option<Vec<&'a [u8]>> {
    let n = arg_i64(argv[at], r)?;
    if n < 1 {
        r.error(
            ErrorCode::Err,
            &format!("ERR at least 1 input key is needed for '{name}' command"),
        );
        return None;
    }
    if n as u64 > (argv.len() - at - 1) as u64 {
        r.error(ErrorCode::Err, errors::SYNTAX);
        return None;
    }
    Some(argv[at + 1..at + 1 + n as usize].to_vec())
}

/// The options after the keys of ZUNION… / ZINTERCARD.
struct AlgebraOpts {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

fn algebra_opts(
    argv: &[&[u8]],
    from: usize,
    nkeys: usize,
    op: Op,
    store: bool,
    card: bool,
    r: &mut Reply<'_>,
) -> Option<AlgebraOpts> {
    let mut o = AlgebraOpts {
        weights: vec![1.0; nkeys],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = from;
    while j < argv.len() {
        let left = argv.len() - j;
        let a = argv[j];
        if op != Op::Diff && !card && left > nkeys && a.eq_ignore_ascii_case(b"weights") {
            for i in 0..nkeys {
                match parse_score(argv[j + 1 + i]) {
                    Some(w) => o.weights[i] = w,
                    None => {
                        r.error(ErrorCode::Err, "ERR weight value is not a float");
                        return None;
                    }
                }
            }
            j += 1 + nkeys;
        } else if op != Op::Diff && !card && left >= 2 && a.eq_ignore_ascii_case(b"aggregate") {
            let v = argv[j + 1];
            o.aggregate = if v.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if v.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if v.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                r.error(ErrorCode::Err, errors::SYNTAX);
                return None;
            };
            j += 2;
        } else if !store && !card && a.eq_ignore_ascii_case(b"withscores") {
            o.withscores = true;
            j += 1;
        } else if card && left >= 2 && a.eq_ignore_ascii_case(b"limit") {
            match synap_shard::strings::parse_i64(argv[j + 1]) {
                Some(l) if l >= 0 => o.limit = l as usize,
                _ => {
                    r.error(ErrorCode::Err, "ERR LIMIT can't be negative");
                    return None;
                }
            }
            j += 2;
        } else {
            r.error(ErrorCode::Err, errors::SYNTAX);
            return None;
        }
    }
    Some(o)
}

#[inline]
fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v
            }
        }
    }
}

/// Computes ZUNION / ZINTER / ZDIFF over `inputs` (unordered result), in Redis's order of
/// operations (inputs by increasing size, so sums round the same way). With `card_limit`
/// (ZINTERCARD) only the count matters and counting stops at the limit.
fn compute(
    op: Op,
    inputs: Vec<Input>,
    o: &AlgebraOpts,
    card_limit: Option<usize>,
) -> (Vec<(Vec<u8>, f64)>, usize) {
    let len = |i: &Input| i.as_ref().map_or(0, |v| v.len());
    let mut srcs: Vec<(Input, f64)> = inputs.into_iter().zip(o.weights.iter().copied()).collect();
    if op == Op::Diff {
        let mut rest = srcs.split_off(1);
        let Some((Some(first), _)) = srcs.pop() else {
            return (Vec::new(), 0);
        };
        let others: std::collections::HashSet<Vec<u8>> = rest
            .iter_mut()
            .flat_map(|(i, _)| i.take().unwrap_or_default())
            .map(|(m, _)| m)
            .collect();
        let out: Vec<_> = first
            .into_iter()
            .filter(|(m, _)| !others.contains(m))
            .collect();
        let n = out.len();
        return (out, n);
    }
    srcs.sort_by_key(|(i, _)| len(i));
    match op {
        Op::Inter => {
            if len(&srcs[0].0) == 0 {
                return (Vec::new(), 0);
            }
            let (first, w0) = srcs.remove(0);
            let maps: Vec<(HashMap<Vec<u8>, f64>, f64)> = srcs
                .into_iter()
                .map(|(i, w)| (i.unwrap_or_default().into_iter().collect(), w))
                .collect();
            let mut out = Vec::new();
            let mut count = 0;
            'members: for (m, s) in first.unwrap_or_default() {
                let mut score = w0 * s;
                if score.is_nan() {
                    score = 0.0;
                }
                for (map, w) in &maps {
                    match map.get(&m) {
                        Some(v) => aggregate(&mut score, v * w, o.aggregate),
                        None => continue 'members,
                    }
                }
                count += 1;
                if let Some(limit) = card_limit {
                    if limit > 0 && count >= limit {
                        break;
                    }
                    continue;
                }
                out.push((m, score));
            }
            (out, count)
        }
        _ => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            let mut order = Vec::new();
            for (input, w) in srcs {
                for (m, s) in input.unwrap_or_default() {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, score, o.aggregate),
                        None => {
                            acc.insert(m.clone(), score);
                            order.push(m);
                        }
                    }
                }
            }
            let out: Vec<_> = order
                .into_iter()
                .map(|m| {
                    let s = acc[&m];
                    (m, s)
                })
                .collect();
            let n = out.len();
            (out, n)
        }
    }
}

fn sort_entries(v: &mut [(Vec<u8>, f64)]) {
    v.sort_by(|a, b| synap_shard::zset::packed::cmp_entry((&a.0, a.1), (&b.0, b.1)));
}

/// The parts of a ZUNION…-family request that come before reading any key.
struct AlgebraReq<'a> {
    op: Op,
    store: bool,
    card: bool,
    keys: Vec<&'a [u8]>,
    opts_at: usize,
}

fn algebra_req<'a>(name: &str, argv: &[&'a [u8]], r: &mut Reply<'_>) -> Option<AlgebraReq<'a>> {
    let op = match name {
        "zunion" | "zunionstore" => Op::Union,
        "zdiff" | "zdiffstore" => Op::Diff,
        _ => Op::Inter,
    };
    let store = name.ends_with("store");
    let card = name == "zintercard";
    let at = if store { 2 } else { 1 };
    let keys = numkeys(argv, at, name, r)?;
    let opts_at = at + 1 + keys.len();
    Some(AlgebraReq {
        op,
        store,
        card,
        keys,
        opts_at,
    })
}

/// Computes and replies (or returns the entries to store) once the inputs are read.
fn algebra_finish(
    q: &AlgebraReq<'_>,
    argv: &[&[u8]],
    inputs: Vec<Input>,
    r: &mut Reply<'_>,
) -> Option<Vec<(Vec<u8>, f64)>> {
    let o = algebra_opts(argv, q.opts_at, q.keys.len(), q.op, q.store, q.card, r)?;
    if q.card {
        let (_, n) = compute(q.op, inputs, &o, Some(o.limit));
        r.int(n as i64);
        return None;
    }
    let (mut out, _) = compute(q.op, inputs, &o, None);
    if q.store {
        return Some(out);
    }
    sort_entries(&mut out);
    reply_entries(r, &out, o.withscores);
    None
}

fn algebra_local(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, name: &str) {
    let Some(q) = algebra_req(name, argv, r) else {
        return;
    };
    let mut inputs = Vec::with_capacity(q.keys.len());
    for k in &q.keys {
        match read_input(ctx.ks, k, ctx.now) {
            Ok(i) => inputs.push(i),
            Err(e) => return reply_op_error(e, r),
        }
    }
    if let Some(out) = algebra_finish(&q, argv, inputs, r) {
        let lim = ctx.shard.zset_limits.get();
        r.int(store_zset(ctx.ks, argv[1], out, lim, ctx.now) as i64);
    }
}

fn zunion(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, "zunion")
}
fn zinter(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, "zinter")
}
fn zdiff(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, "zdiff")
}
fn zunionstore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, "zunionstore")
}
fn zinterstore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, "zinterstore")
}
fn zdiffstore(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, "zdiffstore")
}
fn zintercard(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    algebra_local(c, a, r, "zintercard")
}

// ---- Random members and ZSCAN ---------------------------------------------------------------

/// Most elements one ZRANDMEMBER with a negative count returns (as for SRANDMEMBER).
const MAX_RANDOM_PICKS: u64 = 100_000_000;

fn zrandmember(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if argv.len() < 3 {
        return match read_zset(ctx.ks, argv[1], ctx.now) {
            Err(e) => reply_op_error(e, r),
            Ok(z) => {
                let z = z.filter(|z| !z.is_empty());
                r.opt_bulk(
                    z.and_then(|z| z.at(rand::random::<usize>() % z.len()))
                        .map(|e| e.0),
                )
            }
        };
    }
    let Some(count) = arg_i64(argv[2], r) else {
        return;
    };
    if count == i64::MIN {
        return r.error(
            ErrorCode::Err,
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        );
    }
    if argv.len() > 4 || (argv.len() == 4 && !argv[3].eq_ignore_ascii_case(b"withscores")) {
        return r.error(ErrorCode::Err, errors::SYNTAX);
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return r.error(ErrorCode::Err, "ERR value is out of range");
    }
    let z = match read_zset(ctx.ks, argv[1], ctx.now) {
        Err(e) => return reply_op_error(e, r),
        Ok(None) => return r.array(0),
        Ok(Some(z)) => z,
    };
    let n = z.len();
    if count == 0 || n == 0 {
        return r.array(0);
    }
    let nested = withscores && r.resp3();
    let emit = |r: &mut Reply<'_>, m: &[u8], s: f64| {
        if nested {
            r.array(2);
        }
        r.bulk(m);
        if withscores {
            r.double(s);
        }
    };
    let header =
        |r: &mut Reply<'_>, k: usize| r.array(k * if withscores && !nested { 2 } else { 1 });
    if count < 0 || count == 1 {
        // With repetition (count 1 is the same thing).
        let k = count.unsigned_abs().min(MAX_RANDOM_PICKS) as usize;
        header(r, k);
        for _ in 0..k {
            if let Some((m, s)) = z.at(rand::random::<usize>() % n) {
                emit(r, m, s);
            }
        }
        return;
    }
    let k = count as u64;
    if k >= n as u64 {
        // The whole set, walked from the top as Redis's zset iterator does.
        header(r, n);
        z.visit(0, n, true, |m, s| emit(r, m, s));
        return;
    }
    let k = k as usize;
    // Distinct ranks: a partial shuffle when asking for a large share, sampling otherwise.
    let ranks: Vec<usize> = if k * 3 > n {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + rand::random::<usize>() % (n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    } else {
        let mut seen = std::collections::HashSet::with_capacity(k);
        let mut v = Vec::with_capacity(k);
        while v.len() < k {
            let i = rand::random::<usize>() % n;
            if seen.insert(i) {
                v.push(i);
            }
        }
        v
    };
    header(r, k);
    for i in ranks {
        if let Some((m, s)) = z.at(i) {
            emit(r, m, s);
        }
    }
}

fn zscan(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(args) = super::ScanArgs::parse(argv, 2, false, r) else {
        return;
    };
    let z = match read_zset(ctx.ks, argv[1], ctx.now) {
        Err(e) => return reply_op_error(e, r),
        Ok(z) => z,
    };
    let (next, seen) = z.map_or((0, Vec::new()), |z| z.scan(args.cursor, args.count));
    let kept: Vec<(&[u8], f64)> = seen
        .into_iter()
        .filter(|(m, _)| {
            args.pattern
                .is_none_or(|p| synap_shard::glob::matches(p, m))
        })
        .collect();
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(kept.len() * 2);
    for (m, s) in kept {
        r.bulk(m);
        r.bulk(format_score(s).as_bytes());
    }
}

// ---- Across shards --------------------------------------------------------------------------

type ShardRc = std::rc::Rc<crate::shard::Shard>;

async fn gather_inputs(shard: &ShardRc, keys: &[&[u8]]) -> Result<Vec<Input>, OpError> {
    let futs = keys.iter().map(|k| {
        let key = k.to_vec();
        let owner = shard.global.slots.shard_of_key(&key);
        shard.run_on(owner, move |s| {
            read_input(&mut s.ks.borrow_mut(), &key, synap_shard::time::now_ms())
        })
    });
    futures::future::join_all(futs)
        .await
        .into_iter()
        .map(|r| r.unwrap_or(Ok(None)))
        .collect()
}

/// Stores `entries` at `dest` on its shard (journaling the stored value there); returns the
/// size stored.
async fn store_on(shard: &ShardRc, dest: &[u8], entries: Vec<(Vec<u8>, f64)>) -> usize {
    let dest = dest.to_vec();
    let owner = shard.global.slots.shard_of_key(&dest);
    shard
        .run_on(owner, move |s| {
            let lim = s.zset_limits.get();
            let n = store_zset(
                &mut s.ks.borrow_mut(),
                &dest,
                entries,
                lim,
                synap_shard::time::now_ms(),
            );
            s.journal_key(&dest);
            n
        })
        .await
        .unwrap_or(0)
}

/// The multi-key sorted set commands when their keys live on several shards: read each key
/// on its shard, compute here, then reply or store on the destination's shard. (Each step is
/// atomic on its shard; the command as a whole is not, like the other cross-shard commands.)
pub(crate) async fn across(
    conn: &mut crate::connection::ConnState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
) {
    let shard = conn.shard.clone();
    match spec.name {
        "zrangestore" => {
            let Some(q) = parse_range(argv, 2, true, Kind::Auto, None, r) else {
                return;
            };
            let src = argv[2].to_vec();
            let owner = shard.global.slots.shard_of_key(&src);
            let got = shard
                .run_on(owner, move |s| {
                    read_zset(&mut s.ks.borrow_mut(), &src, synap_shard::time::now_ms())
                        .map(|z| z.map(|z| range_entries(z, &q)).unwrap_or_default())
                })
                .await
                .unwrap_or(Ok(Vec::new()));
            match got {
                Err(e) => reply_op_error(e, r),
                Ok(entries) => r.int(store_on(&shard, argv[1], entries).await as i64),
            }
        }
        "zmpop" => {
            let Some((keys, max, count)) = mpop_args(argv, 1, r) else {
                return;
            };
            for k in keys {
                let key = k.to_vec();
                let owner = shard.global.slots.shard_of_key(&key);
                let res = shard
                    .run_on(owner, move |s| {
                        let popped = pop_min_max(
                            &mut s.ks.borrow_mut(),
                            &key,
                            synap_shard::time::now_ms(),
                            max,
                            count,
                        );
                        if let Ok(Some(p)) = &popped {
                            let n = p.len().to_string();
                            s.journal_command(&[pop_name(max), &key, n.as_bytes()]);
                        }
                        popped
                    })
                    .await
                    .unwrap_or(Ok(None));
                match res {
                    Err(e) => return reply_op_error(e, r),
                    Ok(Some(p)) => return reply_mpop(r, k, &p),
                    Ok(None) => {}
                }
            }
            r.null_array()
        }
        name => {
            let Some(q) = algebra_req(name, argv, r) else {
                return;
            };
            let inputs = match gather_inputs(&shard, &q.keys).await {
                Ok(i) => i,
                Err(e) => return reply_op_error(e, r),
            };
            if let Some(out) = algebra_finish(&q, argv, inputs, r) {
                r.int(store_on(&shard, argv[1], out).await as i64);
            }
        }
    }
}
