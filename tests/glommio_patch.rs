//! Tests for Synap's patch to the vendored glommio (vendor/SYNAP-PATCHES.md): rings created with
//! COOP_TASKRUN | TASKRUN_FLAG must still deliver every completion, replacing the membarrier
//! IPI with SeqCst fences must not lose wake-ups between executors that park, and an executor
//! must never park while a task queue is runnable (a preemption already pending when it is
//! about to run its task queues used to make it park with woken tasks queued, forever).

use futures::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on a thread and fails the test if it does not finish within `secs` (a lost wake-up
/// shows up as a hang, which this turns into a failure).
fn with_watchdog<F: FnOnce() + Send + 'static>(secs: u64, what: &str, f: F) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    if rx.recv_timeout(Duration::from_secs(secs)).is_err() {
        panic!("{what}: did not finish within {secs} s (lost wake-up?)");
    }
}

fn cpu(i: usize) -> Placement {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    Placement::Fixed(i % n)
}

#[test]
fn ping_pong_between_parking_executors_never_hangs() {
    // Each round trip makes both executors park (nothing else to do), so every message needs a
    // cross-thread wake-up. Repeated to shake out races.
    for round in 0..6 {
        with_watchdog(60, &format!("round {round}"), move || {
            let (ping_tx, ping_rx) = shared_channel::new_bounded::<u64>(1);
            let (pong_tx, pong_rx) = shared_channel::new_bounded::<u64>(1);
            const N: u64 = 10_000;
            let a = LocalExecutorBuilder::new(cpu(0))
                .spawn(move || async move {
                    let tx = ping_tx.connect().await;
                    let rx = pong_rx.connect().await;
                    for i in 0..N {
                        tx.send(i).await.expect("send");
                        assert_eq!(rx.recv().await, Some(i));
                    }
                })
                .expect("executor a");
            let b = LocalExecutorBuilder::new(cpu(1))
                .spawn(move || async move {
                    let rx = ping_rx.connect().await;
                    let tx = pong_tx.connect().await;
                    while let Some(i) = rx.recv().await {
                        tx.send(i).await.expect("send");
                        if i == N - 1 {
                            break;
                        }
                    }
                })
                .expect("executor b");
            a.join().expect("a");
            b.join().expect("b");
        });
    }
}

#[test]
fn foreign_waker_wakes_a_parked_executor() {
    with_watchdog(30, "foreign wake", || {
        let ex = LocalExecutorBuilder::new(cpu(0))
            .spawn(|| async move {
                for _ in 0..200 {
                    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
                    let t = std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_micros(200));
                        let _ = tx.send(7);
                    });
                    assert_eq!(rx.await, Ok(7));
                    t.join().expect("thread");
                }
            })
            .expect("executor");
        ex.join().expect("join");
    });
}

#[test]
fn tcp_round_trips_complete_with_coop_taskrun() {
    with_watchdog(30, "tcp echo", || {
        let ex = LocalExecutorBuilder::new(cpu(0))
            .spawn(|| async move {
                let listener = glommio::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                let addr = listener.local_addr().expect("addr");
                let server = glommio::spawn_local(async move {
                    let mut s = listener.accept().await.expect("accept");
                    let mut buf = [0u8; 64];
                    loop {
                        let n = s.read(&mut buf).await.expect("read");
                        if n == 0 {
                            break;
                        }
                        s.write_all(&buf[..n]).await.expect("write");
                    }
                });
                let mut c = glommio::net::TcpStream::connect(addr)
                    .await
                    .expect("connect");
                for i in 0..2000u32 {
                    let msg = i.to_le_bytes();
                    c.write_all(&msg).await.expect("write");
                    let mut back = [0u8; 4];
                    c.read_exact(&mut back).await.expect("read");
                    assert_eq!(back, msg);
                }
                drop(c);
                server.await;
            })
            .expect("executor");
        ex.join().expect("join");
    });
}

/// An executor whose preemption timer is shorter than one trip around its loop: the timer has
/// always fired (need_preempt() is true) by the time the executor gets to its task queues.
/// Upstream glommio 0.9 then ran nothing, reported "nothing ran", parked and slept in
/// io_uring_enter with no timeout while the woken tasks waited in their queue (a server shard
/// that missed its 20 ms timer or never finished connecting to its peers). Each part hung
/// within its first iterations before the fix and takes well under a second with it.
fn early_preemption_executor(cpu_index: usize) -> LocalExecutorBuilder {
    LocalExecutorBuilder::new(cpu(cpu_index)).preempt_timer(Duration::from_nanos(1))
}

#[test]
fn woken_task_runs_although_a_preemption_is_pending() {
    with_watchdog(20, "spawned task with a pending preemption", || {
        let ex = early_preemption_executor(0).make().expect("executor");
        for i in 0..2000u32 {
            let v = ex.run(async move { glommio::spawn_local(async move { i + 1 }).await });
            assert_eq!(v, i + 1);
        }
    });
}

#[test]
fn timer_wakes_a_task_although_a_preemption_is_pending() {
    // The shard main loop's case: a task sleeping on glommio timers (woken by the timer, then
    // left in its queue when the executor parked with no timer armed).
    with_watchdog(20, "timer with a pending preemption", || {
        let ex = early_preemption_executor(0)
            .spawn(|| async move {
                for _ in 0..300 {
                    glommio::timer::sleep(Duration::from_micros(200)).await;
                }
            })
            .expect("executor");
        ex.join().expect("join");
    });
}

#[test]
fn shared_channels_connect_although_a_preemption_is_pending() {
    // The server start-up case: executors connecting shared channels to each other, then
    // exchanging messages.
    with_watchdog(
        20,
        "shared channel connect with a pending preemption",
        || {
            for _ in 0..20 {
                let (ping_tx, ping_rx) = shared_channel::new_bounded::<u32>(4);
                let (pong_tx, pong_rx) = shared_channel::new_bounded::<u32>(4);
                let a = early_preemption_executor(0)
                    .spawn(move || async move {
                        let (tx, rx) =
                            futures::future::join(ping_tx.connect(), pong_rx.connect()).await;
                        for i in 0..50 {
                            tx.send(i).await.expect("send");
                            assert_eq!(rx.recv().await, Some(i));
                        }
                    })
                    .expect("executor a");
                let b = early_preemption_executor(1)
                    .spawn(move || async move {
                        let (rx, tx) =
                            futures::future::join(ping_rx.connect(), pong_tx.connect()).await;
                        while let Some(i) = rx.recv().await {
                            tx.send(i).await.expect("send");
                        }
                    })
                    .expect("executor b");
                a.join().expect("a");
                b.join().expect("b");
            }
        },
    );
}
