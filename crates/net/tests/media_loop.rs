//! The media driver on real sockets: two phones (UDP sockets on loopback) talk through
//! svar's ports; a prompt plays to one of them; a silent answered leg is reported; an
//! ended call's ports serve the next call without what the old call's phones still sent.

mod common;

use std::time::Duration;

use common::{bell, driver, driver_holding, leg, next_event, open_bridged, receive, rtp};
use media::prompt::{Player, Prompt};
use media::relay::{Feed, Leg, LegStream};
use net::media_loop::{MediaDriver, MediaThreads};
use pbx::{MediaEvent, MediaOp};
use rtp_types::RtpPacket;
use sdp::Codec;
use tokio::net::UdpSocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_talk_through_svar_and_hear_its_prompts() {
    let phone_a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let phone_b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let (mut driver, mut events) = driver(Duration::from_secs(30));
    let (pa, pb) = (31_000, 31_002);
    open_bridged(
        &mut driver,
        7,
        (pa, pb),
        leg(phone_a.local_addr().expect("addr"), Codec::Pcmu, 0, 0xAAAA),
        leg(phone_b.local_addr().expect("addr"), Codec::Pcma, 8, 0xBBBB),
    );
    assert_eq!(driver.calls(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;

    // A talks µ-law; B hears A-law from svar's port, with svar's SSRC towards B.
    for seq in 0..20u16 {
        phone_a.send_to(&rtp(0, seq, &[0x80; 160]), ("127.0.0.1", pa)).await.expect("send");
    }
    let at_b = receive(&phone_b, 20).await;
    assert_eq!(at_b.len(), 20, "every packet relayed");
    for p in &at_b {
        let r = RtpPacket::parse(p).expect("RTP");
        assert_eq!((r.payload_type(), r.ssrc()), (8, 0xBBBB));
        assert_eq!(r.payload()[0], rtp::g711::ulaw_to_alaw_byte(0x80));
    }
    // B answers; A hears µ-law.
    phone_b.send_to(&rtp(8, 1, &[0xD5; 160]), ("127.0.0.1", pb)).await.expect("send");
    let at_a = receive(&phone_a, 1).await;
    assert_eq!(RtpPacket::parse(&at_a[0]).expect("RTP").payload_type(), 0);

    // A prompt of 200 ms to A: 10 frames, then PlaybackDone.
    driver.apply(MediaOp::Feed {
        call: 7,
        leg: Leg::A,
        feed: Feed::Playing(Player::sequence(vec![Prompt::from_samples(vec![3000; 1600])])),
    });
    driver.commit();
    let frames = receive(&phone_a, 10).await;
    assert_eq!(frames.len(), 10);
    match next_event(&mut events, 2).await {
        Some(MediaEvent::PlaybackDone { call: 7, leg: Leg::A }) => {}
        other => panic!("expected PlaybackDone, got {other:?}"),
    }

    driver.apply(MediaOp::Close { call: 7 });
    driver.commit();
    assert_eq!(driver.calls(), 0);
    // the thread takes the close within its lazy round (50 ms) and parks the sockets
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A's phone goes on sending after the call ended; the next call given these ports
    // hears none of it, only its own phones.
    for seq in 100..105u16 {
        phone_a.send_to(&rtp(0, seq, &[0x11; 160]), ("127.0.0.1", pa)).await.expect("send");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let phone_c = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let phone_d = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    open_bridged(
        &mut driver,
        8,
        (pa, pb),
        leg(phone_c.local_addr().expect("addr"), Codec::Pcmu, 0, 0xCCCC),
        leg(phone_d.local_addr().expect("addr"), Codec::Pcmu, 0, 0xDDDD),
    );
    match tokio::time::timeout(Duration::from_millis(100), events.recv()).await {
        Err(_) => {}
        Ok(other) => panic!("the parked ports serve the next call, got {other:?}"),
    }
    for seq in 0..3u16 {
        phone_c.send_to(&rtp(0, seq, &[0x80; 160]), ("127.0.0.1", pa)).await.expect("send");
    }
    let at_d = receive(&phone_d, 3).await;
    assert_eq!(at_d.len(), 3, "the new call is relayed on the reused ports");
    for p in &at_d {
        assert_eq!(RtpPacket::parse(p).expect("RTP").payload()[0], 0x80, "only the new call's audio");
    }
    let mut buf = [0u8; 2048];
    let late = tokio::time::timeout(Duration::from_millis(200), phone_d.recv_from(&mut buf)).await;
    assert!(late.is_err(), "nothing of the old call relayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_leg_that_goes_silent_is_reported_and_a_taken_port_is_a_failure() {
    let phone_a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let (mut driver, mut events) = driver(Duration::from_secs(1));
    let a = leg(phone_a.local_addr().expect("addr"), Codec::Pcmu, 0, 1);
    driver.apply(MediaOp::Open { call: 3, ports: (31_010, 31_012), a: a.clone(), b: a.clone() });
    let watched = LegStream { remote: a.remote, codec: a.codec, payload_type: 0, dtmf_payload_type: None, watch: true };
    driver.apply(MediaOp::Stream { call: 3, leg: Leg::A, stream: watched });
    driver.commit();
    match next_event(&mut events, 3).await {
        Some(MediaEvent::Timeout { call: 3, leg: Leg::A }) => {}
        other => panic!("expected the media timeout, got {other:?}"),
    }
    // the RTCP port of leg B (31023) is taken by someone else
    let _squatter = std::net::UdpSocket::bind("127.0.0.1:31023").expect("bind");
    driver.apply(MediaOp::Open { call: 4, ports: (31_020, 31_022), a: a.clone(), b: a });
    match next_event(&mut events, 2).await {
        Some(MediaEvent::Failed { call: 4, error }) => assert!(error.contains("31020/31022"), "{error}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(driver.calls(), 1, "the failed call holds nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_opened_and_closed_in_one_turn_never_starts_and_its_ports_serve_the_next() {
    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let other = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let (mut driver, mut events) = driver(Duration::from_secs(30));
    let a = leg(phone.local_addr().expect("addr"), Codec::Pcmu, 0, 1);
    driver.apply(MediaOp::Open { call: 9, ports: (31_030, 31_032), a: a.clone(), b: a.clone() });
    driver.apply(MediaOp::Feed { call: 9, leg: Leg::A, feed: Feed::Bridged });
    driver.apply(MediaOp::Close { call: 9 });
    driver.commit();
    assert_eq!(driver.calls(), 0);
    // the next turn's call takes the same ports at once
    let b = leg(other.local_addr().expect("addr"), Codec::Pcmu, 0, 2);
    driver.apply(MediaOp::Open { call: 10, ports: (31_030, 31_032), a, b });
    driver.apply(MediaOp::Feed { call: 10, leg: Leg::B, feed: Feed::Bridged });
    driver.commit();
    assert_eq!(driver.calls(), 1);
    phone.send_to(&rtp(0, 1, &[0x80; 160]), ("127.0.0.1", 31_030)).await.expect("send");
    assert_eq!(receive(&other, 1).await.len(), 1, "relayed on the same ports");
    match tokio::time::timeout(Duration::from_millis(100), events.recv()).await {
        Err(_) => {}
        Ok(e) => panic!("no failure expected, got {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_calls_block_closes_when_keeping_it_would_pass_the_limit() {
    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    // room for one call's four sockets, not for a second call's spares beside it
    let (mut driver, _events) = driver_holding(Duration::from_secs(30), 7);
    let a = leg(phone.local_addr().expect("addr"), Codec::Pcmu, 0, 1);
    driver.apply(MediaOp::Open { call: 1, ports: (31_040, 31_042), a: a.clone(), b: a.clone() });
    driver.apply(MediaOp::Open { call: 2, ports: (31_044, 31_046), a: a.clone(), b: a });
    driver.apply(MediaOp::Close { call: 2 });
    driver.commit();
    for p in [31_044, 31_045, 31_046, 31_047] {
        assert!(std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok(), "port {p} closed at once");
    }
    assert_eq!(driver.calls(), 1);

    // call 1 ends and its block parks on its thread; a call on other ports binds four new
    // sockets, and the parked block closes so that no more than seven are open
    driver.apply(MediaOp::Close { call: 1 });
    driver.commit();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bound = |p: u16| std::net::UdpSocket::bind(("127.0.0.1", p)).is_err();
    assert!([31_040, 31_041, 31_042, 31_043].into_iter().all(bound), "kept for reuse");
    let b = leg(phone.local_addr().expect("addr"), Codec::Pcmu, 0, 2);
    driver.apply(MediaOp::Open { call: 3, ports: (31_048, 31_050), a: b.clone(), b });
    driver.commit();
    assert_eq!(driver.calls(), 1);
    assert!([31_048, 31_049, 31_050, 31_051].into_iter().all(bound), "the new call's block is bound");
    // the thread closes the parked block within its lazy round
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed = [31_040, 31_041, 31_042, 31_043].into_iter().filter(|&p| !bound(p)).count();
    assert_eq!(closed, 4, "the parked block closed for the new call");
}

/// With two media threads, a block lives on the thread its ports choose: calls on blocks
/// of either thread relay, park when they end, and serve the next calls given the same
/// blocks, while what the old calls' phones still send reaches nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_park_on_their_own_thread_and_serve_the_next_calls() {
    let (threads, mut events) = MediaThreads::start(2, &bell()).expect("media threads");
    let mut driver = MediaDriver::new("127.0.0.1".parse().expect("ip"), Duration::from_secs(30), threads, 1000);
    // 31_100 / 4 and 31_104 / 4 differ in parity: one block per thread
    let blocks = [(31_100u16, 31_102u16), (31_104, 31_106)];
    let mut old_phones: Vec<(u64, u16, UdpSocket, UdpSocket)> = Vec::new();
    for round in 0..2u64 {
        let mut phones = Vec::new();
        for (i, &(pa, pb)) in blocks.iter().enumerate() {
            let a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
            let b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
            let call = round * 10 + i as u64;
            driver.apply(MediaOp::Open {
                call,
                ports: (pa, pb),
                a: leg(a.local_addr().expect("addr"), Codec::Pcmu, 0, 0x100 + call as u32),
                b: leg(b.local_addr().expect("addr"), Codec::Pcmu, 0, 0x200 + call as u32),
            });
            driver.apply(MediaOp::Feed { call, leg: Leg::A, feed: Feed::Bridged });
            driver.apply(MediaOp::Feed { call, leg: Leg::B, feed: Feed::Bridged });
            phones.push((call, pa, a, b));
        }
        driver.commit();
        // the thread takes the start within its lazy round
        tokio::time::sleep(Duration::from_millis(120)).await;
        for (call, pa, a, b) in &phones {
            for seq in 0..3u16 {
                a.send_to(&rtp(0, seq, &[0x80; 160]), ("127.0.0.1", *pa)).await.expect("send");
            }
            let heard = receive(b, 3).await;
            assert_eq!(heard.len(), 3, "call {call} relays on its block");
            assert!(
                heard.iter().all(|p| RtpPacket::parse(p).expect("RTP").payload()[0] == 0x80),
                "only call {call}'s audio"
            );
        }
        for (call, ..) in &phones {
            driver.apply(MediaOp::Close { call: *call });
        }
        driver.commit();
        tokio::time::sleep(Duration::from_millis(120)).await;
        // the ended calls' phones go on sending to the parked blocks
        for (_, pa, old_a, _) in &phones {
            old_a.send_to(&rtp(0, 999, &[0x11; 160]), ("127.0.0.1", *pa)).await.expect("send");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        old_phones = phones;
    }
    // nothing of theirs went anywhere: the last calls' B phones heard only their calls
    for (call, _, _, b) in &old_phones {
        let mut buf = [0u8; 2048];
        let late = tokio::time::timeout(Duration::from_millis(100), b.recv_from(&mut buf)).await;
        assert!(late.is_err(), "call {call}'s B phone heard nothing after its call");
    }
    assert_eq!(driver.calls(), 0);
    match tokio::time::timeout(Duration::from_millis(100), events.recv()).await {
        Err(_) => {}
        Ok(other) => panic!("no failure expected, got {other:?}"),
    }
}
