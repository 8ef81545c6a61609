//! Commands that need more than one shard: multi-key commands whose keys span shards (split
//! per shard, run concurrently, merged), and the server-wide commands (run on every shard).
//!
//! Atomicity today: each shard applies its part atomically, but MSET, MSETNX, RENAME and COPY
//! across shards are not atomic as a whole (another client may observe a partial result for a
//! moment). Keys sharing a hash tag (`{user1}:a`, `{user1}:b`) always live on one shard, where
//! these commands are fully atomic.

use crate::commands::{self, CommandSpec, Exec, Global, Split};
use crate::connection::ConnState;
use crate::errors::{self, ErrorCode};
use crate::protocol::{read, Reply};
use crate::shard::Shard;
use std::rc::Rc;

/// Runs `spec` (which needs several shards) and writes its reply; returns the error code when
/// the reply is an error.
pub async fn run(
    conn: &mut ConnState,
    id: usize,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<ErrorCode> {
    let mut r = Reply::new(out, conn.resp3);
    match spec.exec {
        Exec::Global(g) => match g {
            Global::DbSize => commands::server::dbsize(conn, argv, &mut r).await,
            Global::Flush => commands::server::flush(conn, argv, &mut r).await,
            Global::Info => commands::server::info(conn, argv, &mut r).await,
            Global::Config => commands::server::config(conn, argv, &mut r).await,
            Global::Keys => commands::keys::keys(conn, argv, &mut r).await,
            Global::Scan => commands::keys::scan(conn, argv, &mut r).await,
            Global::RandomKey => commands::keys::randomkey(conn, argv, &mut r).await,
            Global::Client => commands::connection::client(conn, argv, &mut r).await,
            Global::Hello => commands::connection::hello(conn, argv, &mut r).await,
            Global::Save => commands::server::save(conn, argv, &mut r).await,
            Global::Wait => commands::wait::wait(conn, argv, &mut r).await,
            Global::Role => commands::server::role(conn, argv, &mut r).await,
        },
        Exec::Shard(_, split) => split_run(conn, id, spec, split, argv, &mut r).await,
        Exec::Conn(f) => f(conn, argv, &mut r),
        // The connection starts blocking commands itself (`Step::Block`).
        Exec::Block(_) => r.error(ErrorCode::Err, "ERR blocking command in a cross-shard path"),
    }
    r.errors
}

/// Runs command `id` with `args` on shard `target` and returns its encoded reply.
pub async fn exec_on(
    shard: &Rc<Shard>,
    target: usize,
    id: usize,
    args: Vec<Vec<u8>>,
    resp3: bool,
) -> Vec<u8> {
    shard
        .run_on(target, move |s| {
            let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
            let mut out = Vec::new();
            let spec = &commands::table()[id];
            let mut r = Reply::new(&mut out, resp3);
            s.exec_local(id, spec, &argv, synap_shard::time::now_ms(), &mut r);
            out
        })
        .await
        .unwrap_or_else(|| b"-ERR shard unavailable (shutting down)\r\n".to_vec())
}

/// Groups the key positions of `argv` by owning shard (each group in argument order), taking
/// `width` arguments per key (1 for keys, 2 for key/value pairs).
fn group(shard: &Shard, argv: &[&[u8]], first: usize, width: usize) -> Vec<(usize, Vec<usize>)> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut i = first;
    while i + width <= argv.len() {
        let s = shard.global.slots.shard_of_key(argv[i]);
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, v)) => v.push(i),
            None => groups.push((s, vec![i])),
        }
        i += width;
    }
    groups
}

fn sub_args(argv: &[&[u8]], name: &[u8], positions: &[usize], width: usize) -> Vec<Vec<u8>> {
    let mut v = Vec::with_capacity(1 + positions.len() * width);
    v.push(name.to_vec());
    for &p in positions {
        for a in &argv[p..p + width] {
            v.push(a.to_vec());
        }
    }
    v
}

async fn split_run(
    conn: &mut ConnState,
    id: usize,
    spec: &'static CommandSpec,
    split: Split,
    argv: &[&[u8]],
    r: &mut Reply<'_>,
) {
    let shard = conn.shard.clone();
    let resp3 = conn.resp3;
    match split {
        Split::SumKeys | Split::MergeKeys | Split::Pairs => {
            let width = if split == Split::Pairs { 2 } else { 1 };
            if split == Split::Pairs && argv.len().is_multiple_of(2) {
                r.error(ErrorCode::Err, &errors::arity(spec.name));
                return;
            }
            let groups = group(&shard, argv, 1, width);
            let futs = groups.iter().map(|(s, pos)| {
                exec_on(&shard, *s, id, sub_args(argv, argv[0], pos, width), resp3)
            });
            let replies = futures::future::join_all(futs).await;
            if let Some(err) = replies.iter().find(|b| b.first() == Some(&b'-')) {
                r.raw(err);
                r.errors = Some(ErrorCode::Err);
                return;
            }
            match split {
                Split::SumKeys => {
                    let total: i64 = replies.iter().filter_map(|b| read::int_of(b)).sum();
                    r.int(total);
                }
                Split::Pairs => r.ok(),
                _ => {
                    // MGET: put each shard's elements back at their keys' positions.
                    let n = argv.len() - 1;
                    let mut slots: Vec<Option<&[u8]>> = vec![None; n];
                    for ((_, pos), reply) in groups.iter().zip(&replies) {
                        let Some(elems) = read::array_elements(reply, 0) else {
                            continue;
                        };
                        for (p, range) in pos.iter().zip(elems) {
                            slots[p - 1] = Some(&reply[range]);
                        }
                    }
                    r.array(n);
                    for s in slots {
                        match s {
                            Some(enc) => r.raw(enc),
                            None => r.null(),
                        }
                    }
                }
            }
        }
        Split::PairsNx => {
            if argv.len().is_multiple_of(2) {
                r.error(ErrorCode::Err, &errors::arity(spec.name));
                return;
            }
            let Some((exists_id, _)) = commands::lookup(b"exists") else {
                return;
            };
            let Some((mset_id, _)) = commands::lookup(b"mset") else {
                return;
            };
            let groups = group(&shard, argv, 1, 2);
            let checks = groups.iter().map(|(s, pos)| {
                let mut a = vec![b"EXISTS".to_vec()];
                a.extend(pos.iter().map(|&p| argv[p].to_vec()));
                exec_on(&shard, *s, exists_id, a, resp3)
            });
            let found: i64 = futures::future::join_all(checks)
                .await
                .iter()
                .filter_map(|b| read::int_of(b))
                .sum();
            if found > 0 {
                r.int(0);
                return;
            }
            let sets = groups.iter().map(|(s, pos)| {
                exec_on(&shard, *s, mset_id, sub_args(argv, b"MSET", pos, 2), resp3)
            });
            futures::future::join_all(sets).await;
            r.int(1);
        }
        Split::Move => commands::keys::move_across(conn, spec, argv, r).await,
        Split::Gather if spec.group == "list" => commands::lists::across(conn, spec, argv, r).await,
        Split::Gather if spec.group == "sorted_set" => {
            commands::zsets::across(conn, spec, argv, r).await
        }
        Split::Gather => commands::sets::across(conn, spec, argv, r).await,
        Split::None => {
            r.error(
                ErrorCode::Err,
                "ERR this command's keys must live on one shard (use a hash tag)",
            );
        }
    }
}
