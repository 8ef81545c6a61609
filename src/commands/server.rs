//! Server commands: COMMAND, CONFIG, INFO, DBSIZE, FLUSHDB, FLUSHALL, TIME, CLUSTER, LASTSAVE.

use super::flags::*;
use super::{spec, table, CommandSpec, Exec, Global};
use crate::connection::ConnState;
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use std::sync::atomic::Ordering;
use synap_shard::glob;

const G: &str = "server";

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    let none = (0, 0, 0);
    let slow_admin: &[&str] = &["admin", "slow", "dangerous"];
    t.push(spec("command", -1, LOADING | STALE, none, &["slow", "connection"], G, "Returns detailed information about all commands.", Exec::Conn(command)));
    t.push(spec("config", -2, ADMIN | NOSCRIPT | LOADING | STALE, none, slow_admin, G, "A container for server configuration commands.", Exec::Global(Global::Config)));
    t.push(spec("info", -1, LOADING | STALE, none, &["slow", "dangerous"], G, "Returns information and statistics about the server.", Exec::Global(Global::Info)));
    t.push(spec("dbsize", 1, READONLY | FAST, none, &["keyspace", "read", "fast"], G, "Returns the number of keys in the database.", Exec::Global(Global::DbSize)));
    t.push(spec("flushdb", -1, WRITE, none, &["keyspace", "write", "slow", "dangerous"], G, "Remove all keys from the current database.", Exec::Global(Global::Flush)));
    t.push(spec("flushall", -1, WRITE, none, &["keyspace", "write", "slow", "dangerous"], G, "Removes all keys from all databases.", Exec::Global(Global::Flush)));
    t.push(spec("time", 1, LOADING | STALE | FAST, none, &["fast"], G, "Returns the server time.", Exec::Conn(time)));
    t.push(spec("lastsave", 1, LOADING | STALE | FAST, none, &["admin", "fast", "dangerous"], G, "Returns the Unix timestamp of the last successful save to disk.", Exec::Conn(lastsave)));
    t.push(spec("save", 1, ADMIN | NOSCRIPT, none, slow_admin, G, "Synchronously saves the database(s) to disk.", Exec::Global(Global::Save)));
    t.push(spec("bgsave", -1, ADMIN | NOSCRIPT, none, slow_admin, G, "Asynchronously saves the database(s) to disk.", Exec::Global(Global::Save)));
    t.push(spec("bgrewriteaof", 1, ADMIN | NOSCRIPT, none, slow_admin, G, "Asynchronously rewrites the append-only file to disk.", Exec::Global(Global::Save)));
    t.push(spec("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE, none, slow_admin, G, "Synchronously saves the database(s) to disk and shuts down the Redis server.", Exec::Conn(shutdown)));
    t.push(spec("role", 1, NOSCRIPT | LOADING | STALE | FAST, none, &["admin", "fast", "dangerous"], "replication", "Returns the replication role.", Exec::Global(Global::Role)));
    t.push(spec("replicaof", 3, ADMIN | NOSCRIPT | STALE, none, slow_admin, "replication", "Configures a server as replica of another, or promotes it to a master.", Exec::Conn(replicaof)));
    t.push(spec("slaveof", 3, ADMIN | NOSCRIPT | STALE, none, slow_admin, "replication", "Sets a Redis server as a replica of another, or promotes it to being a master.", Exec::Conn(replicaof)));
    t.push(spec("cluster", -2, STALE, none, &["slow"], "cluster", "A container for Redis Cluster commands.", Exec::Conn(cluster)));
}

/// REPLICAOF host port | NO ONE (`port` is the master's `replication.listen_port`).
fn replicaof(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let g = c.shard.global.clone();
    let repl = &g.repl;
    if argv[1].eq_ignore_ascii_case(b"no") && argv[2].eq_ignore_ascii_case(b"one") {
        if repl.is_replica() {
            repl.generation.fetch_add(1, Ordering::SeqCst);
            repl.replica.store(false, Ordering::SeqCst);
            *crate::repl::lock(&repl.master) = None;
            let m = std::mem::take(&mut *crate::repl::lock(&repl.links)).len();
            let old = std::mem::take(&mut *crate::repl::lock(&repl.master_replid));
            *crate::repl::lock(&repl.replid) = crate::repl::new_id();
            *crate::repl::lock(&repl.replid2) = None;
            glommio::spawn_local(crate::repl::promoted(c.shard.clone(), old, m)).detach();
            tracing::info!("REPLICAOF NO ONE: promoted to master");
        }
        return r.ok();
    }
    let Some(port) = std::str::from_utf8(argv[2])
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|&p| p != 0)
    else {
        return r.error(ErrorCode::Err, "ERR Invalid master port");
    };
    let host = String::from_utf8_lossy(argv[1]).into_owned();
    if repl.is_replica() && *crate::repl::lock(&repl.master) == Some((host.clone(), port)) {
        return r.simple("OK Already connected to specified master");
    }
    let gen = repl.generation.fetch_add(1, Ordering::SeqCst) + 1;
    *crate::repl::lock(&repl.master) = Some((host, port));
    crate::repl::lock(&repl.links).clear();
    *crate::repl::lock(&repl.master_replid) = String::new();
    repl.replica.store(true, Ordering::SeqCst);
    glommio::spawn_local(crate::repl::replica::follow(c.shard.clone(), gen)).detach();
    r.ok()
}

fn time(_c: &mut ConnState, _argv: &[&[u8]], r: &mut Reply<'_>) {
    let us = synap_shard::time::now_us();
    r.array(2);
    r.bulk((us / 1_000_000).to_string().as_bytes());
    r.bulk((us % 1_000_000).to_string().as_bytes());
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: the same graceful stop as SIGTERM (listeners
/// close, connections finish their batch, the AOF is synced). As in Redis the client gets no
/// reply: its connection closes. NOW and FORCE are accepted (there is nothing to wait for or
/// to override: the stop never waits for replicas and a failed final save is logged).
fn shutdown(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for a in &argv[1..] {
        match a.to_ascii_uppercase().as_slice() {
            b"SAVE" => save = true,
            b"NOSAVE" => nosave = true,
            b"NOW" | b"FORCE" => {}
            b"ABORT" => abort = true,
            _ => return r.error(ErrorCode::Err, errors::SYNTAX),
        }
    }
    if (save && nosave) || (abort && (save || nosave || argv.len() > 2)) {
        return r.error(ErrorCode::Err, errors::SYNTAX);
    }
    if abort {
        return r.error(ErrorCode::Err, "ERR No shutdown in progress.");
    }
    let g = &c.shard.global;
    let mode = if save {
        crate::shard::SHUTDOWN_SAVE
    } else if nosave {
        crate::shard::SHUTDOWN_NOSAVE
    } else {
        0
    };
    g.shutdown_save
        .store(mode, std::sync::atomic::Ordering::SeqCst);
    tracing::info!("SHUTDOWN: no longer accepting connections");
    crate::runtime::sd_notify("STOPPING=1");
    g.shutting_down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    c.quit = true;
}

fn lastsave(c: &mut ConnState, _argv: &[&[u8]], r: &mut Reply<'_>) {
    // Before any snapshot, Redis reports its start time.
    let g = &c.shard.global;
    let last = g.last_save_unix.load(std::sync::atomic::Ordering::Relaxed);
    r.int(last.max(g.started_unix) as i64);
}

/// SAVE, BGSAVE [SCHEDULE], BGREWRITEAOF: every shard writes its own snapshot (and, with the
/// AOF on, starts a new segment), without fork and between requests. SAVE waits for all.
pub(crate) async fn save(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let name = argv[0].to_ascii_lowercase();
    if name == b"bgsave" && argv.len() == 2 && !argv[1].eq_ignore_ascii_case(b"SCHEDULE") {
        return r.error(ErrorCode::Err, errors::SYNTAX);
    }
    if name == b"bgsave" && argv.len() > 2 {
        return r.error(ErrorCode::Err, errors::SYNTAX);
    }
    let busy = c
        .shard
        .run_on_all(|s| s.saving.get())
        .await
        .into_iter()
        .any(|b| b == Some(true));
    if busy {
        return r.error(ErrorCode::Err, "ERR Background save already in progress");
    }
    let results = c
        .shard
        .run_on_all(|s| {
            let (tx, rx) = futures::channel::oneshot::channel();
            let s = s.clone();
            glommio::spawn_local(async move {
                if s.persist_dir.borrow().is_none() {
                    let g = &s.global;
                    let dir = crate::persist::layout::layout_dir(
                        &g.config.persistence.data_dir,
                        g.nshards,
                    );
                    match crate::persist::prepare(&g.config.persistence.data_dir, g.nshards, true) {
                        Ok(_) => *s.persist_dir.borrow_mut() = Some(dir),
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                let _ = tx.send(crate::persist::snapshot::save(&s).await.map(|_| ()));
            })
            .detach();
            rx
        })
        .await;
    if name != b"save" {
        let msg = if name == b"bgrewriteaof" {
            "Background append only file rewriting started"
        } else {
            "Background saving started"
        };
        return r.simple(msg);
    }
    for rx in results.into_iter().flatten() {
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!("SAVE failed: {e}");
                return r.error(ErrorCode::Err, &format!("ERR {e}"));
            }
            Err(_) => return r.error(ErrorCode::Err, "ERR shard stopped during SAVE"),
        }
    }
    r.ok();
}

fn cluster(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    match (argv[1].to_ascii_uppercase().as_slice(), argv.len()) {
        (b"KEYSLOT", 3) => r.int(synap_shard::key_hash_slot(argv[2]) as i64),
        (b"KEYSLOT", _) => r.error(ErrorCode::Err, &errors::arity("cluster|keyslot")),
        (b"MYSHARDID", 2) | (b"MYID", 2) => r.bulk(c.shard.global.run_id.as_bytes()),
        _ => r.error(
            ErrorCode::Err,
            "ERR This instance has cluster support disabled",
        ),
    }
}

fn write_command_info(s: &CommandSpec, r: &mut Reply<'_>) {
    r.array(10);
    r.bulk(s.name.as_bytes());
    r.int(s.arity as i64);
    let fl: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(f, _)| s.has(*f))
        .map(|(_, n)| *n)
        .collect();
    r.set(fl.len());
    for f in fl {
        r.simple(f);
    }
    r.int(s.first_key as i64);
    r.int(s.last_key as i64);
    r.int(s.step as i64);
    r.set(s.acl.len());
    for a in s.acl {
        r.simple(&format!("@{a}"));
    }
    r.set(0); // tips
    r.array(0); // key specs
    r.array(0); // subcommands
}

use super::flags;

fn write_command_docs(s: &CommandSpec, r: &mut Reply<'_>) {
    r.bulk(s.name.as_bytes());
    r.map(3);
    r.bulk(b"summary");
    r.bulk(s.summary.as_bytes());
    r.bulk(b"since");
    r.bulk(b"1.0.0");
    r.bulk(b"group");
    r.bulk(s.group.as_bytes());
}

fn command(_c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let t = table();
    if argv.len() == 1 {
        r.array(t.len());
        for s in t {
            write_command_info(s, r);
        }
        return;
    }
    let names = &argv[2..];
    match argv[1].to_ascii_uppercase().as_slice() {
        b"COUNT" if argv.len() == 2 => r.int(t.len() as i64),
        b"INFO" => {
            if names.is_empty() {
                r.array(t.len());
                for s in t {
                    write_command_info(s, r);
                }
            } else {
                r.array(names.len());
                for n in names {
                    match super::lookup(n) {
                        Some((_, s)) => write_command_info(s, r),
                        None => r.null_array(),
                    }
                }
            }
        }
        b"DOCS" => {
            let found: Vec<&CommandSpec> = if names.is_empty() {
                t.iter().collect()
            } else {
                names
                    .iter()
                    .filter_map(|n| super::lookup(n).map(|(_, s)| s))
                    .collect()
            };
            r.map(found.len());
            for s in found {
                write_command_docs(s, r);
            }
        }
        b"LIST" => {
            let mut pattern: Option<&[u8]> = None;
            if argv.len() == 5
                && argv[2].eq_ignore_ascii_case(b"FILTERBY")
                && argv[3].eq_ignore_ascii_case(b"PATTERN")
            {
                pattern = Some(argv[4]);
            } else if argv.len() != 2 {
                return r.error(ErrorCode::Err, errors::SYNTAX);
            }
            let v: Vec<&str> = t
                .iter()
                .map(|s| s.name)
                .filter(|n| pattern.is_none_or(|p| glob::matches(p, n.as_bytes())))
                .collect();
            r.array(v.len());
            for n in v {
                r.bulk(n.as_bytes());
            }
        }
        b"GETKEYS" if argv.len() >= 3 => {
            let cmd: Vec<&[u8]> = argv[2..].to_vec();
            let Some((_, s)) = super::lookup(cmd[0]) else {
                return r.error(ErrorCode::Err, "ERR Invalid command specified");
            };
            if !s.arity_ok(cmd.len()) {
                return r.error(
                    ErrorCode::Err,
                    "ERR Invalid number of arguments specified for command",
                );
            }
            let keys: Vec<usize> = s.keys_in(&cmd).collect();
            if keys.is_empty() {
                return r.error(ErrorCode::Err, "ERR The command has no key arguments");
            }
            r.array(keys.len());
            for k in keys {
                r.bulk(cmd[k]);
            }
        }
        _ => r.error(
            ErrorCode::Err,
            &errors::unknown_subcommand("command", argv[1]),
        ),
    }
}

/// DBSIZE: keys on every shard.
pub(crate) async fn dbsize(c: &mut ConnState, _argv: &[&[u8]], r: &mut Reply<'_>) {
    let n: usize = c
        .shard
        .run_on_all(|s| s.ks.borrow().len())
        .await
        .into_iter()
        .flatten()
        .sum();
    r.int(n as i64);
}

/// FLUSHDB / FLUSHALL [ASYNC|SYNC]
pub(crate) async fn flush(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    if argv.len() > 2 {
        return r.error(ErrorCode::Err, errors::SYNTAX);
    }
    if argv.len() == 2
        && !argv[1].eq_ignore_ascii_case(b"ASYNC")
        && !argv[1].eq_ignore_ascii_case(b"SYNC")
    {
        return r.error(ErrorCode::Err, errors::SYNTAX);
    }
    // Large keyspaces are freed in slices by the shard's lazy-free task, so a flush never
    // stalls a shard; small ones are dropped at once.
    c.shard
        .run_on_all(|s| {
            let old = s.ks.borrow_mut().take_all();
            s.journal_command(&[b"FLUSHALL"]);
            if old.len() > 10_000 {
                s.lazy
                    .borrow_mut()
                    .push(synap_shard::lazyfree::Garbage::Keyspace(Box::new(old)));
            }
        })
        .await;
    r.ok();
}

/// INFO [section ...]
pub(crate) async fn info(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let sections: Vec<String> = argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let snaps = crate::info::snapshot_all(&c.shard).await;
    let text = crate::info::render(&c.shard.global, &snaps, &sections);
    r.verbatim(text.as_bytes());
}

/// ROLE, as Redis answers it: `master`, the replication offset (summed over the shards' streams,
/// as INFO's `master_repl_offset`) and each replica's address and acknowledged offset; or
/// `slave`, the master's host and port, the link state and the offset applied.
pub(crate) async fn role(c: &mut ConnState, _argv: &[&[u8]], r: &mut Reply<'_>) {
    let g = &c.shard.global;
    let snaps = crate::info::snapshot_all(&c.shard).await;
    let offsets: Vec<u64> = snaps.iter().map(|s| s.persist.repl_offset).collect();
    match crate::repl::role(g, &offsets) {
        crate::repl::Role::Master { offset, replicas } => {
            r.array(3);
            r.bulk(b"master");
            r.int(offset as i64);
            r.array(replicas.len());
            for (ip, port, ack) in replicas {
                r.array(3);
                r.bulk(ip.as_bytes());
                r.bulk(port.to_string().as_bytes());
                r.bulk(ack.to_string().as_bytes());
            }
        }
        crate::repl::Role::Replica {
            host,
            port,
            up,
            offset,
        } => {
            r.array(5);
            r.bulk(b"slave");
            r.bulk(host.as_bytes());
            r.int(port as i64);
            r.bulk(if up {
                &b"connected"[..]
            } else {
                &b"connect"[..]
            });
            r.int(offset as i64);
        }
    }
}

/// CONFIG GET / SET / RESETSTAT / REWRITE / HELP
pub(crate) async fn config(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let sub = argv[1].to_ascii_uppercase();
    match sub.as_slice() {
        b"GET" if argv.len() >= 3 => {
            let all = crate::settings::config_get_all(&c.shard.global);
            let mut found: Vec<&(String, String)> = Vec::new();
            for p in &argv[2..] {
                let p = p.to_ascii_lowercase();
                for kv in &all {
                    if glob::matches(&p, kv.0.as_bytes()) && !found.iter().any(|f| f.0 == kv.0) {
                        found.push(kv);
                    }
                }
            }
            r.map(found.len());
            for (k, v) in found {
                r.bulk(k.as_bytes());
                r.bulk(v.as_bytes());
            }
        }
        b"SET" if argv.len() >= 4 && argv.len().is_multiple_of(2) => {
            let pairs: Vec<(String, String)> = argv[2..]
                .chunks_exact(2)
                .map(|p| {
                    (
                        String::from_utf8_lossy(p[0]).to_ascii_lowercase(),
                        String::from_utf8_lossy(p[1]).into_owned(),
                    )
                })
                .collect();
            match crate::settings::config_set(&c.shard.global, &pairs) {
                Ok(()) => {
                    let live = c.shard.global.live();
                    c.shard
                        .run_on_all(move |s| {
                            let n = s.global.nshards as u64;
                            s.maxmemory.set(if live.maxmemory == 0 {
                                0
                            } else {
                                (live.maxmemory / n).max(1)
                            });
                            s.max_bulk_len.set(live.proto_max_bulk_len);
                            s.hash_limits.set(synap_shard::hash::HashLimits {
                                max_entries: live.hash_max_listpack_entries,
                                max_value: live.hash_max_listpack_value,
                            });
                            s.set_limits.set(live.set_limits);
                            s.zset_limits.set(live.zset_limits);
                            s.list_limits.set(synap_shard::list::ListLimits::from_fill(
                                live.list_max_listpack_size,
                            ));
                        })
                        .await;
                    r.ok();
                }
                Err(msg) => r.error(ErrorCode::Err, &msg),
            }
        }
        b"SET" => r.error(ErrorCode::Err, &errors::arity("config|set")),
        b"GET" => r.error(ErrorCode::Err, &errors::arity("config|get")),
        b"RESETSTAT" if argv.len() == 2 => {
            c.shard
                .run_on_all(|s| {
                    let mut st = s.stats.borrow_mut();
                    let n = st.commands.len();
                    *st = crate::shard::ShardStats::new(n);
                    s.ks.borrow_mut().stats = Default::default();
                })
                .await;
            r.ok();
        }
        b"REWRITE" if argv.len() == 2 => r.error(
            ErrorCode::Err,
            "ERR CONFIG REWRITE is not supported: edit the YAML configuration file",
        ),
        b"HELP" => {
            let lines = [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
            ];
            r.array(lines.len());
            for l in lines {
                r.simple(l);
            }
        }
        _ => r.error(
            ErrorCode::Err,
            &errors::unknown_subcommand("config", argv[1]),
        ),
    }
    let _ = Ordering::Relaxed;
}
