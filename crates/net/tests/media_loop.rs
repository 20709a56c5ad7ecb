//! The media driver on real sockets: two phones (UDP sockets on loopback) talk through
//! svar's ports; a prompt plays to one of them; closing returns the ports.

use std::net::SocketAddr;
use std::time::Duration;

use media::ports::PortPool;
use media::prompt::{Player, Prompt};
use media::relay::{Feed, Leg, LegConfig};
use net::media_loop::{MediaCommand, MediaDriver, MediaEvent};
use rtp_types::{RtpPacket, RtpPacketBuilder};
use sdp::Codec;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

fn leg(remote: SocketAddr, codec: Codec, pt: u8, ssrc: u32) -> LegConfig {
    LegConfig {
        remote: Some(remote),
        codec,
        payload_type: pt,
        dtmf_payload_type: Some(101),
        ssrc,
        first_seq: 1,
        first_ts: 0,
    }
}

fn rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(pt)
        .sequence_number(seq)
        .timestamp(u32::from(seq) * 160)
        .ssrc(0x1234)
        .payload(payload)
        .write_vec_unchecked()
}

async fn receive(socket: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(3), socket.recv_from(&mut buf)).await {
            Ok(Ok((len, _))) => got.push(buf[..len].to_vec()),
            _ => break,
        }
    }
    got
}

#[tokio::test]
async fn two_phones_talk_through_svar_and_hear_its_prompts() {
    let phone_a = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let phone_b = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let driver = MediaDriver::new(
        "127.0.0.1".parse().expect("ip"),
        PortPool::new(31_000, 31_100),
        events_tx,
        Duration::from_secs(30),
    );
    let call = driver
        .open(
            7,
            leg(phone_a.local_addr().expect("addr"), Codec::Pcmu, 0, 0xAAAA),
            leg(phone_b.local_addr().expect("addr"), Codec::Pcma, 8, 0xBBBB),
        )
        .await
        .expect("media opened");
    assert_eq!(driver.in_use(), 2);
    let (pa, pb) = call.ports;
    call.command(MediaCommand::Feed(Leg::B, Feed::Bridged));
    call.command(MediaCommand::Feed(Leg::A, Feed::Bridged));
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
    call.command(MediaCommand::Feed(
        Leg::A,
        Feed::Playing(Player::sequence(vec![Prompt::from_samples(vec![3000; 1600])])),
    ));
    let frames = receive(&phone_a, 10).await;
    assert_eq!(frames.len(), 10);
    let done = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Some(MediaEvent::PlaybackDone { call: 7, leg: Leg::A }) = events.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(done.is_ok(), "PlaybackDone reported");

    call.close().await;
    assert_eq!(driver.in_use(), 0, "ports back in the pool");
}
