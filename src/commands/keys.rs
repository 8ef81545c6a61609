//! The generic key family: DEL, EXISTS, expiry, TYPE, KEYS, SCAN, RENAME, COPY, RANDOMKEY.

use super::flags::*;
use super::{arg_i64, spec, CommandSpec, Exec, Global, Split};
use crate::connection::ConnState;
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use synap_shard::{Entry, ScanFilter, Ttl, ValueType};

const G: &str = "generic";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let one = (1, 1, 1);
    let all = (1, -1, 1);
    let sh = |f: super::ShardFn| Exec::Shard(f, Split::None);
    let kw: &[&str] = &["keyspace", "write", "fast"];
    let kr: &[&str] = &["keyspace", "read", "fast"];
    t.push(spec("del", -2, WRITE, all, &["keyspace", "write", "slow"], G, "Deletes one or more keys.", Exec::Shard(del, Split::SumKeys)));
    t.push(spec("unlink", -2, WRITE | FAST, all, kw, G, "Asynchronously deletes one or more keys.", Exec::Shard(unlink, Split::SumKeys)));
    t.push(spec("exists", -2, READONLY | FAST, all, kr, G, "Determines whether one or more keys exist.", Exec::Shard(exists, Split::SumKeys)));
    t.push(spec("touch", -2, READONLY | FAST, all, kr, G, "Returns the number of existing keys out of those specified after updating the time they were last accessed.", Exec::Shard(exists, Split::SumKeys)));
    t.push(spec("type", 2, READONLY | FAST, one, kr, G, "Determines the type of value stored at a key.", sh(type_cmd)));
    t.push(spec("expire", -3, WRITE | FAST, one, kw, G, "Sets the expiration time of a key in seconds.", sh(expire)));
    t.push(spec("pexpire", -3, WRITE | FAST, one, kw, G, "Sets the expiration time of a key in milliseconds.", sh(pexpire)));
    t.push(spec("expireat", -3, WRITE | FAST, one, kw, G, "Sets the expiration time of a key to a Unix timestamp.", sh(expireat)));
    t.push(spec("pexpireat", -3, WRITE | FAST, one, kw, G, "Sets the expiration time of a key to a Unix milliseconds timestamp.", sh(pexpireat)));
    t.push(spec("ttl", 2, READONLY | FAST, one, kr, G, "Returns the expiration time in seconds of a key.", sh(ttl)));
    t.push(spec("pttl", 2, READONLY | FAST, one, kr, G, "Returns the expiration time in milliseconds of a key.", sh(pttl)));
    t.push(spec("expiretime", 2, READONLY | FAST, one, kr, G, "Returns the expiration time of a key as a Unix timestamp.", sh(expiretime)));
    t.push(spec("pexpiretime", 2, READONLY | FAST, one, kr, G, "Returns the expiration time of a key as a Unix milliseconds timestamp.", sh(pexpiretime)));
    t.push(spec("persist", 2, WRITE | FAST, one, kw, G, "Removes the expiration time of a key.", sh(persist)));
    t.push(spec("rename", 3, WRITE, (1, 2, 1), &["keyspace", "write", "slow"], G, "Renames a key and overwrites the destination.", Exec::Shard(rename, Split::Move)));
    t.push(spec("renamenx", 3, WRITE | FAST, (1, 2, 1), kw, G, "Renames a key only when the target key name doesn't exist.", Exec::Shard(renamenx, Split::Move)));
    t.push(spec("copy", -3, WRITE | DENYOOM, (1, 2, 1), &["keyspace", "write", "slow"], G, "Copies the value of a key to a new key.", Exec::Shard(copy, Split::Move)));
    t.push(spec("memory", -2, READONLY, (2, 2, 1), &["read", "slow"], "server", "A container for memory diagnostics commands.", sh(memory)));
    t.push(spec("object", -2, READONLY, (2, 2, 1), &["keyspace", "read", "slow"], G, "A container for object introspection commands.", sh(object)));
    let slow_read: &[&str] = &["keyspace", "read", "slow", "dangerous"];
    t.push(spec("keys", 2, READONLY, (0, 0, 0), slow_read, G, "Returns all key names that match a pattern.", Exec::Global(Global::Keys)));
    t.push(spec("scan", -2, READONLY, (0, 0, 0), &["keyspace", "read", "slow"], G, "Iterates over the key names in the database.", Exec::Global(Global::Scan)));
    t.push(spec("randomkey", 1, READONLY, (0, 0, 0), &["keyspace", "read", "slow"], G, "Returns a random key name from the database.", Exec::Global(Global::RandomKey)));
}

fn del(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let n = argv[1..]
        .iter()
        .filter(|k| ctx.ks.remove(k, ctx.now).is_some())
        .count();
    r.int(n as i64);
}

/// UNLINK: like DEL, but values with many elements are freed later, in slices.
fn unlink(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let mut n = 0;
    for k in &argv[1..] {
        if let Some(e) = ctx.ks.remove(k, ctx.now) {
            n += 1;
            if e.value.elements() > synap_shard::lazyfree::LAZYFREE_THRESHOLD {
                ctx.shard
                    .lazy
                    .borrow_mut()
                    .push(synap_shard::lazyfree::Garbage::Value(e.value));
            }
        }
    }
    r.int(n);
}

fn exists(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let n = argv[1..]
        .iter()
        .filter(|k| ctx.ks.contains(k, ctx.now))
        .count();
    r.int(n as i64);
}

fn type_cmd(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match ctx.ks.peek(argv[1], ctx.now) {
        Some(e) => r.simple(e.value.value_type().name()),
        None => r.simple("none"),
    }
}

fn expire_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
    unit: i64,
    absolute: bool,
    name: &str,
) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &argv[3..] {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => {
                r.error(
                    ErrorCode::Err,
                    &format!("ERR Unsupported option {}", String::from_utf8_lossy(opt)),
                );
                return;
            }
        }
    }
    if nx && (xx || gt || lt) {
        r.error(
            ErrorCode::Err,
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        );
        return;
    }
    if gt && lt {
        r.error(
            ErrorCode::Err,
            "ERR GT and LT options at the same time are not compatible",
        );
        return;
    }
    let Some(when) = arg_i64(argv[2], r) else {
        return;
    };
    let invalid =
        |r: &mut Reply<'_>| r.error(ErrorCode::Err, &errors::INVALID_EXPIRE.replace("{}", name));
    let Some(ms) = when.checked_mul(unit) else {
        return invalid(r);
    };
    let at = if absolute {
        Some(ms)
    } else {
        ms.checked_add(ctx.now as i64)
    };
    let Some(at) = at else {
        return invalid(r);
    };
    let current = match ctx.ks.ttl(argv[1], ctx.now) {
        Ttl::Missing => return r.int(0),
        Ttl::Persistent => None,
        Ttl::At(t) => Some(t as i64),
    };
    let allowed = if nx {
        current.is_none()
    } else if xx && current.is_none() {
        false
    } else if gt {
        matches!(current, Some(c) if at > c)
    } else if lt {
        current.is_none_or(|c| at < c)
    } else {
        true
    };
    if !allowed {
        return r.int(0);
    }
    if at <= ctx.now as i64 {
        ctx.ks.remove(argv[1], ctx.now);
    } else {
        ctx.ks.set_expire(argv[1], at as u64, ctx.now);
    }
    ctx.journal_expiry(argv[1]);
    r.int(1);
}

fn expire(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    expire_generic(ctx, argv, r, 1000, false, "expire")
}
fn pexpire(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    expire_generic(ctx, argv, r, 1, false, "pexpire")
}
fn expireat(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    expire_generic(ctx, argv, r, 1000, true, "expireat")
}
fn pexpireat(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    expire_generic(ctx, argv, r, 1, true, "pexpireat")
}

fn ttl_generic(ctx: &mut ShardCtx<'_>, key: &[u8], r: &mut Reply<'_>, ms: bool, absolute: bool) {
    match ctx.ks.ttl(key, ctx.now) {
        Ttl::Missing => r.int(-2),
        Ttl::Persistent => r.int(-1),
        Ttl::At(t) => {
            let v = match (absolute, ms) {
                (true, true) => t as i64,
                (true, false) => (t / 1000) as i64,
                (false, true) => t.saturating_sub(ctx.now) as i64,
                (false, false) => ((t.saturating_sub(ctx.now) + 500) / 1000) as i64,
            };
            r.int(v)
        }
    }
}

fn ttl(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    ttl_generic(ctx, argv[1], r, false, false)
}
fn pttl(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    ttl_generic(ctx, argv[1], r, true, false)
}
fn expiretime(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    ttl_generic(ctx, argv[1], r, false, true)
}
fn pexpiretime(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    ttl_generic(ctx, argv[1], r, true, true)
}

fn persist(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let had = matches!(ctx.ks.ttl(argv[1], ctx.now), Ttl::At(_));
    if had {
        ctx.ks.set_expire(argv[1], 0, ctx.now);
    }
    r.int(had as i64);
}

fn rename(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(e) = ctx.ks.remove(argv[1], ctx.now) else {
        return r.error(ErrorCode::Err, errors::NO_SUCH_KEY);
    };
    let (v, at) = e.into_parts();
    ctx.ks.insert(argv[2], v, at, ctx.now);
    r.ok();
}

fn renamenx(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    if !ctx.ks.contains(argv[1], ctx.now) {
        return r.error(ErrorCode::Err, errors::NO_SUCH_KEY);
    }
    if ctx.ks.contains(argv[2], ctx.now) {
        return r.int(0);
    }
    if let Some(e) = ctx.ks.remove(argv[1], ctx.now) {
        let (v, at) = e.into_parts();
        ctx.ks.insert(argv[2], v, at, ctx.now);
    }
    r.int(1);
}

/// Parses COPY's options; returns `replace`, or None after replying an error.
fn copy_options(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<bool> {
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        match argv[i].to_ascii_uppercase().as_slice() {
            b"REPLACE" => replace = true,
            b"DB" if i + 1 < argv.len() => {
                let db = arg_i64(argv[i + 1], r)?;
                if db != 0 {
                    r.error(ErrorCode::Err, errors::DB_INDEX);
                    return None;
                }
                i += 1;
            }
            _ => {
                r.error(ErrorCode::Err, errors::SYNTAX);
                return None;
            }
        }
        i += 1;
    }
    if argv[1] == argv[2] {
        r.error(
            ErrorCode::Err,
            "ERR source and destination objects are the same",
        );
        return None;
    }
    Some(replace)
}

fn copy(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(replace) = copy_options(argv, r) else {
        return;
    };
    let Some(src) = ctx.ks.peek(argv[1], ctx.now).cloned() else {
        return r.int(0);
    };
    if !replace && ctx.ks.contains(argv[2], ctx.now) {
        return r.int(0);
    }
    let (v, at) = src.into_parts();
    ctx.ks.insert(argv[2], v, at, ctx.now);
    r.int(1);
}

fn object(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let sub = argv[1].to_ascii_uppercase();
    if argv.len() != 3 {
        return r.error(
            ErrorCode::Err,
            &errors::unknown_subcommand("object", argv[1]),
        );
    }
    let Some(e) = ctx.ks.peek(argv[2], ctx.now) else {
        return r.null();
    };
    match sub.as_slice() {
        b"ENCODING" => r.bulk(e.value.encoding().as_bytes()),
        b"REFCOUNT" => r.int(1),
        b"IDLETIME" | b"FREQ" => r.int(0),
        _ => r.error(
            ErrorCode::Err,
            &errors::unknown_subcommand("object", argv[1]),
        ),
    }
}

fn memory(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match argv[1].to_ascii_uppercase().as_slice() {
        b"USAGE"
            if argv.len() == 3 || (argv.len() == 5 && argv[3].eq_ignore_ascii_case(b"SAMPLES")) =>
        {
            if argv.len() == 5 && arg_i64(argv[4], r).is_none() {
                return;
            }
            match ctx.ks.entry_memory(argv[2], ctx.now) {
                Some(n) => r.int(n as i64),
                None => r.null(),
            }
        }
        b"USAGE" => r.error(ErrorCode::Err, errors::SYNTAX),
        _ => r.error(
            ErrorCode::Err,
            &errors::unknown_subcommand("memory", argv[1]),
        ),
    }
}

/// RENAME / RENAMENX / COPY when source and destination live on different shards: read (or
/// take) the source entry on its shard, then write it on the destination's shard.
pub(crate) async fn move_across(
    conn: &mut ConnState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
) {
    let shard = conn.shard.clone();
    let slots = &shard.global.slots;
    let (src, dst) = (argv[1].to_vec(), argv[2].to_vec());
    let (s_src, s_dst) = (slots.shard_of_key(&src), slots.shard_of_key(&dst));
    let mut replace = true;
    if spec.name == "copy" {
        match copy_options(argv, r) {
            Some(rep) => replace = rep,
            None => return,
        }
    }
    let nx = spec.name == "renamenx";
    let is_copy = spec.name == "copy";
    let src_key = src.clone();
    let peek = shard
        .run_on(s_src, move |s| {
            let now = synap_shard::time::now_ms();
            s.ks.borrow_mut().peek(&src_key, now).cloned()
        })
        .await
        .flatten();
    let Some(entry) = peek else {
        return if is_copy {
            r.int(0)
        } else {
            r.error(ErrorCode::Err, errors::NO_SUCH_KEY)
        };
    };
    if nx || !replace {
        let dst_key = dst.clone();
        let exists = shard
            .run_on(s_dst, move |s| {
                s.ks.borrow_mut()
                    .contains(&dst_key, synap_shard::time::now_ms())
            })
            .await
            .unwrap_or(false);
        if exists {
            return r.int(0);
        }
    }
    let entry: Entry = if is_copy {
        entry
    } else {
        let src_key = src.clone();
        match shard
            .run_on(s_src, move |s| {
                let e =
                    s.ks.borrow_mut()
                        .remove(&src_key, synap_shard::time::now_ms());
                if e.is_some() {
                    s.journal_command(&[&b"DEL"[..], &src_key]);
                }
                e
            })
            .await
            .flatten()
        {
            Some(e) => e,
            None => return r.error(ErrorCode::Err, errors::NO_SUCH_KEY),
        }
    };
    shard
        .run_on(s_dst, move |s| {
            let (v, at) = entry.into_parts();
            s.ks.borrow_mut()
                .insert(&dst, v, at, synap_shard::time::now_ms());
            s.journal_key(&dst);
        })
        .await;
    match spec.name {
        "rename" => r.ok(),
        _ => r.int(1),
    }
}

/// KEYS pattern, over every shard.
pub(crate) async fn keys(conn: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let pattern = argv[1].to_vec();
    let parts = conn
        .shard
        .run_on_all(move |s| {
            let f = ScanFilter {
                pattern: Some(&pattern),
                value_type: None,
            };
            s.ks.borrow().keys(f, synap_shard::time::now_ms())
        })
        .await;
    let total: usize = parts.iter().flatten().map(|v| v.len()).sum();
    r.array(total);
    for k in parts.iter().flatten().flatten() {
        r.bulk(k);
    }
}

/// Bits of a SCAN cursor that carry the shard index.
const SHARD_BITS: u32 = 10;

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor's low bits carry the shard,
/// the rest the position within that shard's keyspace.
pub(crate) async fn scan(conn: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(cursor) = std::str::from_utf8(argv[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return r.error(ErrorCode::Err, errors::INVALID_CURSOR);
    };
    let mut pattern: Option<Vec<u8>> = None;
    let mut count = 10usize;
    let mut vtype: Option<ValueType> = None;
    let mut type_given = false;
    let mut i = 2;
    while i < argv.len() {
        let Some(val) = argv.get(i + 1) else {
            return r.error(ErrorCode::Err, errors::SYNTAX);
        };
        match argv[i].to_ascii_uppercase().as_slice() {
            b"MATCH" => pattern = Some(val.to_vec()),
            b"COUNT" => {
                let Some(c) = arg_i64(val, r) else { return };
                if c < 1 {
                    return r.error(ErrorCode::Err, errors::SYNTAX);
                }
                count = c as usize;
            }
            b"TYPE" => {
                type_given = true;
                vtype = ValueType::parse(val);
            }
            _ => return r.error(ErrorCode::Err, errors::SYNTAX),
        }
        i += 2;
    }
    let n = conn.shard.global.nshards as u64;
    let mask = (1u64 << SHARD_BITS) - 1;
    let shard_idx = cursor & mask;
    let pos = cursor >> SHARD_BITS;
    if shard_idx >= n || (type_given && vtype.is_none()) {
        // A cursor from another shard layout, or a type no key can have: nothing (more) to see.
        r.array(2);
        r.bulk(b"0");
        r.array(0);
        return;
    }
    let (next_pos, keys) = conn
        .shard
        .run_on(shard_idx as usize, move |s| {
            let f = ScanFilter {
                pattern: pattern.as_deref(),
                value_type: vtype,
            };
            s.ks.borrow()
                .scan(pos, count, f, synap_shard::time::now_ms())
        })
        .await
        .unwrap_or((0, Vec::new()));
    let next = if next_pos != 0 {
        (next_pos << SHARD_BITS) | shard_idx
    } else if shard_idx + 1 < n {
        shard_idx + 1
    } else {
        0
    };
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(keys.len());
    for k in &keys {
        r.bulk(k);
    }
}

/// RANDOMKEY: a random key of a random non-empty shard.
pub(crate) async fn randomkey(conn: &mut ConnState, _argv: &[&[u8]], r: &mut Reply<'_>) {
    let n = conn.shard.global.nshards;
    let start = rand::random::<usize>() % n;
    for i in 0..n {
        let target = (start + i) % n;
        let k = conn
            .shard
            .run_on(target, |s| {
                s.ks.borrow_mut().random_key(synap_shard::time::now_ms())
            })
            .await
            .flatten();
        if let Some(k) = k {
            return r.bulk(&k);
        }
    }
    r.null();
}
