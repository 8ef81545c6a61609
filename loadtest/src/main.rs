//! `synap-loadtest`: Synap's load tester.
//!
//! One OS thread per `--threads`, each running one event loop (a current-thread tokio runtime,
//! see `runner.rs` for why) with `--connections` tasks. Each connection writes a whole
//! pipeline in one write and parses replies in place (see `resp.rs`), so the client costs
//! little CPU per request; latencies go into per-thread HDR histograms merged at the end. A
//! reporter thread prints one live line per second.
//!
//! # Layout
//! - `cli`: options. `plan`: the shared run plan (keys, mix, budget, deadlines).
//! - `workload`: key distributions (uniform, zipf, sequential), value sizes, templates.
//! - `resp` / `http`: request encoding and reply parsing.
//! - `runner`: client threads and their event loops. `conn`: one connection's driver (closed
//!   and open loop, --verify).
//! - `stats`: histograms, counters, the final table and JSON. `live`: the live line and the
//!   `--hdr-out` interval log. `limits`: rlimits, pinning, CPU time.
//!
//! Exit codes: 0 success, 1 verification failures (or nothing completed because of errors),
//! 2 bad arguments or limits.

mod cli;
mod conn;
mod http;
mod limits;
mod live;
mod plan;
mod resp;
mod runner;
mod stats;
mod tls;
mod workload;

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

fn main() -> ExitCode {
    match run(cli::Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("synap-loadtest: {e}");
            ExitCode::from(2)
        }
    }
}

/// Checks limits, runs the load, prints the result; `Err` is a usage or setup error (exit 2).
fn run(args: cli::Args) -> Result<ExitCode, String> {
    if !args.tls && (args.cacert.is_some() || args.tls_insecure || args.cert.is_some()) {
        return Err("--cacert, --tls-insecure and --cert need --tls".into());
    }
    if args.user.is_some() && args.auth.is_none() {
        return Err("--user needs --auth PASSWORD".into());
    }
    let total = args.threads * args.connections;
    let (limit, hard) = limits::raise_nofile();
    let need = limits::needed(total);
    if need > limit {
        return Err(format!(
            "{total} connections need {need} file descriptors, hard limit is {hard} (soft limit {limit}): raise it with `ulimit -n {need}` (or run fewer connections)"
        ));
    }
    let cpus = args
        .cpus
        .as_deref()
        .map(cli::parse_cpus)
        .transpose()
        .map_err(|e| format!("--cpus: {e}"))?;
    let start = Instant::now();
    let plan = Arc::new(plan::Plan::new(&args, start)?);
    let log = match &args.hdr_out {
        Some(path) => Some(live::HdrLog::create(path, args.warmup.unwrap_or_default())?),
        None => None,
    };
    let lives: Vec<Arc<runner::Live>> = (0..args.threads)
        .map(|_| Arc::new(runner::Live::default()))
        .collect();
    let cpu_at_start = limits::cpu_time();
    let (tx, rx) = std::sync::mpsc::channel();
    let handles: Vec<_> = (0..args.threads)
        .map(|t| {
            let cpu = cpus.as_ref().map(|c| c[t % c.len()]);
            runner::spawn(
                t,
                args.connections,
                plan.clone(),
                lives[t].clone(),
                cpu,
                tx.clone(),
            )
        })
        .collect();
    drop(tx);
    let reporter = {
        let (threads, lives, quiet) = (args.threads, lives.clone(), args.quiet);
        std::thread::spawn(move || live::report(rx, threads, lives, start, quiet, log))
    };
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
    let (log, replies) = reporter
        .join()
        .map_err(|_| "the reporter thread panicked".to_string())??;
    if let Some(e) = failed {
        return Err(e);
    }
    let measured = end.saturating_duration_since(plan.measure_from);
    let cpu = limits::cpu_time().saturating_sub(cpu_at_start);
    let proto = match args.protocol {
        cli::Protocol::Http => "http",
        cli::Protocol::Resp => "resp",
    };
    let info = stats::RunInfo {
        target: format!("{proto}://{}", plan.addr),
        connections: total,
        pipeline: args.pipeline,
        rate: args.rate,
        elapsed: measured,
        cpu,
        all_replies: replies,
    };
    let report = stats::Report::new(info, &total_stats);
    if args.json {
        let j = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        println!("{j}");
    } else {
        print!("{}", report.table());
    }
    if let Some(mut log) = log {
        let from = plan.measure_from.saturating_duration_since(start);
        for (name, h) in &total_stats.per_op {
            log.write(h, from, measured, Some(name))?;
        }
        log.finish()?;
    }
    let errors: u64 = total_stats.errors.values().sum();
    if total_stats.errors.contains_key("VERIFY") || (report.requests == 0 && errors > 0) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
