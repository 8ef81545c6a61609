//! Client threads: one event loop each.
//!
//! # Why a current-thread tokio runtime per thread
//!
//! The job is thread-per-core, like the server: every connection of a thread lives on that
//! thread's event loop and nothing on the request path is shared between threads (counters and
//! histograms are per thread, merged once at the end; the only shared atomics are the request
//! budget, touched once per pipeline, and two live gauges). A current-thread tokio runtime is
//! exactly one epoll loop per thread, with `spawn_local` tasks that may hold `Rc`/`RefCell`
//! state, so a connection's driver reads as straight-line async code (write the pipeline, read
//! until every reply is in) instead of a hand-written state machine over mio. The cost over
//! raw mio is small and measured (README: client CPU per request is below redis-benchmark's,
//! which is hand-written C over epoll): the hot path has no allocation and one syscall per
//! pipeline write. The one thing tokio does not give is sub-millisecond timers, which matters
//! only for open loop (`--rate`); see `conn.rs`.

use crate::conn;
use crate::plan::{Op, Plan};
use crate::stats::{self, Stats};
use hdrhistogram::Histogram;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Per-thread live gauges, read by the reporter once a second.
#[derive(Default)]
pub struct Live {
    /// Errors so far (warm-up included).
    pub errors: AtomicU64,
    /// Open connections.
    pub open: AtomicU64,
}

/// What a thread's connections share (same thread: `Rc`, `RefCell`).
pub struct ThreadCtx {
    /// The plan.
    pub plan: Arc<Plan>,
    /// Results (counters; histograms are in `latency`).
    pub stats: RefCell<Stats>,
    /// Latency histograms by operation: SET, GET, then each template (indexed by `op_index`).
    pub latency: RefCell<Vec<Histogram<u64>>>,
    /// Latencies of the current second (every reply, warm-up included): the live line and the
    /// `--hdr-out` interval log.
    pub interval: RefCell<Histogram<u64>>,
    /// Live gauges.
    pub live: Arc<Live>,
}

/// One thread's latencies for one second of the run (second `second` counts from the start).
pub struct Tick {
    /// Which second: covers `[start + second, start + second + 1)`.
    pub second: u64,
    /// The latencies of replies received in it.
    pub hist: Histogram<u64>,
    /// The thread's last tick (it has finished).
    pub last: bool,
}

/// Index of an operation's histogram in `ThreadCtx::latency`.
#[inline]
pub fn op_index(op: Op) -> usize {
    match op {
        Op::Set => 0,
        Op::Get => 1,
        Op::Template(i) => 2 + i,
    }
}

/// Starts client thread `t`: `conns` connections (ids `t * conns ..`), optionally pinned to
/// `cpu`, sending one `Tick` a second to the reporter. Returns the thread's results.
pub fn spawn(
    t: usize,
    conns: usize,
    plan: Arc<Plan>,
    live: Arc<Live>,
    cpu: Option<usize>,
    ticks: Sender<Tick>,
) -> JoinHandle<Result<Stats, String>> {
    std::thread::spawn(move || {
        if let Some(c) = cpu {
            crate::limits::pin(c)?;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let ctx = Rc::new(ThreadCtx {
            plan: plan.clone(),
            stats: RefCell::new(Stats::default()),
            latency: RefCell::new(
                (0..2 + plan.templates.len())
                    .map(|_| stats::new_histogram())
                    .collect(),
            ),
            interval: RefCell::new(stats::new_histogram()),
            live,
        });
        let second = Rc::new(Cell::new(0u64));
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let ticker = {
                let (ctx, second, ticks) = (ctx.clone(), second.clone(), ticks.clone());
                tokio::task::spawn_local(async move {
                    loop {
                        let s = second.get();
                        let end = ctx.plan.start + Duration::from_secs(s + 1);
                        tokio::time::sleep_until(end.into()).await;
                        let hist = ctx.interval.replace(stats::new_histogram());
                        second.set(s + 1);
                        let tick = Tick {
                            second: s,
                            hist,
                            last: false,
                        };
                        if ticks.send(tick).is_err() {
                            return;
                        }
                    }
                })
            };
            let tasks: Vec<_> = (0..conns)
                .map(|c| tokio::task::spawn_local(conn::run(ctx.clone(), t * conns + c)))
                .collect();
            for task in tasks {
                let _ = task.await;
            }
            ticker.abort();
        });
        // The last, partial second.
        let hist = ctx.interval.replace(stats::new_histogram());
        let _ = ticks.send(Tick {
            second: second.get(),
            hist,
            last: true,
        });
        let mut st = ctx.stats.borrow().clone();
        let lat = ctx.latency.borrow();
        st.add_histogram("SET", &lat[op_index(Op::Set)]);
        st.add_histogram("GET", &lat[op_index(Op::Get)]);
        for (i, tpl) in plan.templates.iter().enumerate() {
            st.add_histogram(&tpl.name, &lat[op_index(Op::Template(i))]);
        }
        Ok(st)
    })
}
