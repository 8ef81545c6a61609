//! The string family: GET, SET and friends.

use super::flags::*;
use super::{arg_i64, reply_op_error, spec, CommandSpec, Exec, Split};
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use synap_shard::strings::{ExpireAction, SetCond};

const G: &str = "string";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let one = (1, 1, 1);
    let sh = |f: super::ShardFn| Exec::Shard(f, Split::None);
    let rd: &[&str] = &["read", "string", "fast"];
    let wr: &[&str] = &["write", "string", "fast"];
    t.push(spec("get", 2, READONLY | FAST, one, rd, G, "Returns the string value of a key.", sh(get)));
    t.push(spec("set", -3, WRITE | DENYOOM, one, &["write", "string", "slow"], G, "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", sh(set)));
    t.push(spec("setnx", 3, WRITE | DENYOOM | FAST, one, wr, G, "Set the string value of a key only when the key doesn't exist.", sh(setnx)));
    t.push(spec("setex", 4, WRITE | DENYOOM, one, &["write", "string", "slow"], G, "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", sh(setex)));
    t.push(spec("psetex", 4, WRITE | DENYOOM, one, &["write", "string", "slow"], G, "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", sh(psetex)));
    t.push(spec("getset", 3, WRITE | DENYOOM | FAST, one, wr, G, "Returns the previous string value of a key after setting it to a new value.", sh(getset)));
    t.push(spec("getdel", 2, WRITE | FAST, one, wr, G, "Returns the string value of a key after deleting the key.", sh(getdel)));
    t.push(spec("getex", -2, WRITE | FAST, one, wr, G, "Returns the string value of a key after setting its expiration time.", sh(getex)));
    t.push(spec("mget", -2, READONLY | FAST, (1, -1, 1), rd, G, "Atomically returns the string values of one or more keys.", Exec::Shard(mget, Split::MergeKeys)));
    t.push(spec("mset", -3, WRITE | DENYOOM, (1, -1, 2), &["write", "string", "slow"], G, "Atomically creates or modifies the string values of one or more keys.", Exec::Shard(mset, Split::Pairs)));
    t.push(spec("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), &["write", "string", "slow"], G, "Atomically modifies the string values of one or more keys only when all keys don't exist.", Exec::Shard(msetnx, Split::PairsNx)));
    t.push(spec("append", 3, WRITE | DENYOOM | FAST, one, wr, G, "Appends a string to the value of a key. Creates the key if it doesn't exist.", sh(append)));
    t.push(spec("strlen", 2, READONLY | FAST, one, rd, G, "Returns the length of a string value.", sh(strlen)));
    t.push(spec("incr", 2, WRITE | DENYOOM | FAST, one, wr, G, "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", sh(incr)));
    t.push(spec("decr", 2, WRITE | DENYOOM | FAST, one, wr, G, "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", sh(decr)));
    t.push(spec("incrby", 3, WRITE | DENYOOM | FAST, one, wr, G, "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", sh(incrby)));
    t.push(spec("decrby", 3, WRITE | DENYOOM | FAST, one, wr, G, "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", sh(decrby)));
    t.push(spec("incrbyfloat", 3, WRITE | DENYOOM | FAST, one, wr, G, "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", sh(incrbyfloat)));
    t.push(spec("getrange", 4, READONLY, one, &["read", "string", "slow"], G, "Returns a substring of the string stored at a key.", sh(getrange)));
    t.push(spec("substr", 4, READONLY, one, &["read", "string", "slow"], G, "Returns a substring from a string value.", sh(getrange)));
    t.push(spec("setrange", 4, WRITE | DENYOOM, one, &["write", "string", "slow"], G, "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", sh(setrange)));
}

fn get(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match ctx.ks.get_str(argv[1], ctx.now) {
        Ok(v) => r.opt_bulk(v.map(|b| b.as_slice())),
        Err(e) => reply_op_error(e, r),
    }
}

/// Turns a relative or absolute expiry argument into absolute ms, or replies the error.
pub(crate) fn expire_arg(
    arg: &[u8],
    unit_ms: i64,
    absolute: bool,
    now: u64,
    cmd: &str,
    r: &mut Reply<'_>,
) -> Option<u64> {
    let v = arg_i64(arg, r)?;
    let invalid = |r: &mut Reply<'_>| {
        r.error(ErrorCode::Err, &errors::INVALID_EXPIRE.replace("{}", cmd));
        None
    };
    if v <= 0 {
        return invalid(r);
    }
    let Some(ms) = v.checked_mul(unit_ms) else {
        return invalid(r);
    };
    if absolute {
        return Some(ms as u64);
    }
    match ms.checked_add(now as i64) {
        Some(at) => Some(at as u64),
        None => invalid(r),
    }
}

fn set(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let mut cond = SetCond::Always;
    let mut expire = ExpireAction::Clear;
    let mut want_old = false;
    let mut has_expire = false;
    let mut i = 3;
    while i < argv.len() {
        let a = argv[i];
        let next = argv.get(i + 1);
        let upper = a.to_ascii_uppercase();
        match upper.as_slice() {
            b"NX" if cond == SetCond::Always => cond = SetCond::IfMissing,
            b"XX" if cond == SetCond::Always => cond = SetCond::IfExists,
            b"GET" => want_old = true,
            b"KEEPTTL" if !has_expire => {
                has_expire = true;
                expire = ExpireAction::Keep;
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !has_expire && next.is_some() => {
                let (unit, abs) = match upper.as_slice() {
                    b"EX" => (1000, false),
                    b"PX" => (1, false),
                    b"EXAT" => (1000, true),
                    _ => (1, true),
                };
                let Some(at) = expire_arg(argv[i + 1], unit, abs, ctx.now, "set", r) else {
                    return;
                };
                has_expire = true;
                expire = ExpireAction::At(at);
                i += 1;
            }
            _ => {
                r.error(ErrorCode::Err, errors::SYNTAX);
                return;
            }
        }
        i += 1;
    }
    match ctx
        .ks
        .set_str(argv[1], argv[2], cond, expire, want_old, ctx.now)
    {
        Ok(outcome) => {
            if outcome.written {
                if let ExpireAction::At(t) = expire {
                    if t <= ctx.now {
                        ctx.ks.remove(argv[1], ctx.now);
                    }
                    // A relative expiry is replayed as the absolute state it produced.
                    ctx.journal_key(argv[1]);
                }
            }
            if want_old {
                r.opt_bulk(outcome.old.as_deref());
            } else if outcome.written {
                r.ok();
            } else {
                r.null();
            }
        }
        Err(e) => reply_op_error(e, r),
    }
}

fn setnx(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match ctx.ks.set_str(
        argv[1],
        argv[2],
        SetCond::IfMissing,
        ExpireAction::Clear,
        false,
        ctx.now,
    ) {
        Ok(o) => r.int(o.written as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn setex_generic(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, unit: i64, name: &str) {
    let Some(at) = expire_arg(argv[2], unit, false, ctx.now, name, r) else {
        return;
    };
    match ctx.ks.set_str(
        argv[1],
        argv[3],
        SetCond::Always,
        ExpireAction::At(at),
        false,
        ctx.now,
    ) {
        Ok(_) => {
            ctx.journal_key(argv[1]);
            r.ok()
        }
        Err(e) => reply_op_error(e, r),
    }
}

fn setex(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    setex_generic(ctx, argv, r, 1000, "setex")
}

fn psetex(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    setex_generic(ctx, argv, r, 1, "psetex")
}

fn getset(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match ctx.ks.set_str(
        argv[1],
        argv[2],
        SetCond::Always,
        ExpireAction::Clear,
        true,
        ctx.now,
    ) {
        Ok(o) => r.opt_bulk(o.old.as_deref()),
        Err(e) => reply_op_error(e, r),
    }
}

fn getdel(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match ctx.ks.getdel(argv[1], ctx.now) {
        Ok(v) => r.opt_bulk(v.as_deref()),
        Err(e) => reply_op_error(e, r),
    }
}

fn getex(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let mut action = ExpireAction::Keep;
    let mut seen = false;
    let mut i = 2;
    while i < argv.len() {
        let upper = argv[i].to_ascii_uppercase();
        match upper.as_slice() {
            b"PERSIST" if !seen => {
                action = ExpireAction::Clear;
                seen = true;
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !seen && i + 1 < argv.len() => {
                let (unit, abs) = match upper.as_slice() {
                    b"EX" => (1000, false),
                    b"PX" => (1, false),
                    b"EXAT" => (1000, true),
                    _ => (1, true),
                };
                let Some(at) = expire_arg(argv[i + 1], unit, abs, ctx.now, "getex", r) else {
                    return;
                };
                action = ExpireAction::At(at);
                seen = true;
                i += 1;
            }
            _ => {
                r.error(ErrorCode::Err, errors::SYNTAX);
                return;
            }
        }
        i += 1;
    }
    match ctx.ks.getex(argv[1], action, ctx.now) {
        Ok(v) => {
            if seen && v.is_some() {
                ctx.journal_expiry(argv[1]);
            }
            r.opt_bulk(v.as_deref())
        }
        Err(e) => reply_op_error(e, r),
    }
}

fn mget(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    r.array(argv.len() - 1);
    for k in &argv[1..] {
        match ctx.ks.get_str(k, ctx.now) {
            Ok(Some(v)) => r.bulk(v),
            _ => r.null(),
        }
    }
}

fn mset(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if argv.len().is_multiple_of(2) {
        r.error(ErrorCode::Err, &errors::arity("mset"));
        return;
    }
    for pair in argv[1..].chunks_exact(2) {
        // SET with Always/Clear never fails.
        let _ = ctx.ks.set_str(
            pair[0],
            pair[1],
            SetCond::Always,
            ExpireAction::Clear,
            false,
            ctx.now,
        );
    }
    r.ok();
}

fn msetnx(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if argv.len().is_multiple_of(2) {
        r.error(ErrorCode::Err, &errors::arity("msetnx"));
        return;
    }
    if argv[1..]
        .chunks_exact(2)
        .any(|p| ctx.ks.contains(p[0], ctx.now))
    {
        r.int(0);
        return;
    }
    for pair in argv[1..].chunks_exact(2) {
        let _ = ctx.ks.set_str(
            pair[0],
            pair[1],
            SetCond::Always,
            ExpireAction::Clear,
            false,
            ctx.now,
        );
    }
    r.int(1);
}

fn append(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let max = ctx.shard.max_bulk_len.get();
    match ctx.ks.append(argv[1], argv[2], max, ctx.now) {
        Ok(n) => r.int(n as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn strlen(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match ctx.ks.strlen(argv[1], ctx.now) {
        Ok(n) => r.int(n as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn incr_generic(ctx: &mut ShardCtx<'_>, key: &[u8], delta: i64, r: &mut Reply<'_>) {
    match ctx.ks.incr_by(key, delta, ctx.now) {
        Ok(v) => r.int(v),
        Err(e) => reply_op_error(e, r),
    }
}

fn incr(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    incr_generic(ctx, argv[1], 1, r)
}

fn decr(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    incr_generic(ctx, argv[1], -1, r)
}

fn incrby(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(d) = arg_i64(argv[2], r) {
        incr_generic(ctx, argv[1], d, r)
    }
}

fn decrby(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if let Some(d) = arg_i64(argv[2], r) {
        match d.checked_neg() {
            Some(n) => incr_generic(ctx, argv[1], n, r),
            None => r.error(ErrorCode::Err, "ERR decrement would overflow"),
        }
    }
}

fn incrbyfloat(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match ctx.ks.incr_by_float(argv[1], argv[2], ctx.now) {
        Ok(s) => r.bulk(s.as_bytes()),
        Err(e) => reply_op_error(e, r),
    }
}

fn getrange(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(start) = arg_i64(argv[2], r) else {
        return;
    };
    let Some(end) = arg_i64(argv[3], r) else {
        return;
    };
    match ctx.ks.getrange(argv[1], start, end, ctx.now) {
        Ok(v) => r.bulk(&v),
        Err(e) => reply_op_error(e, r),
    }
}

fn setrange(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(off) = arg_i64(argv[2], r) else {
        return;
    };
    if off < 0 {
        r.error(ErrorCode::Err, errors::OFFSET_OUT_OF_RANGE);
        return;
    }
    let max = ctx.shard.max_bulk_len.get();
    match ctx
        .ks
        .setrange(argv[1], off as usize, argv[3], max, ctx.now)
    {
        Ok(n) => r.int(n as i64),
        Err(e) => reply_op_error(e, r),
    }
}
