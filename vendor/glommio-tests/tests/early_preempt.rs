//! (iv) An executor must never park while one of its task queues is runnable. Upstream glommio
//! 0.9 checks `need_preempt()` before running anything; when a preemption was already pending
//! (the latency ring had a completion: the preemption timer, a network or eventfd completion)
//! it ran nothing and returned "nothing ran", `LocalExecutor::run` parked, and
//! `Reactor::wait` slept in io_uring_enter with no timeout while the woken tasks waited in
//! their queue. Synap's fix (`run_task_queues`, SYNAP PATCH) runs at least one task first.
//!
//! A preemption timer of 1 ns has always fired by the time the executor reaches its task
//! queues, so every loop takes that path: before the fix each part below hung within its
//! first iterations; with it, each takes well under a second.
//! SYNAP_EARLY_PREEMPT_ITERS (default 5,000) scales the loops.

use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use glommio_synap_patch_tests::*;
use std::time::Duration;

fn builder(cpu_index: usize) -> LocalExecutorBuilder {
    LocalExecutorBuilder::new(Placement::Fixed(cpu(cpu_index)))
        .preempt_timer(Duration::from_nanos(1))
}

#[test]
fn spawned_task_runs_with_a_pending_preemption() {
    let _serial = serial();
    let iters = env_or("SYNAP_EARLY_PREEMPT_ITERS", 5_000) as u32;
    with_watchdog(Duration::from_secs(60), "spawn + await", move || {
        let ex = builder(0).make().expect("executor");
        for i in 0..iters {
            let v = ex.run(async move { glommio::spawn_local(async move { i ^ 1 }).await });
            assert_eq!(v, i ^ 1);
        }
    });
}

#[test]
fn timer_wakes_a_task_with_a_pending_preemption() {
    let _serial = serial();
    let iters = env_or("SYNAP_EARLY_PREEMPT_ITERS", 5_000) / 5;
    with_watchdog(Duration::from_secs(60), "timer sleeps", move || {
        builder(0)
            .spawn(move || async move {
                for _ in 0..iters {
                    glommio::timer::sleep(Duration::from_micros(100)).await;
                }
            })
            .expect("executor")
            .join()
            .expect("join");
    });
}

#[test]
fn executors_connect_and_exchange_with_a_pending_preemption() {
    let _serial = serial();
    let rounds = env_or("SYNAP_EARLY_PREEMPT_ITERS", 5_000) / 50;
    with_watchdog(Duration::from_secs(60), "connect + ping-pong", move || {
        for _ in 0..rounds {
            let (ping_tx, ping_rx) = shared_channel::new_bounded::<u32>(4);
            let (pong_tx, pong_rx) = shared_channel::new_bounded::<u32>(4);
            let a = builder(0)
                .spawn(move || async move {
                    let tx = ping_tx.connect().await;
                    let rx = pong_rx.connect().await;
                    for i in 0..100 {
                        tx.send(i).await.expect("send");
                        assert_eq!(rx.recv().await, Some(i));
                    }
                })
                .expect("executor a");
            let b = builder(1)
                .spawn(move || async move {
                    let rx = ping_rx.connect().await;
                    let tx = pong_tx.connect().await;
                    while let Some(i) = rx.recv().await {
                        tx.send(i).await.expect("send");
                    }
                })
                .expect("executor b");
            a.join().expect("a");
            b.join().expect("b");
        }
    });
}
