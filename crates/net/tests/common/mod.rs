//! Helpers shared by the media tests: phones' legs, RTP packets, a driver on real sockets.
// each test binary uses a part of these
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use media::relay::{Feed, Leg, LegConfig};
use net::media_loop::{MediaDriver, MediaThreads};
use pbx::{MediaEvent, MediaOp};
use rtp_types::RtpPacketBuilder;
use sdp::Codec;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub(crate) fn leg(remote: SocketAddr, codec: Codec, pt: u8, ssrc: u32) -> LegConfig {
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

pub(crate) fn rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(pt)
        .sequence_number(seq)
        .timestamp(u32::from(seq) * 160)
        .ssrc(0x1234)
        .payload(payload)
        .write_vec_unchecked()
}

pub(crate) async fn receive(socket: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
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

pub(crate) async fn next_event(events: &mut mpsc::UnboundedReceiver<MediaEvent>, secs: u64) -> Option<MediaEvent> {
    tokio::time::timeout(Duration::from_secs(secs), events.recv()).await.ok().flatten()
}

pub(crate) fn driver(timeout: Duration) -> (MediaDriver, mpsc::UnboundedReceiver<MediaEvent>) {
    driver_holding(timeout, 1_000)
}

/// A doorbell ringing nobody: these tests read media events from the channel directly.
pub(crate) fn bell() -> net::Doorbell {
    net::Doorbell::new("127.0.0.1:9".parse().expect("addr")).expect("bell")
}

pub(crate) fn driver_holding(
    timeout: Duration,
    max_sockets: usize,
) -> (MediaDriver, mpsc::UnboundedReceiver<MediaEvent>) {
    let (threads, events) = MediaThreads::start(1, &bell()).expect("media threads");
    (MediaDriver::new("127.0.0.1".parse().expect("ip"), timeout, threads, max_sockets), events)
}

/// Open a call on `ports` between legs `a` and `b`, both bridged to the other, and hand
/// it to the media threads.
pub(crate) fn open_bridged(driver: &mut MediaDriver, call: u64, ports: (u16, u16), a: LegConfig, b: LegConfig) {
    driver.apply(MediaOp::Open { call, ports, a, b });
    driver.apply(MediaOp::Feed { call, leg: Leg::B, feed: Feed::Bridged });
    driver.apply(MediaOp::Feed { call, leg: Leg::A, feed: Feed::Bridged });
    driver.commit();
}
