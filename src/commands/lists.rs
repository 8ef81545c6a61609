//! The list family. LMOVE/RPOPLPUSH/LMPOP whose keys span shards run in `across`; the
//! blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) declare how they parse and how a
//! waiting client is served, and [`crate::blocking`] does the waiting.

use super::flags::*;
use super::{arg_i64, reply_op_error, spec, CommandSpec, Exec, Split};
use crate::blocking::{parse_timeout, BlockReq, Blocking, Served};
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use synap_shard::list::{Elem, ListLimits, ListValue};
use synap_shard::{Blob, Keyspace, OpError, ValueType};

const G: &str = "list";
type List = ListValue;

/// Writes one list element as a bulk reply.
#[inline]
fn bulk_elem(r: &mut Reply<'_>, e: Elem<'_>) {
    let mut buf = synap_shard::list::IntBuf::default();
    let (a, b) = e.parts(&mut buf);
    r.bulk2(a, b);
}

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let one = (1, 1, 1);
    let sh = |f: super::ShardFn| Exec::Shard(f, Split::None);
    let gather = |f: super::ShardFn| Exec::Shard(f, Split::Gather);
    let rd: &[&str] = &["read", "list", "fast"];
    let wr: &[&str] = &["write", "list", "fast"];
    let rs: &[&str] = &["read", "list", "slow"];
    let ws: &[&str] = &["write", "list", "slow"];
    t.push(spec("lpush", -3, WRITE | DENYOOM | FAST, one, wr, G, "Prepends one or more elements to a list. Creates the key if it doesn't exist.", sh(lpush)));
    t.push(spec("rpush", -3, WRITE | DENYOOM | FAST, one, wr, G, "Appends one or more elements to a list. Creates the key if it doesn't exist.", sh(rpush)));
    t.push(spec("lpushx", -3, WRITE | DENYOOM | FAST, one, wr, G, "Prepends one or more elements to a list only when the list exists.", sh(lpushx)));
    t.push(spec("rpushx", -3, WRITE | DENYOOM | FAST, one, wr, G, "Appends an element to a list only when the list exists.", sh(rpushx)));
    t.push(spec("lpop", -2, WRITE | FAST, one, wr, G, "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", sh(lpop)));
    t.push(spec("rpop", -2, WRITE | FAST, one, wr, G, "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", sh(rpop)));
    t.push(spec("llen", 2, READONLY | FAST, one, rd, G, "Returns the length of a list.", sh(llen)));
    t.push(spec("lrange", 4, READONLY, one, rs, G, "Returns a range of elements from a list.", sh(lrange)));
    t.push(spec("lindex", 3, READONLY, one, rs, G, "Returns an element from a list by its index.", sh(lindex)));
    t.push(spec("lset", 4, WRITE | DENYOOM, one, ws, G, "Sets the value of an element in a list by its index.", sh(lset)));
    t.push(spec("linsert", 5, WRITE | DENYOOM, one, ws, G, "Inserts an element before or after another element in a list.", sh(linsert)));
    t.push(spec("lrem", 4, WRITE, one, ws, G, "Removes elements from a list. Deletes the list if the last element was removed.", sh(lrem)));
    t.push(spec("ltrim", 4, WRITE, one, ws, G, "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", sh(ltrim)));
    t.push(spec("lpos", -3, READONLY, one, rs, G, "Returns the index of matching elements in a list.", sh(lpos)));
    t.push(spec("lmove", 5, WRITE | DENYOOM, (1, 2, 1), ws, G, "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", gather(lmove)));
    t.push(spec("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), ws, G, "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", gather(rpoplpush)));
    let wb: &[&str] = &["write", "list", "slow", "blocking"];
    t.push(spec("blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), wb, G, "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Exec::Block(prepare_blpop)));
    t.push(spec("brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), wb, G, "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Exec::Block(prepare_brpop)));
    t.push(spec("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), wb, G, "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", Exec::Block(prepare_blmove)));
    t.push(spec("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), wb, G, "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", Exec::Block(prepare_brpoplpush)));
    t.push(spec("blmpop", -5, WRITE | BLOCKING, (3, -2, 1), wb, G, "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Exec::Block(prepare_blmpop)).numkeys(2));
    t.push(spec("lmpop", -4, WRITE, (2, -2, 1), ws, G, "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", gather(lmpop)).numkeys(1));
}

fn read_list<'a>(ks: &'a mut Keyspace, key: &[u8], now: u64) -> Result<Option<&'a List>, OpError> {
    super::read_as(ks, key, now)
}

fn write_list<R>(
    ks: &mut Keyspace,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut List) -> R,
) -> Result<Option<R>, OpError> {
    super::write_as(ks, key, now, create, f)
}

fn push(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, left: bool, create: bool) {
    let lim = ctx.shard.list_limits.get();
    let res = write_list(ctx.ks, argv[1], ctx.now, create, |l| {
        for e in &argv[2..] {
            l.push(e, left, lim);
        }
        l.len()
    });
    match res {
        Ok(n) => r.int(n.unwrap_or(0) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

fn lpush(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    push(c, a, r, true, true)
}
fn rpush(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    push(c, a, r, false, true)
}
fn lpushx(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    push(c, a, r, true, false)
}
fn rpushx(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    push(c, a, r, false, false)
}

pub(crate) fn pop_n(
    ks: &mut Keyspace,
    key: &[u8],
    now: u64,
    left: bool,
    n: usize,
    lim: ListLimits,
) -> Result<Option<Vec<Blob>>, OpError> {
    write_list(ks, key, now, false, |l| {
        let n = n.min(l.len());
        (0..n).filter_map(|_| l.pop(left, lim)).collect()
    })
}

fn pop(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, left: bool) {
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
        _ => {
            return r.error(
                ErrorCode::Err,
                &errors::arity(if left { "lpop" } else { "rpop" }),
            )
        }
    };
    let lim = ctx.shard.list_limits.get();
    let Some(count) = count else {
        return match write_list(ctx.ks, argv[1], ctx.now, false, |l| l.pop(left, lim)) {
            Err(e) => reply_op_error(e, r),
            Ok(v) => r.opt_bulk(v.flatten().as_deref()),
        };
    };
    match pop_n(ctx.ks, argv[1], ctx.now, left, count, lim) {
        Err(e) => reply_op_error(e, r),
        Ok(None) => r.null_array(),
        Ok(Some(v)) => {
            r.array(v.len());
            for b in v {
                r.bulk(&b);
            }
        }
    }
}

fn lpop(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    pop(c, a, r, true)
}
fn rpop(c: &mut ShardCtx<'_>, a: &[&[u8]], r: &mut Reply<'_>) {
    pop(c, a, r, false)
}

fn llen(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    match read_list(ctx.ks, argv[1], ctx.now) {
        Ok(l) => r.int(l.map_or(0, |l| l.len()) as i64),
        Err(e) => reply_op_error(e, r),
    }
}

/// Redis's index normalisation for ranges: (start, end) inclusive, or None when empty.
fn range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

fn lrange(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(start) = arg_i64(argv[2], r) else {
        return;
    };
    let Some(end) = arg_i64(argv[3], r) else {
        return;
    };
    match read_list(ctx.ks, argv[1], ctx.now) {
        Err(e) => reply_op_error(e, r),
        Ok(l) => match l.and_then(|l| range(l.len(), start, end).map(|se| (l, se))) {
            None => r.array(0),
            Some((l, (s, e))) => {
                r.array(e - s + 1);
                for el in l.iter_from(s).take(e - s + 1) {
                    bulk_elem(r, el);
                }
            }
        },
    }
}

fn index_of(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

fn lindex(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(i) = arg_i64(argv[2], r) else { return };
    match read_list(ctx.ks, argv[1], ctx.now) {
        Err(e) => reply_op_error(e, r),
        Ok(l) => match l.and_then(|l| index_of(l.len(), i).and_then(|i| l.get(i))) {
            Some(el) => bulk_elem(r, el),
            None => r.null(),
        },
    }
}

fn lset(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(i) = arg_i64(argv[2], r) else { return };
    let lim = ctx.shard.list_limits.get();
    match write_list(ctx.ks, argv[1], ctx.now, false, |l| {
        index_of(l.len(), i).is_some_and(|i| l.set(i, argv[3], lim))
    }) {
        Err(e) => reply_op_error(e, r),
        Ok(None) => r.error(ErrorCode::Err, errors::NO_SUCH_KEY),
        Ok(Some(false)) => r.error(ErrorCode::Err, "ERR index out of range"),
        Ok(Some(true)) => r.ok(),
    }
}

fn linsert(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let after = match argv[2].to_ascii_uppercase().as_slice() {
        b"BEFORE" => false,
        b"AFTER" => true,
        _ => return r.error(ErrorCode::Err, errors::SYNTAX),
    };
    let lim = ctx.shard.list_limits.get();
    match write_list(ctx.ks, argv[1], ctx.now, false, |l| {
        match l.iter().position(|b| b.eq_bytes(argv[3])) {
            Some(p) => {
                l.insert(if after { p + 1 } else { p }, argv[4], lim);
                l.len() as i64
            }
            None => -1,
        }
    }) {
        Err(e) => reply_op_error(e, r),
        Ok(n) => r.int(n.unwrap_or(0)),
    }
}

fn lrem(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(count) = arg_i64(argv[2], r) else {
        return;
    };
    let el = argv[3];
    let lim = ctx.shard.list_limits.get();
    match write_list(ctx.ks, argv[1], ctx.now, false, |l| {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        l.remove(el, limit, count < 0, lim)
    }) {
        Err(e) => reply_op_error(e, r),
        Ok(n) => r.int(n.unwrap_or(0) as i64),
    }
}

fn ltrim(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(start) = arg_i64(argv[2], r) else {
        return;
    };
    let Some(end) = arg_i64(argv[3], r) else {
        return;
    };
    let lim = ctx.shard.list_limits.get();
    match write_list(ctx.ks, argv[1], ctx.now, false, |l| {
        l.trim(range(l.len(), start, end), lim)
    }) {
        Err(e) => reply_op_error(e, r),
        Ok(_) => r.ok(),
    }
}

fn lpos(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<usize>, 0usize);
    let mut i = 3;
    while i < argv.len() {
        let Some(v) = argv.get(i + 1) else {
            return r.error(ErrorCode::Err, errors::SYNTAX);
        };
        let Some(n) = arg_i64(v, r) else { return };
        match argv[i].to_ascii_uppercase().as_slice() {
            b"RANK" if n == 0 => return r.error(ErrorCode::Err, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"),
            b"RANK" if n == i64::MIN => return r.error(ErrorCode::Err, "ERR value is out of range"),
            b"RANK" => rank = n,
            b"COUNT" if n < 0 => return r.error(ErrorCode::Err, "ERR COUNT can't be negative"),
            b"COUNT" => count = Some(n as usize),
            b"MAXLEN" if n < 0 => return r.error(ErrorCode::Err, "ERR MAXLEN can't be negative"),
            b"MAXLEN" => maxlen = n as usize,
            _ => return r.error(ErrorCode::Err, errors::SYNTAX),
        }
        i += 2;
    }
    let l = match read_list(ctx.ks, argv[1], ctx.now) {
        Ok(l) => l,
        Err(e) => return reply_op_error(e, r),
    };
    let mut found = Vec::new();
    if let Some(l) = l {
        let want = match count {
            Some(0) => usize::MAX,
            Some(c) => c,
            None => 1,
        };
        let mut skip = rank.unsigned_abs() - 1;
        let n = l.len();
        let limit = if maxlen == 0 { n } else { maxlen.min(n) };
        let walk: Box<dyn Iterator<Item = Elem<'_>>> = if rank > 0 {
            Box::new(l.iter())
        } else {
            Box::new(l.iter().rev())
        };
        for (step, el) in walk.take(limit).enumerate() {
            let idx = if rank > 0 { step } else { n - 1 - step };
            if el.eq_bytes(argv[2]) {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                found.push(idx);
                if found.len() >= want {
                    break;
                }
            }
        }
    }
    match count {
        None => match found.first() {
            Some(&p) => r.int(p as i64),
            None => r.null(),
        },
        Some(_) => {
            r.array(found.len());
            for p in found {
                r.int(p as i64);
            }
        }
    }
}

fn side(arg: &[u8], r: &mut Reply<'_>) -> Option<bool> {
    match arg.to_ascii_uppercase().as_slice() {
        b"LEFT" => Some(true),
        b"RIGHT" => Some(false),
        _ => {
            r.error(ErrorCode::Err, errors::SYNTAX);
            None
        }
    }
}

/// Pushes `el` at one end of the list at `key` (created when missing); returns the new
/// length, or WRONGTYPE when `key` holds another type.
pub(crate) fn push_one(
    ks: &mut Keyspace,
    key: &[u8],
    now: u64,
    el: &[u8],
    left: bool,
    lim: ListLimits,
) -> Result<usize, OpError> {
    write_list(ks, key, now, true, |l| {
        l.push(el, left, lim);
        l.len()
    })
    .map(|n| n.unwrap_or(0))
}

/// LMOVE on one shard: Redis checks the source (type, emptiness), then the destination's
/// type, then moves. None when the source is missing.
pub(crate) fn move_local(
    ks: &mut Keyspace,
    now: u64,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
    lim: ListLimits,
) -> Result<Option<Blob>, OpError> {
    if read_list(ks, src, now)?.is_none() {
        return Ok(None);
    }
    read_list(ks, dst, now)?;
    let Some(el) = pop_n(ks, src, now, from_left, 1, lim)?.and_then(|mut v| v.pop()) else {
        return Ok(None);
    };
    push_one(ks, dst, now, &el, to_left, lim)?;
    Ok(Some(el))
}

fn reply_moved(res: Result<Option<Blob>, OpError>, r: &mut Reply<'_>) {
    match res {
        Err(e) => reply_op_error(e, r),
        Ok(None) => r.null(),
        Ok(Some(el)) => r.bulk(&el),
    }
}

fn lmove(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(from) = side(argv[3], r) else { return };
    let Some(to) = side(argv[4], r) else { return };
    let lim = ctx.shard.list_limits.get();
    reply_moved(
        move_local(ctx.ks, ctx.now, argv[1], argv[2], from, to, lim),
        r,
    )
}

fn rpoplpush(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let lim = ctx.shard.list_limits.get();
    reply_moved(
        move_local(ctx.ks, ctx.now, argv[1], argv[2], false, true, lim),
        r,
    )
}

/// LMPOP / BLMPOP arguments: `numkeys key… LEFT|RIGHT [COUNT n]` starting at `argv[at]`.
pub(crate) struct MpopArgs<'a> {
    pub keys: Vec<&'a [u8]>,
    pub left: bool,
    pub count: usize,
}

/// Parses LMPOP-style arguments with `numkeys` at `argv[at]` (Redis's order of checks).
pub(crate) fn mpop_args<'a>(
    argv: &[&'a [u8]],
    at: usize,
    r: &mut Reply<'_>,
) -> Option<MpopArgs<'a>> {
    let n = match synap_shard::strings::parse_i64(argv[at]) {
        Some(n) if n > 0 => n as usize,
        _ => {
            r.error(ErrorCode::Err, "ERR numkeys should be greater than 0");
            return None;
        }
    };
    if argv.len() < at + 2 + n {
        r.error(ErrorCode::Err, errors::SYNTAX);
        return None;
    }
    let keys = argv[at + 1..at + 1 + n].to_vec();
    let left = side(argv[at + 1 + n], r)?;
    let count = match &argv[at + 2 + n..] {
        [] => 1,
        [c, v] if c.eq_ignore_ascii_case(b"COUNT") => match synap_shard::strings::parse_i64(v) {
            Some(x) if x > 0 => x as usize,
            _ => {
                r.error(ErrorCode::Err, "ERR count should be greater than 0");
                return None;
            }
        },
        _ => {
            r.error(ErrorCode::Err, errors::SYNTAX);
            return None;
        }
    };
    Some(MpopArgs { keys, left, count })
}

/// The `[key, [elements…]]` reply of LMPOP / BLMPOP.
pub(crate) fn reply_mpop(r: &mut Reply<'_>, key: &[u8], els: &[Blob]) {
    r.array(2);
    r.bulk(key);
    r.array(els.len());
    for e in els {
        r.bulk(e);
    }
}

fn lmpop(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(a) = mpop_args(argv, 1, r) else {
        return;
    };
    let lim = ctx.shard.list_limits.get();
    for k in a.keys {
        match pop_n(ctx.ks, k, ctx.now, a.left, a.count, lim) {
            Err(e) => return reply_op_error(e, r),
            Ok(Some(v)) if !v.is_empty() => return reply_mpop(r, k, &v),
            Ok(_) => {}
        }
    }
    r.null_array();
}

/// The second half of a move whose destination lives on another shard: pushes `el` (already
/// popped from `src`) onto `dst`. When `dst` holds another type by then (it was checked before
/// the pop, but another client may have changed it), the element goes back where it came from
/// and the move answers WRONGTYPE, so nothing is lost.
pub(crate) async fn finish_move(
    shard: &std::rc::Rc<crate::shard::Shard>,
    src: Vec<u8>,
    dst: Vec<u8>,
    el: Blob,
    from_left: bool,
    to_left: bool,
) -> Result<Blob, OpError> {
    let owner = |k: &[u8]| shard.global.slots.shard_of_key(k);
    let (d, pushed) = (dst.clone(), el.clone());
    // The destination's shard journals the push (`LPUSH|RPUSH dst el`); the source's shard
    // journaled the pop.
    let res = shard
        .run_on(owner(&dst), move |s| {
            let lim = s.list_limits.get();
            let now = synap_shard::time::now_ms();
            let res = push_one(&mut s.ks.borrow_mut(), &d, now, &pushed, to_left, lim);
            if res.is_ok() {
                let cmd: &[u8] = if to_left { b"LPUSH" } else { b"RPUSH" };
                s.journal_command(&[cmd, &d, &pushed]);
            }
            res
        })
        .await
        .unwrap_or(Ok(0));
    match res {
        Ok(_) => Ok(el),
        Err(e) => {
            let back = el.clone();
            // The restore is journaled as `LPUSH|RPUSH src el` on the source's shard.
            shard
                .run_on(owner(&src), move |s| {
                    let lim = s.list_limits.get();
                    let now = synap_shard::time::now_ms();
                    match push_one(&mut s.ks.borrow_mut(), &src, now, &back, from_left, lim) {
                        Ok(_) => {
                            let cmd: &[u8] = if from_left { b"LPUSH" } else { b"RPUSH" };
                            s.journal_command(&[cmd, &src, &back]);
                        }
                        Err(e) => tracing::warn!(
                            "a list move lost an element: its destination and then its source \
                             changed type ({e:?})"
                        ),
                    }
                })
                .await;
            Err(e)
        }
    }
}

/// LMOVE / RPOPLPUSH / LMPOP when their keys span shards.
pub(crate) async fn across(
    conn: &mut crate::connection::ConnState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
) {
    let shard = conn.shard.clone();
    let owner = |k: &[u8]| shard.global.slots.shard_of_key(k);
    if spec.name == "lmpop" {
        let Some(a) = mpop_args(argv, 1, r) else {
            return;
        };
        for k in a.keys {
            let key = k.to_vec();
            let (left, count) = (a.left, a.count);
            let res = shard
                .run_on(owner(k), move |s| {
                    let lim = s.list_limits.get();
                    let popped = pop_n(
                        &mut s.ks.borrow_mut(),
                        &key,
                        synap_shard::time::now_ms(),
                        left,
                        count,
                        lim,
                    );
                    if let Ok(Some(v)) = &popped {
                        if !v.is_empty() {
                            let cmd: &[u8] = if left { b"LPOP" } else { b"RPOP" };
                            s.journal_command(&[cmd, &key, v.len().to_string().as_bytes()]);
                        }
                    }
                    popped
                })
                .await
                .unwrap_or(Ok(None));
            match res {
                Err(e) => return reply_op_error(e, r),
                Ok(Some(v)) if !v.is_empty() => return reply_mpop(r, k, &v),
                Ok(_) => {}
            }
        }
        return r.null_array();
    }
    let (from, to) = if spec.name == "rpoplpush" {
        (false, true)
    } else {
        let Some(f) = side(argv[3], r) else { return };
        let Some(t) = side(argv[4], r) else { return };
        (f, t)
    };
    let (src, dst) = (argv[1].to_vec(), argv[2].to_vec());
    let k = src.clone();
    let src_state = shard
        .run_on(owner(&src), move |s| {
            read_list(&mut s.ks.borrow_mut(), &k, synap_shard::time::now_ms()).map(|l| l.is_some())
        })
        .await
        .unwrap_or(Ok(false));
    match src_state {
        Err(e) => return reply_op_error(e, r),
        Ok(false) => return r.null(),
        Ok(true) => {}
    }
    let k = dst.clone();
    let dst_state = shard
        .run_on(owner(&dst), move |s| {
            read_list(&mut s.ks.borrow_mut(), &k, synap_shard::time::now_ms()).map(|_| ())
        })
        .await
        .unwrap_or(Ok(()));
    if let Err(e) = dst_state {
        return reply_op_error(e, r);
    }
    let k = src.clone();
    // The source's shard journals the pop (`LPOP|RPOP src`), the destination's the push.
    let popped = shard
        .run_on(owner(&src), move |s| {
            let lim = s.list_limits.get();
            let popped = pop_n(
                &mut s.ks.borrow_mut(),
                &k,
                synap_shard::time::now_ms(),
                from,
                1,
                lim,
            );
            if matches!(&popped, Ok(Some(v)) if !v.is_empty()) {
                let cmd: &[u8] = if from { b"LPOP" } else { b"RPOP" };
                s.journal_command(&[cmd, &k]);
            }
            popped
        })
        .await
        .and_then(|r| r.ok().flatten())
        .and_then(|mut v| v.pop());
    let Some(el) = popped else { return r.null() };
    reply_moved(
        finish_move(&shard, src, dst, el, from, to).await.map(Some),
        r,
    );
}

// ---------------------------------------------------------------------------------------------
// Blocking pops: how each parses (Redis's order of checks) and how a waiting client is served
// on the shard of the key that got elements (after its claim was won).
// ---------------------------------------------------------------------------------------------

fn block_req(keys: &[&[u8]], serve: crate::blocking::ServeFn, left: bool) -> BlockReq {
    BlockReq {
        keys: keys.iter().map(|k| Blob::new(k)).collect(),
        kind: ValueType::List,
        serve,
        left,
        count: None,
        dest: None,
        resp3: false,
    }
}

fn prepare_bpop(argv: &[&[u8]], r: &mut Reply<'_>, left: bool) -> Option<Blocking> {
    let last = argv.len() - 1;
    let timeout = parse_timeout(argv[last], r)?;
    Some(Blocking {
        req: block_req(&argv[1..last], serve_pop, left),
        timeout,
    })
}

fn prepare_blpop(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<Blocking> {
    prepare_bpop(argv, r, true)
}

fn prepare_brpop(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<Blocking> {
    prepare_bpop(argv, r, false)
}

fn prepare_move(
    argv: &[&[u8]],
    from: bool,
    to: bool,
    timeout: &[u8],
    r: &mut Reply<'_>,
) -> Option<Blocking> {
    let timeout = parse_timeout(timeout, r)?;
    let mut req = block_req(&argv[1..2], serve_move, from);
    req.dest = Some((Blob::new(argv[2]), to));
    Some(Blocking { req, timeout })
}

fn prepare_blmove(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<Blocking> {
    let from = side(argv[3], r)?;
    let to = side(argv[4], r)?;
    prepare_move(argv, from, to, argv[5], r)
}

fn prepare_brpoplpush(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<Blocking> {
    prepare_move(argv, false, true, argv[3], r)
}

fn prepare_blmpop(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<Blocking> {
    let a = mpop_args(argv, 2, r)?;
    let timeout = parse_timeout(argv[1], r)?;
    let mut req = block_req(&a.keys, serve_mpop, a.left);
    req.count = Some(a.count);
    Some(Blocking { req, timeout })
}

fn pop_name(left: bool) -> &'static [u8] {
    if left {
        b"LPOP"
    } else {
        b"RPOP"
    }
}

/// BLPOP / BRPOP: `[key, element]`.
fn serve_pop(ctx: &mut ShardCtx<'_>, req: &BlockReq, key: &[u8]) -> Served {
    let lim = ctx.shard.list_limits.get();
    let mut out = Vec::new();
    let mut r = Reply::new(&mut out, req.resp3);
    // A served BLPOP / BRPOP is journaled as `LPOP key` / `RPOP key` on this shard.
    match pop_n(ctx.ks, key, ctx.now, req.left, 1, lim) {
        Err(e) => reply_op_error(e, &mut r),
        Ok(v) => match v.and_then(|mut v| v.pop()) {
            Some(el) => {
                ctx.journal_command(&[pop_name(req.left), key]);
                r.array(2);
                r.bulk(key);
                r.bulk(&el);
            }
            None => r.null_array(),
        },
    }
    Served::Reply(out)
}

/// BLMPOP: `[key, [elements…]]`.
fn serve_mpop(ctx: &mut ShardCtx<'_>, req: &BlockReq, key: &[u8]) -> Served {
    let lim = ctx.shard.list_limits.get();
    let mut out = Vec::new();
    let mut r = Reply::new(&mut out, req.resp3);
    // A served BLMPOP is journaled as `LPOP key n` / `RPOP key n` (n = what it popped).
    match pop_n(ctx.ks, key, ctx.now, req.left, req.count.unwrap_or(1), lim) {
        Err(e) => reply_op_error(e, &mut r),
        Ok(Some(v)) if !v.is_empty() => {
            let n = v.len().to_string();
            ctx.journal_command(&[pop_name(req.left), key, n.as_bytes()]);
            reply_mpop(&mut r, key, &v)
        }
        Ok(_) => r.null_array(),
    }
    Served::Reply(out)
}

/// BLMOVE / BRPOPLPUSH: the element. With the destination on this shard the move is atomic
/// (a destination of another type answers WRONGTYPE and pops nothing, as Redis does);
/// otherwise the element is popped here and the client's connection pushes it on.
fn serve_move(ctx: &mut ShardCtx<'_>, req: &BlockReq, key: &[u8]) -> Served {
    let lim = ctx.shard.list_limits.get();
    let Some((dst, to_left)) = &req.dest else {
        return Served::Reply(Vec::new());
    };
    let mut out = Vec::new();
    let mut r = Reply::new(&mut out, req.resp3);
    if ctx.shard.global.slots.shard_of_key(dst) == ctx.shard.id {
        // A served BLMOVE / BRPOPLPUSH is journaled as `LMOVE src dst from to` here.
        let res = move_local(ctx.ks, ctx.now, key, dst, req.left, *to_left, lim);
        if matches!(res, Ok(Some(_))) {
            let side = |l: bool| -> &'static [u8] {
                if l {
                    b"LEFT"
                } else {
                    b"RIGHT"
                }
            };
            ctx.journal_command(&[&b"LMOVE"[..], key, dst, side(req.left), side(*to_left)]);
        }
        reply_moved(res, &mut r);
        return Served::Reply(out);
    }
    // Across shards: the pop is journaled here (`LPOP|RPOP src`), the push on the
    // destination's shard (`finish_move`).
    match pop_n(ctx.ks, key, ctx.now, req.left, 1, lim) {
        Err(e) => reply_op_error(e, &mut r),
        Ok(v) => match v.and_then(|mut v| v.pop()) {
            Some(el) => {
                ctx.journal_command(&[pop_name(req.left), key]);
                return Served::MoveAcross {
                    src: Blob::new(key),
                    el,
                };
            }
            None => r.null(),
        },
    }
    Served::Reply(out)
}
