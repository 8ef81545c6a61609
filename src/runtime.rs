//! Start-up and shutdown: file-descriptor limits, listening sockets, one glommio executor per
//! shard pinned to the CPUs of the process's affinity mask, the channel mesh between shards,
//! systemd notification, and signal handling.
//!
//! Start-up is two-phase so that a shard that cannot start (e.g. `RLIMIT_MEMLOCK` too low for
//! io_uring) stops the whole server with a clear error instead of leaving the others waiting:
//! every shard thread first builds its executor and reports; only when all succeeded are they
//! told to go.

use crate::config::Config;
use crate::shard::{Global, Live, Msg, Shard};
use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::time::{Duration, Instant};
use synap_shard::SlotMap;

/// File descriptors kept for the server's own use besides clients (listeners, io_uring rings,
/// eventfds, future AOF files), as Redis's CONFIG_MIN_RESERVED_FDS.
const RESERVED_FDS: u64 = 32;
const RESERVED_FDS_PER_SHARD: u64 = 16;

/// The largest `maxclients` the current file limit allows (set at start-up).
static MAX_CLIENTS_ALLOWED: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The largest `maxclients` the process's file limit allows.
pub fn max_clients_allowed() -> usize {
    MAX_CLIENTS_ALLOWED.load(Ordering::Relaxed)
}

/// CPUs in the process's affinity mask.
pub fn affinity_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity fills the set we pass.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return (0..std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1))
                .collect();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// Raises the soft RLIMIT_NOFILE toward what `maxclients` needs; returns the `maxclients` the
/// limit allows (reduced, with a warning like Redis's, when the hard limit is too low).
fn raise_nofile(maxclients: u64, shards: usize) -> u64 {
    let need = maxclients + RESERVED_FDS + RESERVED_FDS_PER_SHARD * shards as u64;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return maxclients;
        }
        if lim.rlim_cur >= need {
            return maxclients;
        }
        let target = need.min(lim.rlim_max);
        let new = libc::rlimit {
            rlim_cur: target,
            rlim_max: lim.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &new) == 0 {
            lim.rlim_cur = target;
        }
    }
    if lim.rlim_cur >= need {
        tracing::info!(
            limit = lim.rlim_cur,
            "raised the open files limit (RLIMIT_NOFILE)"
        );
        return maxclients;
    }
    let reserved = RESERVED_FDS + RESERVED_FDS_PER_SHARD * shards as u64;
    let allowed = lim.rlim_cur.saturating_sub(reserved).max(1);
    tracing::warn!(
        "You requested maxclients of {maxclients} requiring at least {need} max file descriptors. \
         The hard limit (ulimit -Hn) is {}, so the open files limit is {}. maxclients has been \
         reduced to {allowed} to compensate for low ulimit. If you need higher maxclients \
         increase 'ulimit -n' (or LimitNOFILE= in the systemd unit).",
        lim.rlim_max,
        lim.rlim_cur
    );
    allowed
}

/// Checks RLIMIT_MEMLOCK (glommio's io_uring needs ≥ 512 KiB), raising the soft limit if it can.
fn check_memlock() -> Result<(), String> {
    const MIN: u64 = 512 * 1024;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) != 0 {
            return Ok(());
        }
        if lim.rlim_cur >= MIN {
            return Ok(());
        }
        if lim.rlim_max >= MIN {
            let new = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_MEMLOCK, &new) == 0 {
                return Ok(());
            }
        }
    }
    Err(format!(
        "RLIMIT_MEMLOCK is {} bytes, but io_uring needs at least {MIN}: raise it with `ulimit -l 1024` \
         or LimitMEMLOCK= in the systemd unit",
        lim.rlim_cur
    ))
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve bind address {host}:{port}: {e}"))?
        .next()
        .ok_or_else(|| format!("bind address {host}:{port} resolves to nothing"))
}

/// Refuses a port that another process holds: binding without SO_REUSEPORT fails if anyone
/// (even a process using SO_REUSEPORT) is bound there.
fn ensure_port_free(addr: SocketAddr, what: &str) -> Result<(), String> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, None).map_err(|e| e.to_string())?;
    let _ = s.set_reuse_address(true);
    s.bind(&addr.into()).map_err(|e| {
        format!("cannot listen for {what} on {addr}: {e} (is another process using this port?)")
    })
}

/// A listening socket for one shard (SO_REUSEPORT: every shard listens on every port and the
/// kernel spreads connections over them).
fn listen_socket(addr: SocketAddr, backlog: i32, what: &str) -> Result<RawFd, String> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, None).map_err(|e| e.to_string())?;
    let err = |e: std::io::Error| format!("cannot listen for {what} on {addr}: {e}");
    s.set_reuse_address(true).map_err(err)?;
    s.set_reuse_port(true).map_err(err)?;
    s.bind(&addr.into()).map_err(err)?;
    s.listen(backlog).map_err(err)?;
    Ok(s.into_raw_fd())
}

/// Tells systemd we are ready (Type=notify), if it is listening.
pub(crate) fn sd_notify(state: &str) {
    let Ok(path) = std::env::var("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let res = if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = res {
        tracing::warn!("could not notify systemd at {path}: {e}");
    }
}

fn new_run_id() -> String {
    (0..40)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

/// What each shard thread gets.
struct ShardSeed {
    id: usize,
    cpu: usize,
    global: Arc<Global>,
    senders: Vec<Option<SharedSender<Msg>>>,
    receivers: Vec<Option<SharedReceiver<Msg>>>,
    resp_fd: RawFd,
    http_fd: RawFd,
    repl_fd: Option<RawFd>,
    on_disk: Option<usize>,
}

/// Runs the server until SIGTERM/SIGINT. Returns an error message for a failed start.
pub fn run(config: Config, config_file: String) -> Result<(), String> {
    let rc = &config.replication;
    let follow = if config.server.role == crate::config::Role::Replica {
        let Some(host) = rc.master_host.clone() else {
            return Err("server.role is replica but replication.master_host is not set".into());
        };
        Some((host, rc.master_port))
    } else {
        None
    };
    let mut serve_repl = rc.enabled;
    if config.kv_store.maxmemory_policy != crate::config::EvictionPolicy::Noeviction {
        return Err(format!(
            "kv_store.maxmemory_policy {} is not implemented yet: use noeviction (writes over maxmemory get -OOM)",
            config.kv_store.maxmemory_policy.as_str()
        ));
    }
    let cpus = affinity_cpus();
    let nshards = config.effective_shards(cpus.len()).max(1);
    check_memlock()?;
    let p = &config.persistence;
    let on_disk = crate::persist::prepare(&p.data_dir, nshards, p.enabled || !p.save.is_empty())
        .map_err(|e| format!("persistence.data_dir: {e}"))?;
    let mut maxclients = config.network.maxclients;
    let allowed = raise_nofile(maxclients, nshards);
    MAX_CLIENTS_ALLOWED.store(allowed as usize, Ordering::Relaxed);
    maxclients = maxclients.min(allowed);

    let tls = match config.server.tls.enabled {
        true => Some(crate::tls::TlsAcceptor::new(&config.server.tls)?),
        false => None,
    };
    let auth = crate::auth::Registry::open(crate::auth::keys_path(&config.persistence.data_dir))?;
    if !auth.is_empty()
        && !auth
            .list()
            .iter()
            .any(|k| k.role == crate::auth::Role::Admin)
    {
        tracing::warn!(
            file = %auth.path().display(),
            "no admin API key exists: nobody can create or revoke keys until one is added"
        );
    }

    let resp_addr = resolve(&config.server.host, config.server.port)?;
    let http_addr = resolve(&config.server.host, config.server.http_port)?;
    ensure_port_free(resp_addr, "RESP")?;
    ensure_port_free(http_addr, "HTTP")?;
    let repl_addr = resolve(&config.server.host, config.replication.listen_port)?;
    match ensure_port_free(repl_addr, "replication") {
        Err(e) if serve_repl && follow.is_none() => return Err(e),
        // Replicas listen too (they refuse streams until promoted, then serve them, PSYNC2),
        // unless the port is taken (their master on the same host, say).
        Err(e) if serve_repl => {
            tracing::warn!("{e}: this replica will not serve replicas once promoted");
            serve_repl = false;
        }
        _ => {}
    }
    let backlog = config.network.tcp_backlog as i32;
    let mut fds = Vec::new();
    let mut repl_fds = Vec::new();
    for _ in 0..nshards {
        fds.push((
            listen_socket(resp_addr, backlog, "RESP")?,
            listen_socket(http_addr, backlog, "HTTP")?,
        ));
        repl_fds.push(if serve_repl {
            Some(listen_socket(repl_addr, backlog, "replication")?)
        } else {
            None
        });
    }

    let live = Live {
        maxmemory: config.kv_store.maxmemory,
        maxclients: maxclients as usize,
        timeout: config.network.timeout,
        proto_max_bulk_len: config.network.proto_max_bulk_len.0 as usize,
        client_query_buffer_limit: config.network.client_query_buffer_limit.0 as usize,
        hz: config.kv_store.active_expire_hz,
        active_expire_effort: config.kv_store.active_expire_effort,
        hash_max_listpack_entries: config.kv_store.hash_max_listpack_entries,
        hash_max_listpack_value: config.kv_store.hash_max_listpack_value,
        set_limits: synap_shard::set::SetLimits {
            max_intset_entries: config.kv_store.set_max_intset_entries,
            max_listpack_entries: config.kv_store.set_max_listpack_entries,
            max_listpack_value: config.kv_store.set_max_listpack_value,
        },
        zset_limits: synap_shard::zset::ZsetLimits {
            max_listpack_entries: config.kv_store.zset_max_listpack_entries,
            max_listpack_value: config.kv_store.zset_max_listpack_value,
        },
        list_max_listpack_size: config.kv_store.list_max_listpack_size,
    };
    let run_id = new_run_id();
    let global = Arc::new(Global {
        repl: crate::repl::ReplState::new(run_id.clone(), follow),
        live: RwLock::new(live),
        slots: SlotMap::even(nshards),
        nshards,
        run_id,
        started: Instant::now(),
        started_unix: synap_shard::time::now_ms() / 1000,
        clients: AtomicUsize::new(0),
        next_client_id: std::sync::atomic::AtomicU64::new(1),
        next_block_seq: std::sync::atomic::AtomicU64::new(1),
        shutting_down: std::sync::atomic::AtomicBool::new(false),
        resp_port: resp_addr.port(),
        http_port: http_addr.port(),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        config_file,
        auth,
        tls,
        protected: config.network.protected_mode && !resp_addr.ip().is_loopback(),
        config,
        load: Default::default(),
        last_save_unix: AtomicU64::new(0),
        shutdown_save: std::sync::atomic::AtomicU8::new(0),
    });
    // Data commands get -LOADING until every shard has loaded its data and opened its AOF
    // (also on a fresh data directory: a write accepted before the AOF is open would not be
    // journaled).
    global.load.loading.store(true, Ordering::SeqCst);
    global
        .load
        .started
        .store(synap_shard::time::now_ms() / 1000, Ordering::Relaxed);

    // Signals, installed before any shard starts (a SIGTERM during loading stops cleanly too):
    // the first SIGTERM/SIGINT starts a graceful shutdown.
    let g = global.clone();
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("synap-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP {
                    reload(&g);
                    continue;
                }
                tracing::info!(
                    signal = sig,
                    "shutdown requested: no longer accepting connections"
                );
                sd_notify("STOPPING=1");
                g.shutting_down.store(true, Ordering::SeqCst);
                break;
            }
        })
        .map_err(|e| e.to_string())?;

    if global.protected && global.auth.is_empty() {
        tracing::warn!(
            "protected mode: bound to {} with no API key, so only clients on 127.0.0.1 / ::1 \
             are served; create a key with `synap-admin create-api-key --name admin --role admin`",
            resp_addr.ip()
        );
    }

    // The mesh: channel (i → j) for every ordered pair of distinct shards.
    let mut senders: Vec<Vec<Option<SharedSender<Msg>>>> = (0..nshards)
        .map(|_| (0..nshards).map(|_| None).collect())
        .collect();
    let mut receivers: Vec<Vec<Option<SharedReceiver<Msg>>>> = (0..nshards)
        .map(|_| (0..nshards).map(|_| None).collect())
        .collect();
    for i in 0..nshards {
        for j in 0..nshards {
            if i != j {
                let (tx, rx) = shared_channel::new_bounded(1024);
                senders[i][j] = Some(tx);
                receivers[j][i] = Some(rx);
            }
        }
    }

    let (status_tx, status_rx) = mpsc::channel::<Result<usize, String>>();
    let (running_tx, running_rx) = mpsc::channel::<usize>();
    let mut go_txs = Vec::new();
    let mut threads = Vec::new();
    for (id, (((snd, rcv), (resp_fd, http_fd)), repl_fd)) in senders
        .into_iter()
        .zip(receivers)
        .zip(fds)
        .zip(repl_fds)
        .enumerate()
    {
        let seed = ShardSeed {
            id,
            cpu: cpus.get(id % cpus.len().max(1)).copied().unwrap_or(0),
            global: global.clone(),
            senders: snd,
            receivers: rcv,
            resp_fd,
            http_fd,
            repl_fd,
            on_disk,
        };
        let (go_tx, go_rx) = mpsc::channel::<bool>();
        go_txs.push(go_tx);
        let status_tx = status_tx.clone();
        let running_tx = running_tx.clone();
        let t = std::thread::Builder::new()
            .name(format!("synap-shard-{id}"))
            .spawn(move || shard_thread(seed, status_tx, go_rx, running_tx))
            .map_err(|e| format!("cannot start shard thread {id}: {e}"))?;
        threads.push(t);
    }
    drop(status_tx);
    drop(running_tx);

    // Phase 1: every executor built?
    let mut failures = Vec::new();
    for _ in 0..nshards {
        match status_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("a shard thread exited during start-up".to_string()),
        }
    }
    let ok = failures.is_empty();
    for tx in &go_txs {
        let _ = tx.send(ok);
    }
    if !ok {
        for t in threads {
            let _ = t.join();
        }
        return Err(failures.join("; "));
    }
    // Each shard reports once it has loaded its data (listeners are already up, answering
    // INFO and health checks with the loading progress meanwhile).
    let load_started = Instant::now();
    let mut up = 0;
    while up < nshards {
        match running_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(_) => up += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if global.shutting_down.load(Ordering::SeqCst) {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if up < nshards {
        global.shutting_down.store(true, Ordering::SeqCst);
        let mut errors = Vec::new();
        for (i, t) in threads.into_iter().enumerate() {
            match t.join() {
                Ok(Err(e)) => errors.push(format!("shard {i}: {e}")),
                Err(_) => errors.push(format!("shard {i} panicked")),
                Ok(Ok(())) => {}
            }
        }
        if errors.is_empty() {
            errors.push("start-up interrupted".into());
        }
        return Err(errors.join("; "));
    }
    let ms = load_started.elapsed().as_millis() as u64;
    global.load.took_ms.store(ms, Ordering::Relaxed);
    global.load.loading.store(false, Ordering::SeqCst);
    if on_disk.is_some() {
        tracing::info!(
            ms,
            bytes = global.load.total.load(Ordering::Relaxed),
            "dataset loaded from {}",
            global.config.persistence.data_dir.display()
        );
    }
    tracing::info!(
        resp = %resp_addr, http = %http_addr, shards = nshards, cpus = ?cpus, maxclients,
        tls = global.tls.is_some(), api_keys = global.auth.len(),
        "Synap {} ready to accept connections", env!("CARGO_PKG_VERSION")
    );
    sd_notify("READY=1");

    let mut errors = Vec::new();
    for (i, t) in threads.into_iter().enumerate() {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("shard {i}: {e}")),
            Err(_) => errors.push(format!("shard {i} panicked")),
        }
    }
    handle.close();
    if errors.is_empty() {
        tracing::info!("Synap stopped");
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// SIGHUP: re-read the TLS certificate, key and CA, and the API key file. A file that fails
/// to load leaves what is in force unchanged (and says why).
fn reload(g: &Global) {
    if let Some(tls) = &g.tls {
        match tls.reload() {
            Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
            Err(e) => {
                tracing::error!("SIGHUP: TLS certificate not reloaded, keeping the old one: {e}")
            }
        }
    }
    match g.auth.reload() {
        Ok(n) => tracing::info!(api_keys = n, "SIGHUP: API keys reloaded"),
        Err(e) => tracing::error!("SIGHUP: API keys not reloaded, keeping those in force: {e}"),
    }
}

fn shard_thread(
    seed: ShardSeed,
    status: mpsc::Sender<Result<usize, String>>,
    go: mpsc::Receiver<bool>,
    running: mpsc::Sender<usize>,
) -> Result<(), String> {
    let id = seed.id;
    let ex = LocalExecutorBuilder::new(Placement::Fixed(seed.cpu))
        .name(&format!("synap-shard-{id}"))
        .preempt_timer(Duration::from_millis(1))
        .io_memory(512 * 1024)
        .make();
    let ex = match ex {
        Ok(ex) => ex,
        Err(e) => {
            let msg = format!(
                "shard {id} could not start its io_uring executor on CPU {}: {e}",
                seed.cpu
            );
            let _ = status.send(Err(msg.clone()));
            // SAFETY: closing descriptors we own and never used.
            unsafe {
                libc::close(seed.resp_fd);
                libc::close(seed.http_fd);
                if let Some(fd) = seed.repl_fd {
                    libc::close(fd);
                }
            }
            return Err(msg);
        }
    };
    let _ = status.send(Ok(id));
    if !matches!(go.recv(), Ok(true)) {
        return Ok(());
    }
    ex.run(shard_main(seed, running))
}

async fn shard_main(seed: ShardSeed, running: mpsc::Sender<usize>) -> Result<(), String> {
    let ShardSeed {
        id,
        global,
        senders,
        receivers,
        resp_fd,
        http_fd,
        repl_fd,
        on_disk,
        ..
    } = seed;
    // Connect both directions of every link concurrently (each connect waits for its peer).
    let send_futs = senders.into_iter().map(|s| async move {
        match s {
            Some(s) => Some(s.connect().await),
            None => None,
        }
    });
    let recv_futs = receivers.into_iter().map(|r| async move {
        match r {
            Some(r) => Some(r.connect().await),
            None => None,
        }
    });
    let (peers, inboxes) = futures::future::join(
        futures::future::join_all(send_futs),
        futures::future::join_all(recv_futs),
    )
    .await;
    let shard = Rc::new(Shard::new(id, global.clone(), peers));
    for rx in inboxes.into_iter().flatten() {
        glommio::spawn_local(shard.clone().serve_peer(rx)).detach();
    }
    glommio::spawn_local(shard.clone().expire_cycle()).detach();
    glommio::spawn_local(shard.clone().sample_rates()).detach();
    glommio::spawn_local(shard.clone().lazy_free()).detach();
    // SAFETY: the descriptors are listening sockets created for this shard and owned by it.
    let resp = unsafe { TcpListener::from_raw_fd(resp_fd) };
    let http = unsafe { TcpListener::from_raw_fd(http_fd) };
    let resp_task = glommio::spawn_local(accept_resp(shard.clone(), resp));
    let http_task = glommio::spawn_local(crate::http::accept(shard.clone(), http));
    if let Err(e) = crate::persist::start(&shard, on_disk).await {
        tracing::error!(shard = id, "cannot load the dataset: {e}");
        global.shutting_down.store(true, Ordering::SeqCst);
        return Err(e);
    }
    if let Some(fd) = repl_fd {
        {
            let mut j = shard.journal.borrow_mut();
            j.repl = true;
            let per = global.config.replication.backlog_size.0 / global.nshards as u64;
            j.backlog.set_capacity(per as usize);
            j.backlog
                .set_hold(global.config.replication.max_replica_buffer.0 as usize);
        }
        // SAFETY: a listening socket created for this shard and owned by it.
        let l = unsafe { TcpListener::from_raw_fd(fd) };
        glommio::spawn_local(crate::repl::master::accept(shard.clone(), l)).detach();
    }
    shard.sync_expired_log();
    if id == 0 && global.repl.is_replica() {
        let gen = global.repl.generation.load(Ordering::SeqCst);
        glommio::spawn_local(crate::repl::replica::follow(shard.clone(), gen)).detach();
    }
    let _ = running.send(id);

    while !global.shutting_down.load(Ordering::Relaxed) {
        glommio::timer::sleep(Duration::from_millis(20)).await;
    }
    // Stop accepting; release blocked clients (their connections close); let connections
    // finish the batch they are on (each writes its replies before reading again), then close
    // what is left.
    drop(resp_task);
    drop(http_task);
    crate::blocking::release_all(&shard);
    let deadline = Instant::now() + Duration::from_millis(1500);
    while shard.connections.get() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    crate::persist::stop(&shard).await;
    Ok(())
}

async fn accept_resp(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(shard = shard.id, "accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let g = &shard.global;
        let n = g.clients.fetch_add(1, Ordering::Relaxed) + 1;
        if n > g.live().maxclients {
            g.clients.fetch_sub(1, Ordering::Relaxed);
            shard.stats.borrow_mut().rejected_connections += 1;
            glommio::spawn_local(async move {
                let mut stream = stream;
                use futures::AsyncWriteExt;
                let _ = stream
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
                let _ = stream.close().await;
            })
            .detach();
            continue;
        }
        shard.stats.borrow_mut().connections_total += 1;
        shard.connections.set(shard.connections.get() + 1);
        let s = shard.clone();
        glommio::spawn_local(async move {
            crate::connection::serve(s.clone(), stream).await;
            s.connections.set(s.connections.get() - 1);
            s.global.clients.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}
