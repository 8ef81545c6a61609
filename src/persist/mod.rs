//! Durability: each shard keeps its own append-only file and snapshots on its own core, with
//! io_uring file I/O, and loads them in parallel with the other shards at start-up.
//!
//! - [`journal`]: the records of a shard's changes, waiting for the writer; group commit.
//! - [`aof`]: the writer (fsync policies) and AOF segments; classifying a bad tail.
//! - [`snapshot`]: fork-less snapshots (SAVE, BGSAVE, `save` rules, AOF rewrite).
//! - [`load`]: recovery (snapshot, then AOF replay with expiry suspended).
//! - [`layout`]: file names, headers, manifests, the `CURRENT` layout.
//!
//! Start-up of one shard ([`start`]): load its files (or, when the shard count changed, the
//! old shards' files assigned to it, then hand every entry to its owner by slot and write a
//! new layout), then open the AOF for appending. Shards wait for each other at three points
//! (loaded, migrated, written) with atomics, never blocking their threads.

pub mod aof;
pub mod journal;
pub mod layout;
pub mod load;
pub mod snapshot;

use crate::config::Fsync;
use crate::shard::Shard;
use layout::Manifest;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Loading progress and the start-up meeting points, shared by all shards.
#[derive(Debug, Default)]
pub struct LoadProgress {
    /// Set while any shard is loading: data commands get `-LOADING`.
    pub loading: AtomicBool,
    /// Bytes of files to load.
    pub total: AtomicU64,
    /// Bytes loaded.
    pub done: AtomicU64,
    /// Unix seconds loading started.
    pub started: AtomicU64,
    /// Milliseconds loading took (set when done).
    pub took_ms: AtomicU64,
    /// Shards past each meeting point: loaded, migrated, written.
    pub met: [AtomicUsize; 3],
}

/// Prepares the data directory before the shards start (main thread): creates the layout
/// directory for `shards` when persistence is in use, or clears a stale one a previous
/// interrupted re-sharding left. Returns the shard count of the layout to load, if any.
pub fn prepare(data_dir: &Path, shards: usize, in_use: bool) -> Result<Option<usize>, String> {
    let current = layout::current_layout(data_dir)?;
    let target = layout::layout_dir(data_dir, shards);
    let err = |e: std::io::Error| format!("{}: {e}", target.display());
    match current {
        Some(n) if n == shards => std::fs::create_dir_all(&target).map_err(err)?,
        Some(_) => {
            if target.exists() {
                std::fs::remove_dir_all(&target).map_err(err)?;
            }
            std::fs::create_dir_all(&target).map_err(err)?;
        }
        None if in_use => {
            std::fs::create_dir_all(&target).map_err(err)?;
            layout::sync_dir(data_dir)?;
            layout::set_current_layout(data_dir, shards)?;
        }
        None => {}
    }
    Ok(current)
}

async fn meet(shard: &Shard, point: usize) -> Result<(), String> {
    let g = &shard.global;
    g.load.met[point].fetch_add(1, Ordering::SeqCst);
    while g.load.met[point].load(Ordering::SeqCst) < g.nshards {
        if g.shutting_down.load(Ordering::Relaxed) {
            return Err("stopped during start-up".into());
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Loads this shard's data and starts its AOF writer and `save` rules. `old` is the shard
/// count of the layout on disk ([`prepare`]).
pub async fn start(shard: &Rc<Shard>, old: Option<usize>) -> Result<(), String> {
    let g = shard.global.clone();
    let cfg = &g.config.persistence;
    let data_dir = cfg.data_dir.clone();
    let n = g.nshards;
    let id = shard.id;
    let dir = layout::layout_dir(&data_dir, n);
    let in_use = cfg.enabled || !cfg.save.is_empty() || old.is_some();
    let mut append_at = None;
    match old {
        Some(m) if m == n => {
            let l = load::load(shard, &dir, id, cfg.aof_load_truncated).await?;
            log_loaded(shard, &dir, &l);
            append_at = l.append_at;
            meet(shard, 0).await?;
            meet(shard, 1).await?;
        }
        Some(m) => {
            let old_dir = layout::layout_dir(&data_dir, m);
            for j in (0..m).filter(|j| j % n == id) {
                let l = load::load(shard, &old_dir, j, cfg.aof_load_truncated).await?;
                log_loaded(shard, &old_dir, &l);
            }
            // A replica's stream positions do not survive re-sharding (each old shard had
            // its own): it takes a full sync.
            *shard.repl_pos.borrow_mut() = Default::default();
            meet(shard, 0).await?;
            migrate(shard).await;
            meet(shard, 1).await?;
        }
        None => {
            meet(shard, 0).await?;
            meet(shard, 1).await?;
        }
    }
    {
        let now = synap_shard::time::now_ms();
        let mut ks = shard.ks.borrow_mut();
        // One pass over every entry removes the keys that expired while down or during replay
        // (not on a replica: its master's DELs remove them, in stream order).
        if !g.repl.is_replica() {
            let len = ks.len();
            ks.active_expire_step(now, len);
        }
        shard.changes_at_save.set(ks.changes());
    }
    if in_use {
        *shard.persist_dir.borrow_mut() = Some(dir.clone());
    }
    if matches!(old, Some(m) if m != n) {
        // A new layout: this shard's data as a snapshot in it; then `CURRENT` switches.
        snapshot::save(shard).await?;
    }
    if cfg.enabled {
        let seg = match append_at {
            Some((path, end)) => aof::Segment::open_at(&path, end).await?,
            None => {
                let mut man = Manifest::read(&dir, id)?;
                let name = layout::aof_name(id, man.generation() + 1);
                let seg = aof::Segment::create(&dir.join(&name), id, n).await?;
                man.aofs.push(name);
                man.write(&dir, id)?;
                seg
            }
        };
        shard.aof_size.set(seg.size);
        let (tx, rx) = glommio::channels::local_channel::new_bounded(1);
        {
            let mut j = shard.journal.borrow_mut();
            j.enabled = true;
            j.always = cfg.appendfsync == Fsync::Always;
            j.kick = Some(tx);
        }
        glommio::spawn_local(aof::writer(shard.clone(), seg, rx, cfg.appendfsync)).detach();
    } else {
        shard.writer_done.set(true);
    }
    meet(shard, 2).await?;
    if let Some(m) = old.filter(|&m| m != n) {
        if id == 0 {
            layout::set_current_layout(&data_dir, n)?;
            let old_dir = layout::layout_dir(&data_dir, m);
            if let Err(e) = std::fs::remove_dir_all(&old_dir) {
                tracing::warn!("could not remove the old layout {}: {e}", old_dir.display());
            }
            tracing::info!("re-sharded the data directory from {m} to {n} shards");
        }
    }
    if !cfg.save.is_empty() || (cfg.enabled && cfg.aof_rewrite_percentage > 0) {
        glommio::spawn_local(save_rules(shard.clone())).detach();
    }
    Ok(())
}

fn log_loaded(shard: &Shard, dir: &Path, l: &load::Loaded) {
    if l.snapshot_entries > 0 || l.records > 0 {
        tracing::info!(
            shard = shard.id,
            snapshot_entries = l.snapshot_entries,
            aof_records = l.records,
            "loaded {}",
            dir.display()
        );
    }
}

/// Hands every entry this shard does not own to its owner (after re-sharding).
async fn migrate(shard: &Rc<Shard>) {
    let slots = &shard.global.slots;
    let id = shard.id;
    let moving = shard
        .ks
        .borrow_mut()
        .extract(|k| slots.shard_of_key(k) != id);
    let mut by_owner: Vec<Vec<(Vec<u8>, synap_shard::Entry)>> =
        (0..shard.global.nshards).map(|_| Vec::new()).collect();
    for (k, e) in moving {
        by_owner[slots.shard_of_key(&k)].push((k.to_vec(), e));
    }
    for (target, entries) in by_owner.into_iter().enumerate() {
        let mut it = entries.into_iter().peekable();
        while it.peek().is_some() {
            let batch: Vec<_> = it.by_ref().take(1000).collect();
            shard
                .run_on(target, move |s| {
                    let mut ks = s.ks.borrow_mut();
                    for (k, e) in batch {
                        let at = e.expire_at();
                        ks.insert(&k, e.value, at, 0);
                    }
                })
                .await;
        }
    }
}

/// Takes a snapshot when a `save` rule says so (Redis's `save SECONDS CHANGES`), or rewrites
/// the AOF when its segment has grown `aof_rewrite_percentage` over its size after the last
/// rewrite and is past `aof_rewrite_min_size` (Redis's `auto-aof-rewrite-*`).
async fn save_rules(shard: Rc<Shard>) {
    let cfg = &shard.global.config.persistence;
    let rules = cfg.save.clone();
    let (pct, min) = (cfg.aof_rewrite_percentage, cfg.aof_rewrite_min_size.bytes());
    let mut last = std::time::Instant::now();
    let mut base = shard.aof_size.get();
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        if shard.global.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let changes = shard.ks.borrow().changes() - shard.changes_at_save.get();
        let since = last.elapsed().as_secs();
        let size = shard.aof_size.get();
        let grown = shard.journal.borrow().enabled
            && pct > 0
            && size >= min
            && size.saturating_sub(base) * 100 >= base.max(1) * pct;
        let rule = rules
            .iter()
            .any(|r| since >= r.seconds && changes >= r.changes);
        if !grown && !rule {
            continue;
        }
        if grown {
            tracing::info!(
                shard = shard.id,
                size,
                base,
                "AOF grew {pct}% since the last rewrite: rewriting"
            );
        }
        match snapshot::save(&shard).await {
            Ok(_) => {
                last = std::time::Instant::now();
                // The base of the next growth check: the snapshot's size, as Redis takes the
                // rewritten file's size.
                base = shard.stats.borrow().last_save_bytes.max(1);
            }
            Err(e) => tracing::warn!(shard = shard.id, "scheduled snapshot failed: {e}"),
        }
    }
}

/// At shutdown: waits for the AOF writer to write and sync everything, and takes a final
/// snapshot when `save` rules are set and the AOF is off (as Redis does), or when SHUTDOWN SAVE
/// asked for one (SHUTDOWN NOSAVE skips it).
pub async fn stop(shard: &Rc<Shard>) {
    let cfg = &shard.global.config.persistence;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !shard.writer_done.get() && std::time::Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(2)).await;
    }
    let save = match shard
        .global
        .shutdown_save
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        crate::shard::SHUTDOWN_SAVE => true,
        crate::shard::SHUTDOWN_NOSAVE => false,
        _ => !cfg.enabled && !cfg.save.is_empty(),
    };
    if save && shard.persist_dir.borrow().is_some() {
        if let Err(e) = snapshot::save(shard).await {
            tracing::error!(shard = shard.id, "final snapshot failed: {e}");
        }
    }
    shard.journal.borrow_mut().release_all();
}
