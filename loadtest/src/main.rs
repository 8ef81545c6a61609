//! `synap-loadtest`: Synap's load tester.
//!
//! One OS thread per `--threads`, each running a current-thread tokio runtime (one event loop,
//! no cross-thread synchronisation on the request path) with `--connections` tasks. Each
//! connection writes a whole pipeline in one write and parses replies in place (see
//! `resp.rs`), so the client costs little CPU per request; latencies go into per-thread HDR
//! histograms merged at the end. A reporter prints one live line per second.
//!
//! # Layout
//! - `cli`: options. `plan`: the shared run plan (keys, mix, budget, deadlines).
//! - `workload`: key distributions (uniform, zipf, sequential), value sizes, templates.
//! - `resp` / `http`: request encoding and reply parsing.
//! - `conn`: one connection's driver (closed and open loop, --verify).
//! - `stats`: histograms, counters, the final table and JSON. `limits`: rlimits, pinning, CPU time.

mod cli;
mod conn;
mod http;
mod limits;
mod plan;
mod resp;
mod stats;
mod workload;

use clap::Parser;
use conn::{Live, ThreadCtx};
use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args = cli::Args::parse();
    if args.tls {
        eprintln!("synap-loadtest: TLS is not supported yet (it arrives with Synap's TLS support)");
        return ExitCode::from(2);
    }
    let total = args.threads * args.connections;
    let (limit, hard) = limits::raise_nofile();
    let need = limits::needed(total);
    if need > limit {
        eprintln!(
            "synap-loadtest: {total} connections need {need} file descriptors, hard limit is {hard} (soft limit now {limit}): raise it with `ulimit -n {need}` (or run fewer connections)"
        );
        return ExitCode::from(2);
    }
    let cpus = match args.cpus.as_deref().map(cli::parse_cpus).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("synap-loadtest: --cpus: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let plan = match plan::Plan::new(&args, start) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("synap-loadtest: {e}");
            return ExitCode::from(2);
        }
    };
    let lives: Vec<Arc<Live>> = (0..args.threads)
        .map(|_| {
            Arc::new(Live {
                done: 0.into(),
                errors: 0.into(),
                open: 0.into(),
                p99: 0.into(),
            })
        })
        .collect();
    let cpu_at_start = limits::cpu_time();
    let mut handles = Vec::new();
    for t in 0..args.threads {
        let plan = plan.clone();
        let live = lives[t].clone();
        let cpu = cpus.as_ref().map(|c| c[t % c.len()]);
        let conns = args.connections;
        handles.push(std::thread::spawn(
            move || -> Result<stats::Stats, String> {
                if let Some(c) = cpu {
                    limits::pin(c)?;
                }
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                let ctx = Rc::new(ThreadCtx {
                    plan: plan.clone(),
                    stats: RefCell::new(stats::Stats::default()),
                    latency: RefCell::new(
                        (0..2 + plan.templates.len())
                            .map(|_| stats::new_histogram())
                            .collect(),
                    ),
                    interval: RefCell::new(stats::new_histogram()),
                    live,
                });
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async {
                    let ticker = {
                        let ctx = ctx.clone();
                        tokio::task::spawn_local(async move {
                            loop {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                let mut h = ctx.interval.borrow_mut();
                                ctx.live
                                    .p99
                                    .store(h.value_at_quantile(0.99), Ordering::Relaxed);
                                h.reset();
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
                let mut st = ctx.stats.borrow().clone();
                let lat = ctx.latency.borrow();
                st.add_histogram("SET", &lat[conn::op_index(plan::Op::Set)]);
                st.add_histogram("GET", &lat[conn::op_index(plan::Op::Get)]);
                for (i, t) in plan.templates.iter().enumerate() {
                    st.add_histogram(&t.name, &lat[conn::op_index(plan::Op::Template(i))]);
                }
                Ok(st)
            },
        ));
    }
    // Live line once a second until every thread is done.
    let quiet = args.quiet;
    let reporter_lives = lives.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let reporter = std::thread::spawn(move || {
        let mut last = 0u64;
        let mut secs = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(100));
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
            }
            secs += 1;
            let done: u64 = reporter_lives
                .iter()
                .map(|l| l.done.load(Ordering::Relaxed))
                .sum();
            let errors: u64 = reporter_lives
                .iter()
                .map(|l| l.errors.load(Ordering::Relaxed))
                .sum();
            let open: u64 = reporter_lives
                .iter()
                .map(|l| l.open.load(Ordering::Relaxed))
                .sum();
            let p99 = reporter_lives
                .iter()
                .map(|l| l.p99.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0);
            if !quiet {
                eprintln!(
                    "[{secs:>4}s] {:>10} ops/s  p99 {:>7} µs  errors {errors}  connections {open}",
                    done - last,
                    p99
                );
            }
            last = done;
        }
    });
    let mut total_stats = stats::Stats::default();
    let mut failed = None;
    for h in handles {
        match h.join() {
            Ok(Ok(s)) => total_stats.merge(&s),
            Ok(Err(e)) => failed = Some(e),
            Err(_) => failed = Some("a client thread panicked".into()),
        }
    }
    let end = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let _ = reporter.join();
    if let Some(e) = failed {
        eprintln!("synap-loadtest: {e}");
        return ExitCode::from(2);
    }
    let measured = end.saturating_duration_since(plan.measure_from.max(start));
    let cpu = limits::cpu_time().saturating_sub(cpu_at_start);
    let target = format!(
        "{}://{}",
        if args.protocol == cli::Protocol::Http {
            "http"
        } else {
            "resp"
        },
        plan.addr
    );
    let report = stats::Report::new(
        target,
        total,
        args.pipeline,
        args.rate,
        measured,
        &total_stats,
        cpu,
    );
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("synap-loadtest: {e}"),
        }
    } else {
        print!("{}", report.table());
    }
    for s in &total_stats.verify_samples {
        eprintln!("  {s}");
    }
    if let Some(path) = &args.hdr_out {
        let h = total_stats.overall();
        let res = std::fs::File::create(path)
            .map_err(|e| e.to_string())
            .and_then(|mut f| {
                use hdrhistogram::serialization::Serializer;
                hdrhistogram::serialization::V2Serializer::new()
                    .serialize(&h, &mut f)
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            });
        if let Err(e) = res {
            eprintln!("synap-loadtest: --hdr-out {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if total_stats.errors.get("VERIFY").copied().unwrap_or(0) > 0 {
        return ExitCode::from(1);
    }
    if report.requests == 0 && total_stats.errors.values().sum::<u64>() > 0 {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
