//! (ii) TCP round trips on rings created with IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG: every
//! completion must still be delivered, whether the executor is parked (woken by task work
//! queued from another CPU), serves a client on its own thread, or is kept busy by a
//! CPU-bound task (completions then wait behind IORING_SQ_TASKRUN and must be collected by
//! the executor's peeks, see liburing's patched `cq_ring_needs_flush`).

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};
use glommio_synap_patch_tests::*;
use std::io::{Read, Write};
use std::rc::Rc;
use std::cell::Cell;
use std::time::{Duration, Instant};

const MSG: usize = 16;

async fn echo_one_connection(listener: TcpListener) {
    let mut s = listener.accept().await.expect("accept");
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await.expect("server read");
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).await.expect("server write");
    }
}

/// A glommio echo server on CPU 0, a blocking std client on CPU 1 (optionally with a
/// CPU-bound task running next to the server).
fn std_client_round_trips(trips: u64, busy_server: bool) -> Duration {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let mut builder = LocalExecutorBuilder::new(Placement::Fixed(cpu(0))).name("echo");
    if busy_server {
        builder = builder.preempt_timer(Duration::from_millis(1));
    }
    let server = builder
        .spawn(move || async move {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let stop = Rc::new(Cell::new(false));
            let hog = busy_server.then(|| {
                let stop = stop.clone();
                glommio::spawn_local(async move {
                    // Never parks: the executor only looks at its rings when preempted.
                    while !stop.get() {
                        spin(1000);
                        glommio::yield_if_needed().await;
                    }
                })
            });
            echo_one_connection(listener).await;
            stop.set(true);
            if let Some(h) = hog {
                h.await;
            }
        })
        .expect("server executor");
    let addr = addr_rx.recv().unwrap();
    pin_current_thread(cpu(1));
    let mut c = std::net::TcpStream::connect(addr).expect("connect");
    c.set_nodelay(true).unwrap();
    let start = Instant::now();
    for i in 0..trips {
        let msg = [(i % 251) as u8; MSG];
        c.write_all(&msg).unwrap();
        let mut back = [0u8; MSG];
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
    }
    let elapsed = start.elapsed();
    drop(c);
    server.join().expect("server executor failed");
    elapsed
}

#[test]
fn tcp_echo_with_std_client_on_other_cpu() {
    let _serial = serial();
    let trips = env_or("SYNAP_TCP_TRIPS", 20_000);
    let t = with_watchdog(Duration::from_secs(60), "tcp echo (parked server)", move || {
        std_client_round_trips(trips, false)
    });
    eprintln!(
        "parked server: {trips} round trips in {t:?} ({:.1} µs each)",
        t.as_secs_f64() * 1e6 / trips as f64
    );
}

#[test]
fn tcp_echo_with_busy_server_executor() {
    let _serial = serial();
    let trips = env_or("SYNAP_TCP_BUSY_TRIPS", 5_000);
    let t = with_watchdog(Duration::from_secs(60), "tcp echo (busy server)", move || {
        std_client_round_trips(trips, true)
    });
    eprintln!(
        "busy server (preempt_timer 1 ms): {trips} round trips in {t:?} ({:.1} µs each)",
        t.as_secs_f64() * 1e6 / trips as f64
    );
}

#[test]
fn tcp_echo_within_one_executor() {
    let _serial = serial();
    let trips = env_or("SYNAP_TCP_TRIPS", 20_000);
    let t = with_watchdog(Duration::from_secs(60), "tcp echo (one executor)", move || {
        LocalExecutorBuilder::new(Placement::Fixed(cpu(0)))
            .spawn(move || async move {
                let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
                let addr = listener.local_addr().unwrap();
                let server = glommio::spawn_local(echo_one_connection(listener));
                let mut c = TcpStream::connect(addr).await.expect("connect");
                let start = Instant::now();
                for i in 0..trips {
                    let msg = [(i % 251) as u8; MSG];
                    c.write_all(&msg).await.expect("client write");
                    let mut back = [0u8; MSG];
                    c.read_exact(&mut back).await.expect("client read");
                    assert_eq!(back, msg);
                }
                let elapsed = start.elapsed();
                drop(c);
                server.await;
                elapsed
            })
            .expect("executor")
            .join()
            .expect("executor failed")
    });
    eprintln!(
        "one executor: {trips} round trips in {t:?} ({:.1} µs each)",
        t.as_secs_f64() * 1e6 / trips as f64
    );
}
