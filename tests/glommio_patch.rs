//! Tests for Synap's patch to the vendored glommio (vendor/SYNAP-PATCHES.md): rings created with
//! COOP_TASKRUN | TASKRUN_FLAG must still deliver every completion, and replacing the
//! membarrier IPI with SeqCst fences must not lose wake-ups between executors that park.

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
