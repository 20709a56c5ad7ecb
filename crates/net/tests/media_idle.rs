//! An idle media thread (no call, no timer for a second) sleeps without lazy rounds, and
//! a call sent to it, with nothing urgent among its commands, still wakes it. Its own
//! test binary: the wakeups counted are those of every media thread in the process.

mod common;

use std::time::Duration;

use common::{driver, leg, open_bridged, receive, rtp};
use sdp::Codec;
use tokio::net::UdpSocket;

/// Voluntary context switches of this process's media threads, from `/proc`.
fn media_thread_wakeups() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("tasks") {
        let dir = task.expect("task").path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !name.starts_with("svar-media") {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).expect("status");
        let switches = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .expect("voluntary_ctxt_switches");
        total += switches;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_media_thread_sleeps_until_it_is_given_a_call() {
    let phone_a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let phone_b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let (mut driver, _events) = driver(Duration::from_secs(30));
    // past the second a thread without calls keeps its lazy rounds (`SETTLE`)
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let before = media_thread_wakeups();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let idle = media_thread_wakeups() - before;
    // a lazy round every 50 ms would be a dozen
    assert!(idle <= 2, "an idle media thread woke {idle} times in 600 ms");

    let (pa, pb) = (31_100, 31_102);
    open_bridged(
        &mut driver,
        1,
        (pa, pb),
        leg(phone_a.local_addr().expect("addr"), Codec::Pcmu, 0, 0xAAAA),
        leg(phone_b.local_addr().expect("addr"), Codec::Pcmu, 0, 0xBBBB),
    );
    for seq in 0..5u16 {
        phone_a.send_to(&rtp(0, seq, &[0x80; 160]), ("127.0.0.1", pa)).await.expect("send");
    }
    assert_eq!(receive(&phone_b, 5).await.len(), 5, "the sleeping thread took the call and relays it");
}
