//! (i) Two executors on CPUs 0 and 1 exchange ping-pong messages over glommio shared
//! channels. Each side has nothing else to do while it waits for the other, so both park
//! (sleep in io_uring_enter) between messages and every wake-up crosses threads through
//! `SleepNotifier::notify`: this is the path where Synap replaced upstream's
//! `membarrier::heavy()` with SeqCst fences. A lost wake-up leaves both executors parked
//! forever; the watchdog turns that into a failure.
//!
//! SYNAP_PINGPONG_ROUNDS (default 20) rounds of SYNAP_PINGPONG_TRIPS (default 100,000)
//! round trips, i.e. 200,000 messages per round; odd rounds add random busy-waits before
//! sends to move the race window around.

use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use glommio_synap_patch_tests::*;
use std::time::{Duration, Instant};

struct Round {
    elapsed: Duration,
    parks_ping: u64,
    parks_pong: u64,
}

fn one_round(round: u64, trips: u64, jitter: bool) -> Round {
    let (ping_tx, ping_rx) = shared_channel::new_bounded::<u64>(1);
    let (pong_tx, pong_rx) = shared_channel::new_bounded::<u64>(1);
    let start = Instant::now();
    let ping = LocalExecutorBuilder::new(Placement::Fixed(cpu(0)))
        .name("ping")
        .spawn(move || async move {
            let tx = ping_tx.connect().await;
            let rx = pong_rx.connect().await;
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (round + 1));
            let parks = voluntary_switches();
            for i in 0..trips {
                if jitter && rng.next() % 4 == 0 {
                    spin(rng.next() % 4096);
                }
                tx.send(i).await.expect("send ping");
                assert_eq!(rx.recv().await, Some(i), "pong out of order");
            }
            voluntary_switches() - parks
        })
        .expect("ping executor");
    let pong = LocalExecutorBuilder::new(Placement::Fixed(cpu(1)))
        .name("pong")
        .spawn(move || async move {
            let rx = ping_rx.connect().await;
            let tx = pong_tx.connect().await;
            let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (round + 1));
            let parks = voluntary_switches();
            for i in 0..trips {
                assert_eq!(rx.recv().await, Some(i), "ping out of order");
                if jitter && rng.next() % 4 == 0 {
                    spin(rng.next() % 4096);
                }
                tx.send(i).await.expect("send pong");
            }
            voluntary_switches() - parks
        })
        .expect("pong executor");
    let parks_ping = ping.join().expect("ping executor failed");
    let parks_pong = pong.join().expect("pong executor failed");
    Round {
        elapsed: start.elapsed(),
        parks_ping,
        parks_pong,
    }
}

#[test]
fn ping_pong_between_parking_executors_never_hangs() {
    let _serial = serial();
    let rounds = env_or("SYNAP_PINGPONG_ROUNDS", 20);
    let trips = env_or("SYNAP_PINGPONG_TRIPS", 100_000);
    let limit = Duration::from_secs(env_or("SYNAP_PINGPONG_TIMEOUT_SECS", 120));
    let mut total_parks = 0;
    for round in 0..rounds {
        let jitter = round % 2 == 1;
        let r = with_watchdog(limit, &format!("ping-pong round {round}"), move || {
            one_round(round, trips, jitter)
        });
        eprintln!(
            "round {round:2} (jitter {jitter:5}): {} messages in {:?} ({:.1} µs/round trip), \
             parks: ping {} pong {}",
            2 * trips,
            r.elapsed,
            r.elapsed.as_secs_f64() * 1e6 / trips as f64,
            r.parks_ping,
            r.parks_pong
        );
        total_parks += r.parks_ping + r.parks_pong;
    }
    // The test is only meaningful if the executors really parked and were woken by each other.
    assert!(
        total_parks >= rounds * trips / 10,
        "executors parked only {total_parks} times in {} round trips",
        rounds * trips
    );
}
