//! The hash family: HSET, HGET, HGETALL and friends.

use super::flags::*;
use super::{arg_i64, reply_op_error, spec, CommandSpec, Exec, Split};
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use synap_shard::hash::HashValue;
use synap_shard::longdouble::LongDouble;

const G: &str = "hash";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let one = (1, 1, 1);
    let sh = |f: super::ShardFn| Exec::Shard(f, Split::None);
    let rd: &[&str] = &["read", "hash", "fast"];
    let wr: &[&str] = &["write", "hash", "fast"];
    t.push(spec("hset", -4, WRITE | DENYOOM | FAST, one, wr, G, "Creates or modifies the value of a field in a hash.", sh(hset)));
    t.push(spec("hmset", -4, WRITE | DENYOOM | FAST, one, wr, G, "Sets the values of multiple fields.", sh(hmset)));
    t.push(spec("hsetnx", 4, WRITE | DENYOOM | FAST, one, wr, G, "Sets the value of a field in a hash only when the field doesn't exist.", sh(hsetnx)));
    t.push(spec("hget", 3, READONLY | FAST, one, rd, G, "Returns the value of a field in a hash.", sh(hget)));
    t.push(spec("hmget", -3, READONLY | FAST, one, rd, G, "Returns the values of all fields in a hash.", sh(hmget)));
    t.push(spec("hgetall", 2, READONLY, one, &["read", "hash", "slow"], G, "Returns all fields and values in a hash.", sh(hgetall)));
    t.push(spec("hdel", -3, WRITE | FAST, one, wr, G, "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", sh(hdel)));
    t.push(spec("hexists", 3, READONLY | FAST, one, rd, G, "Determines whether a field exists in a hash.", sh(hexists)));
    t.push(spec("hlen", 2, READONLY | FAST, one, rd, G, "Returns the number of fields in a hash.", sh(hlen)));
    t.push(spec("hstrlen", 3, READONLY | FAST, one, rd, G, "Returns the length of the value of a field.", sh(hstrlen)));
    t.push(spec("hkeys", 2, READONLY, one, &["read", "hash", "slow"], G, "Returns all fields in a hash.", sh(hkeys)));
    t.push(spec("hvals", 2, READONLY, one, &["read", "hash", "slow"], G, "Returns all values in a hash.", sh(hvals)));
    t.push(spec("hincrby", 4, WRITE | DENYOOM | FAST, one, wr, G, "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", sh(hincrby)));
    t.push(spec("hincrbyfloat", 4, WRITE | DENYOOM | FAST, one, wr, G, "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", sh(hincrbyfloat)));
    t.push(spec("hrandfield", -2, READONLY, one, &["read", "hash", "slow"], G, "Returns one or more random fields from a hash.", sh(hrandfield)));
    t.push(spec("hscan", -3, READONLY, one, &["read", "hash", "slow"], G, "Iterates over fields and values of a hash.", sh(hscan)));
}

/// The hash at `key` (None = missing), or None after replying WRONGTYPE.
fn read<'a>(
    ctx: &'a mut ShardCtx<'_>,
    key: &[u8],
    r: &mut Reply<'_>,
) -> Option<Option<&'a HashValue>> {
    super::read_as(ctx.ks, key, ctx.now)
        .map_err(|e| reply_op_error(e, r))
        .ok()
}

/// Runs `f` on the hash at `key`, creating it when `create`; None after replying WRONGTYPE.
fn write<R>(
    ctx: &mut ShardCtx<'_>,
    key: &[u8],
    create: bool,
    r: &mut Reply<'_>,
    f: impl FnOnce(&mut HashValue) -> R,
) -> Option<Option<R>> {
    super::write_as(ctx.ks, key, ctx.now, create, f)
        .map_err(|e| reply_op_error(e, r))
        .ok()
}

fn set_pairs(
    ctx: &mut ShardCtx<'_>,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
    name: &str,
) -> Option<usize> {
    if !argv.len().is_multiple_of(2) {
        r.error(ErrorCode::Err, &errors::arity(name));
        return None;
    }
    let limits = ctx.shard.hash_limits.get();
    write(ctx, argv[1], true, r, |h| {
        argv[2..]
            .chunks_exact(2)
            .filter(|p| h.set(p[0], p[1], limits))
            .count()
    })
    .map(|n| n.unwrap_or(0))
}

fn hset(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(n) = set_pairs(ctx, argv, r, "hset") {
        r.int(n as i64);
    }
}

fn hmset(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if set_pairs(ctx, argv, r, "hmset").is_some() {
        r.ok();
    }
}

fn hsetnx(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let limits = ctx.shard.hash_limits.get();
    if let Some(n) = write(ctx, argv[1], true, r, |h| {
        h.get(argv[2]).is_none() && h.set(argv[2], argv[3], limits)
    }) {
        r.int(n.unwrap_or(false) as i64);
    }
}

fn hget(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(h) = read(ctx, argv[1], r) {
        r.opt_bulk(h.and_then(|h| h.get(argv[2])));
    }
}

fn hmget(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(h) = read(ctx, argv[1], r) {
        r.array(argv.len() - 2);
        for f in &argv[2..] {
            r.opt_bulk(h.and_then(|h| h.get(f)));
        }
    }
}

fn hgetall(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(h) = read(ctx, argv[1], r) {
        let pairs = h.map(|h| h.pairs()).unwrap_or_default();
        r.map(pairs.len());
        for (f, v) in pairs {
            r.bulk(f);
            r.bulk(v);
        }
    }
}

fn hdel(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(n) = write(ctx, argv[1], false, r, |h| {
        argv[2..].iter().filter(|f| h.remove(f)).count()
    }) {
        r.int(n.unwrap_or(0) as i64);
    }
}

fn hexists(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(h) = read(ctx, argv[1], r) {
        r.int(h.is_some_and(|h| h.get(argv[2]).is_some()) as i64);
    }
}

fn hlen(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(h) = read(ctx, argv[1], r) {
        r.int(h.map_or(0, |h| h.len()) as i64);
    }
}

fn hstrlen(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(h) = read(ctx, argv[1], r) {
        r.int(h.and_then(|h| h.get(argv[2])).map_or(0, |v| v.len()) as i64);
    }
}

fn hkeys_or_vals(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, keys: bool) {
    if let Some(h) = read(ctx, argv[1], r) {
        let pairs = h.map(|h| h.pairs()).unwrap_or_default();
        r.array(pairs.len());
        for (f, v) in pairs {
            r.bulk(if keys { f } else { v });
        }
    }
}

fn hkeys(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    hkeys_or_vals(ctx, argv, r, true)
}

fn hvals(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    hkeys_or_vals(ctx, argv, r, false)
}

fn hincrby(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(delta) = arg_i64(argv[3], r) else {
        return;
    };
    let limits = ctx.shard.hash_limits.get();
    let res = write(ctx, argv[1], true, r, |h| {
        let cur = match h.get(argv[2]) {
            None => 0,
            Some(v) => {
                synap_shard::strings::parse_i64(v).ok_or("ERR hash value is not an integer")?
            }
        };
        let next = cur.checked_add(delta).ok_or(errors::OVERFLOW)?;
        h.set(argv[2], next.to_string().as_bytes(), limits);
        Ok::<i64, &str>(next)
    });
    match res {
        Some(Some(Ok(v))) => r.int(v),
        Some(Some(Err(e))) => r.error(ErrorCode::Err, e),
        Some(None) | None => {}
    }
}

fn hincrbyfloat(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match synap_shard::strings::parse_f64(argv[3]) {
        None => return r.error(ErrorCode::Err, errors::NOT_FLOAT),
        Some(d) if d.is_infinite() => {
            return r.error(ErrorCode::Err, "ERR value is NaN or Infinity")
        }
        Some(_) => {}
    }
    let limits = ctx.shard.hash_limits.get();
    let res = write(ctx, argv[1], true, r, |h| {
        let cur: &[u8] = h.get(argv[2]).unwrap_or(b"0");
        let cur_f = synap_shard::strings::parse_f64(cur).ok_or("ERR hash value is not a float")?;
        let delta_f = synap_shard::strings::parse_f64(argv[3]).ok_or(errors::NOT_FLOAT)?;
        if !(cur_f + delta_f).is_finite() {
            return Err(errors::NAN_OR_INF);
        }
        let text = LongDouble::parse(cur)
            .zip(LongDouble::parse(argv[3]))
            .and_then(|(a, b)| a.checked_add(b))
            .map(|v| v.to_human())
            .unwrap_or_else(|| synap_shard::strings::format_f64(cur_f + delta_f));
        h.set(argv[2], text.as_bytes(), limits);
        Ok(text)
    });
    match res {
        Some(Some(Ok(v))) => r.bulk(v.as_bytes()),
        Some(Some(Err(e))) => r.error(ErrorCode::Err, e),
        Some(None) | None => {}
    }
}

fn hrandfield(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let (count, withvalues) = match argv.len() {
        2 => (None, false),
        3 => (Some(argv[2]), false),
        4 if argv[3].eq_ignore_ascii_case(b"WITHVALUES") => (Some(argv[2]), true),
        _ => return r.error(ErrorCode::Err, errors::SYNTAX),
    };
    let count = match count {
        None => None,
        Some(c) => match arg_i64(c, r) {
            Some(v) if v.unsigned_abs() > i64::MAX as u64 / 2 => {
                return r.error(ErrorCode::Err, "ERR value is out of range")
            }
            Some(v) => Some(v),
            None => return,
        },
    };
    let Some(h) = read(ctx, argv[1], r) else {
        return;
    };
    let n = h.map_or(0, |h| h.len());
    let Some(count) = count else {
        return match h
            .filter(|_| n > 0)
            .and_then(|h| h.pair_at(rand::random::<usize>() % n))
        {
            Some((f, _)) => r.bulk(f),
            None => r.null(),
        };
    };
    let picks = super::random_picks(n, count);
    let h = h.map(|h| h.pairs()).unwrap_or_default();
    if withvalues && r.resp3() {
        r.array(picks.len());
        for i in picks {
            r.array(2);
            r.bulk(h[i].0);
            r.bulk(h[i].1);
        }
    } else {
        r.array(picks.len() * if withvalues { 2 } else { 1 });
        for i in picks {
            r.bulk(h[i].0);
            if withvalues {
                r.bulk(h[i].1);
            }
        }
    }
}

fn hscan(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(args) = super::ScanArgs::parse(argv, 2, true, r) else {
        return;
    };
    let Some(h) = read(ctx, argv[1], r) else {
        return;
    };
    let pairs = h.map(|h| h.pairs()).unwrap_or_default();
    // Packed hashes are returned whole, as Redis does for listpacks.
    let packed = h.is_some_and(|h| matches!(h, HashValue::Packed(_)));
    let (next, chosen) = args.step(&pairs, packed, |(f, _)| f);
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(chosen.len() * if args.novalues { 1 } else { 2 });
    for (f, v) in chosen {
        r.bulk(f);
        if !args.novalues {
            r.bulk(v);
        }
    }
}
