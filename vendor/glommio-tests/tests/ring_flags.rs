//! The patch is really in effect: re-runs a small workload of this test binary under `strace`
//! and checks that (a) glommio's sleepable rings are created with
//! IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG and the kernel accepted them, and
//! (b) no `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` IPI is issued when executors park.
//! Skipped (with a message) when `strace` is not installed or cannot trace.

use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use glommio_synap_patch_tests::*;
use std::process::Command;

const IORING_SETUP_COOP_TASKRUN: u32 = 1 << 8;
const IORING_SETUP_TASKRUN_FLAG: u32 = 1 << 9;

/// The workload traced by `ring_flags_and_no_membarrier`: two executors that park while
/// exchanging messages.
#[test]
#[ignore = "run under strace by ring_flags_and_no_membarrier"]
fn strace_child_workload() {
    let (tx, rx) = shared_channel::new_bounded::<u32>(1);
    let a = LocalExecutorBuilder::new(Placement::Fixed(cpu(0)))
        .spawn(move || async move {
            let tx = tx.connect().await;
            for i in 0..2_000 {
                tx.send(i).await.unwrap();
                glommio::timer::sleep(std::time::Duration::from_micros(10)).await;
            }
        })
        .unwrap();
    let b = LocalExecutorBuilder::new(Placement::Fixed(cpu(1)))
        .spawn(move || async move {
            let rx = rx.connect().await;
            for i in 0..2_000 {
                assert_eq!(rx.recv().await, Some(i));
            }
        })
        .unwrap();
    a.join().unwrap();
    b.join().unwrap();
}

/// Parses `flags=...` of an `io_uring_setup` line as printed by strace (names or hex).
fn setup_flags(line: &str) -> Option<u32> {
    let rest = &line[line.find("flags=")? + 6..];
    let field = rest.split([',', '}']).next()?.trim();
    let mut flags = 0;
    for part in field.split('|') {
        let part = part.trim();
        flags |= match part {
            "0" => 0,
            "IORING_SETUP_IOPOLL" => 1 << 0,
            "IORING_SETUP_SQPOLL" => 1 << 1,
            "IORING_SETUP_SQ_AFF" => 1 << 2,
            "IORING_SETUP_CQSIZE" => 1 << 3,
            "IORING_SETUP_CLAMP" => 1 << 4,
            "IORING_SETUP_ATTACH_WQ" => 1 << 5,
            "IORING_SETUP_COOP_TASKRUN" => IORING_SETUP_COOP_TASKRUN,
            "IORING_SETUP_TASKRUN_FLAG" => IORING_SETUP_TASKRUN_FLAG,
            hex if hex.starts_with("0x") => u32::from_str_radix(&hex[2..], 16).ok()?,
            _ => return None,
        };
    }
    Some(flags)
}

#[test]
fn ring_flags_and_no_membarrier() {
    let _serial = serial();
    let out = std::env::temp_dir().join(format!("glommio-synap-strace-{}", std::process::id()));
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=io_uring_setup,membarrier", "-o"])
        .arg(&out)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "strace_child_workload", "--ignored", "--test-threads=1"])
        .status();
    let trace = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&out).unwrap(),
        other => {
            eprintln!("SKIPPED: strace not usable here ({other:?})");
            let _ = std::fs::remove_file(&out);
            return;
        }
    };
    let _ = std::fs::remove_file(&out);
    let setups: Vec<&str> = trace.lines().filter(|l| l.contains("io_uring_setup(")).collect();
    let mut coop = 0;
    for line in &setups {
        let flags = setup_flags(line).unwrap_or_else(|| panic!("cannot parse: {line}"));
        if flags & IORING_SETUP_COOP_TASKRUN != 0 {
            assert!(flags & IORING_SETUP_TASKRUN_FLAG != 0, "{line}");
            assert!(!line.contains("= -1"), "kernel rejected the ring flags: {line}");
            coop += 1;
        }
    }
    eprintln!("{} io_uring_setup calls, {coop} with COOP_TASKRUN|TASKRUN_FLAG", setups.len());
    // Two executors, each with a main and a latency ring.
    assert!(coop >= 4, "expected >= 4 rings with COOP_TASKRUN, trace:\n{trace}");
    let expedited: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("membarrier(") && l.contains("PRIVATE_EXPEDITED") && !l.contains("REGISTER"))
        .collect();
    assert!(
        expedited.is_empty(),
        "membarrier IPIs still issued ({}), e.g. {}",
        expedited.len(),
        expedited[0]
    );
}
