//! The list family (without the blocking pops, which need the waiting machinery of a later
//! change). LMOVE/RPOPLPUSH/LMPOP whose keys span shards run in `across`.

use super::flags::*;
use super::{arg_i64, reply_op_error, spec, CommandSpec, Exec, Split};
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use std::collections::VecDeque;
use synap_shard::{Blob, Keyspace, OpError, Value};

const G: &str = "list";
type List = VecDeque<Blob>;

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
    t.push(spec("lmpop", -4, WRITE, (2, -2, 1), ws, G, "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", gather(lmpop)).numkeys(1));
}

fn read_list<'a>(ks: &'a mut Keyspace, key: &[u8], now: u64) -> Result<Option<&'a List>, OpError> {
    super::read_as(ks, key, now, Value::as_list)
}

fn write_list<R>(
    ks: &mut Keyspace,
    key: &[u8],
    now: u64,
    create: bool,
    f: impl FnOnce(&mut List) -> R,
) -> Result<Option<R>, OpError> {
    super::write_as(
        ks,
        key,
        now,
        synap_shard::ValueType::List,
        create.then_some(Value::new_list as fn() -> Value),
        Value::as_list_mut,
        f,
    )
}

fn push(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>, left: bool, create: bool) {
    let res = write_list(ctx.ks, argv[1], ctx.now, create, |l| {
        for e in &argv[2..] {
            if left {
                l.push_front(Blob::new(e));
            } else {
                l.push_back(Blob::new(e));
            }
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

fn pop_n(
    ks: &mut Keyspace,
    key: &[u8],
    now: u64,
    left: bool,
    n: usize,
) -> Result<Option<Vec<Blob>>, OpError> {
    write_list(ks, key, now, false, |l| {
        let n = n.min(l.len());
        (0..n)
            .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
            .collect()
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
    match (
        pop_n(ctx.ks, argv[1], ctx.now, left, count.unwrap_or(1)),
        count,
    ) {
        (Err(e), _) => reply_op_error(e, r),
        (Ok(v), None) => r.opt_bulk(v.as_ref().and_then(|v| v.first()).map(|b| b.as_slice())),
        (Ok(None), Some(_)) => r.null_array(),
        (Ok(Some(v)), Some(_)) => {
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
        Ok(l) => {
            let l = l.map(|l| l.iter().collect::<Vec<_>>()).unwrap_or_default();
            match range(l.len(), start, end) {
                None => r.array(0),
                Some((s, e)) => {
                    r.array(e - s + 1);
                    for b in &l[s..=e] {
                        r.bulk(b);
                    }
                }
            }
        }
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
        Ok(l) => r.opt_bulk(
            l.and_then(|l| index_of(l.len(), i).and_then(|i| l.get(i)))
                .map(|b| b.as_slice()),
        ),
    }
}

fn lset(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(i) = arg_i64(argv[2], r) else { return };
    match write_list(ctx.ks, argv[1], ctx.now, false, |l| {
        match index_of(l.len(), i) {
            Some(i) => {
                l[i] = Blob::new(argv[3]);
                true
            }
            None => false,
        }
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
    match write_list(ctx.ks, argv[1], ctx.now, false, |l| {
        match l.iter().position(|b| b.as_slice() == argv[3]) {
            Some(p) => {
                l.insert(if after { p + 1 } else { p }, Blob::new(argv[4]));
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
    match write_list(ctx.ks, argv[1], ctx.now, false, |l| {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < l.len() && removed < limit {
                if l[i].as_slice() == el {
                    l.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = l.len();
            while i > 0 && removed < limit {
                i -= 1;
                if l[i].as_slice() == el {
                    l.remove(i);
                    removed += 1;
                }
            }
        }
        removed
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
    match write_list(ctx.ks, argv[1], ctx.now, false, |l| {
        match range(l.len(), start, end) {
            None => l.clear(),
            Some((s, e)) => {
                l.truncate(e + 1);
                l.drain(..s);
            }
        }
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
        for step in 0..limit {
            let idx = if rank > 0 { step } else { n - 1 - step };
            if l[idx].as_slice() == argv[2] {
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

fn move_local(
    ctx: &mut ShardCtx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
    r: &mut Reply<'_>,
) {
    // Redis checks the source (type, emptiness) then the destination's type.
    match read_list(ctx.ks, src, ctx.now) {
        Err(e) => return reply_op_error(e, r),
        Ok(None) => return r.null(),
        Ok(Some(_)) => {}
    }
    if let Err(e) = read_list(ctx.ks, dst, ctx.now) {
        return reply_op_error(e, r);
    }
    let popped = pop_n(ctx.ks, src, ctx.now, from_left, 1)
        .ok()
        .flatten()
        .and_then(|mut v| v.pop());
    let Some(el) = popped else { return r.null() };
    let _ = write_list(ctx.ks, dst, ctx.now, true, |l| {
        if to_left {
            l.push_front(el.clone())
        } else {
            l.push_back(el.clone())
        }
    });
    r.bulk(&el);
}

fn lmove(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some(from) = side(argv[3], r) else { return };
    let Some(to) = side(argv[4], r) else { return };
    move_local(ctx, argv[1], argv[2], from, to, r)
}

fn rpoplpush(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    move_local(ctx, argv[1], argv[2], false, true, r)
}

/// Parses LMPOP's `numkeys key… LEFT|RIGHT [COUNT n]`.
fn lmpop_args<'a>(argv: &[&'a [u8]], r: &mut Reply<'_>) -> Option<(Vec<&'a [u8]>, bool, usize)> {
    let n = match synap_shard::strings::parse_i64(argv[1]) {
        Some(n) if n > 0 => n as usize,
        _ => {
            r.error(ErrorCode::Err, "ERR numkeys should be greater than 0");
            return None;
        }
    };
    if argv.len() < 3 + n {
        r.error(ErrorCode::Err, errors::SYNTAX);
        return None;
    }
    let keys = argv[2..2 + n].to_vec();
    let left = side(argv[2 + n], r)?;
    let count = match &argv[3 + n..] {
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
    Some((keys, left, count))
}

fn reply_mpop(r: &mut Reply<'_>, key: &[u8], els: &[Blob]) {
    r.array(2);
    r.bulk(key);
    r.array(els.len());
    for e in els {
        r.bulk(e);
    }
}

fn lmpop(ctx: &mut ShardCtx<'_>, argv: &[&[u8]], r: &mut Reply<'_>) {
    let Some((keys, left, count)) = lmpop_args(argv, r) else {
        return;
    };
    for k in keys {
        match pop_n(ctx.ks, k, ctx.now, left, count) {
            Err(e) => return reply_op_error(e, r),
            Ok(Some(v)) if !v.is_empty() => return reply_mpop(r, k, &v),
            Ok(_) => {}
        }
    }
    r.null_array();
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
        let Some((keys, left, count)) = lmpop_args(argv, r) else {
            return;
        };
        for k in keys {
            let key = k.to_vec();
            let res = shard
                .run_on(owner(k), move |s| {
                    let popped = pop_n(
                        &mut s.ks.borrow_mut(),
                        &key,
                        synap_shard::time::now_ms(),
                        left,
                        count,
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
    let popped = shard
        .run_on(owner(&src), move |s| {
            let popped = pop_n(
                &mut s.ks.borrow_mut(),
                &k,
                synap_shard::time::now_ms(),
                from,
                1,
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
    let pushed = el.clone();
    shard
        .run_on(owner(&dst), move |s| {
            let journaled = pushed.to_vec();
            let _ = write_list(
                &mut s.ks.borrow_mut(),
                &dst,
                synap_shard::time::now_ms(),
                true,
                |l| {
                    if to {
                        l.push_front(pushed)
                    } else {
                        l.push_back(pushed)
                    }
                },
            );
            let cmd: &[u8] = if to { b"LPUSH" } else { b"RPUSH" };
            s.journal_command(&[cmd, &dst, &journaled]);
        })
        .await;
    r.bulk(&el);
}
