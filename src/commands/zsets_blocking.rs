//! The blocking sorted-set pops: BZPOPMIN, BZPOPMAX, BZMPOP. They wait on keys of any shards
//! through the same machinery as BLPOP (`crate::blocking`): a key that gets a sorted set
//! serves its waiters in the order they blocked, each pop atomic on the key's shard and
//! journaled as the ZPOPMIN / ZPOPMAX it performed.

use super::flags::*;
use super::zsets::{mpop_args, pop_min_max, reply_mpop};
use super::{reply_op_error, spec, CommandSpec, Exec};
use crate::blocking::{parse_timeout, BlockReq, Blocking, Served};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use synap_shard::{Blob, ValueType};

const G: &str = "sorted_set";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let wb: &[&str] = &["write", "sortedset", "fast", "blocking"];
    let wbs: &[&str] = &["write", "sortedset", "slow", "blocking"];
    t.push(spec("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, (1, -2, 1), wb, G, "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", Exec::Block(prepare_bzpopmin)));
    t.push(spec("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, (1, -2, 1), wb, G, "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", Exec::Block(prepare_bzpopmax)));
    t.push(spec("bzmpop", -5, WRITE | BLOCKING, (3, -2, 1), wbs, G, "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", Exec::Block(prepare_bzmpop)).numkeys(2));
}

fn req(keys: &[&[u8]], serve: crate::blocking::ServeFn, max: bool) -> BlockReq {
    BlockReq {
        keys: keys.iter().map(|k| Blob::new(k)).collect(),
        kind: ValueType::Zset,
        serve,
        // `left` is MIN for sorted sets.
        left: !max,
        count: None,
        dest: None,
        resp3: false,
    }
}

fn prepare_bzpop(argv: &[&[u8]], r: &mut Reply<'_>, max: bool) -> Option<Blocking> {
    let last = argv.len() - 1;
    let timeout = parse_timeout(argv[last], r)?;
    Some(Blocking {
        req: req(&argv[1..last], serve_bzpop, max),
        timeout,
    })
}

fn prepare_bzpopmin(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<Blocking> {
    prepare_bzpop(argv, r, false)
}

fn prepare_bzpopmax(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<Blocking> {
    prepare_bzpop(argv, r, true)
}

/// `BZMPOP timeout numkeys key… MIN|MAX [COUNT n]`.
fn prepare_bzmpop(argv: &[&[u8]], r: &mut Reply<'_>) -> Option<Blocking> {
    let timeout = parse_timeout(argv[1], r)?;
    let (keys, max, count) = mpop_args(argv, 2, r)?;
    let mut q = req(&keys, serve_bzmpop, max);
    q.count = Some(count);
    Some(Blocking { req: q, timeout })
}

fn pop_name(max: bool) -> &'static [u8] {
    if max {
        b"ZPOPMAX"
    } else {
        b"ZPOPMIN"
    }
}

/// BZPOPMIN / BZPOPMAX: `[key, member, score]`.
fn serve_bzpop(ctx: &mut ShardCtx<'_>, q: &BlockReq, key: &[u8]) -> Served {
    let max = !q.left;
    let mut out = Vec::new();
    let mut r = Reply::new(&mut out, q.resp3);
    match pop_min_max(ctx.ks, key, ctx.now, max, 1) {
        Err(e) => reply_op_error(e, &mut r),
        Ok(Some(p)) if !p.is_empty() => {
            ctx.journal_command(&[pop_name(max), key]);
            let (m, s) = &p[0];
            r.array(3);
            r.bulk(key);
            r.bulk(m);
            r.double(*s);
        }
        Ok(_) => r.null_array(),
    }
    Served::Reply(out)
}

/// BZMPOP: `[key, [[member, score]…]]`.
fn serve_bzmpop(ctx: &mut ShardCtx<'_>, q: &BlockReq, key: &[u8]) -> Served {
    let max = !q.left;
    let mut out = Vec::new();
    let mut r = Reply::new(&mut out, q.resp3);
    match pop_min_max(ctx.ks, key, ctx.now, max, q.count.unwrap_or(1)) {
        Err(e) => reply_op_error(e, &mut r),
        Ok(Some(p)) if !p.is_empty() => {
            let n = p.len().to_string();
            ctx.journal_command(&[pop_name(max), key, n.as_bytes()]);
            reply_mpop(&mut r, key, &p);
        }
        Ok(_) => r.null_array(),
    }
    Served::Reply(out)
}
