//! RTCP as svar does it on each leg (RFC 3550 §6, A.3, A.8): reception statistics with
//! loss, sequence wrap and jitter; a sender report to a leg svar sends to, a receiver
//! report to one it only hears, every five seconds, to the leg's RTP port + 1 or where
//! its RTCP comes from; LSR from the leg's own sender report; the leg's view of svar's
//! stream kept as its quality.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use media::relay::{Bridge, Feed, Leg, LegConfig, Output};
use media::rtcp::{ReceiveStats, RemoteQuality};
use rtcp_types::{Compound, Packet, ReceiverReport, ReportBlock, RtcpPacketWriterExt, SenderReport};
use rtp_types::RtpPacketBuilder;
use sdp::Codec;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn leg(remote: &str, ssrc: u32) -> LegConfig {
    LegConfig {
        remote: Some(addr(remote)),
        codec: Codec::Pcmu,
        payload_type: 0,
        dtmf_payload_type: Some(101),
        ssrc,
        first_seq: 1,
        first_ts: 0,
    }
}

fn rtp(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(0)
        .sequence_number(seq)
        .timestamp(ts)
        .ssrc(ssrc)
        .payload(&[0xFF; 160][..])
        .write_vec_unchecked()
}

#[test]
fn loss_and_sequence_wrap_are_counted_per_rfc_3550() {
    let mut s = ReceiveStats::default();
    // 100 packets from 65500 across the wrap, every tenth lost
    for i in 0..100u32 {
        if i % 10 == 5 {
            continue;
        }
        let seq = (65_500 + i) as u16;
        s.packet(9, seq, i * 160, u64::from(i) * 160);
    }
    assert_eq!(s.cumulative_lost(), 10);
    assert_eq!(s.jitter(), 0, "evenly spaced packets have no jitter");
    // a late duplicate of an old packet does not move the highest sequence back
    s.packet(9, 65_510, 10 * 160, 100 * 160);
    assert_eq!(s.cumulative_lost(), 9, "a duplicate counts as received (A.3)");
}

#[test]
fn jitter_follows_the_variation_of_transit_time() {
    let mut s = ReceiveStats::default();
    for i in 0..400u32 {
        // every other packet 10 ms (80 units) late
        let late = if i % 2 == 1 { 80 } else { 0 };
        s.packet(1, i as u16, i * 160, u64::from(i * 160 + late));
    }
    let j = s.jitter();
    assert!((70..=90).contains(&j), "jitter {j} units for ±80");
}

/// A report block as (SSRC, cumulative lost, LSR).
type Block = (u32, u32, u32);

/// (sender SSRC and packet count of an SR), its report blocks, whether it has a CNAME.
fn parse_report(data: &[u8]) -> (Option<(u32, u32)>, Vec<Block>, bool) {
    let mut sr = None;
    let mut blocks = Vec::new();
    let mut cname = false;
    for p in Compound::parse(data).expect("compound RTCP") {
        match p.expect("packet") {
            Packet::Sr(r) => {
                sr = Some((r.ssrc(), r.packet_count()));
                blocks.extend(
                    r.report_blocks().map(|b| (b.ssrc(), b.cumulative_lost(), b.last_sender_report_timestamp())),
                );
            }
            Packet::Rr(r) => {
                blocks.extend(
                    r.report_blocks().map(|b| (b.ssrc(), b.cumulative_lost(), b.last_sender_report_timestamp())),
                );
            }
            Packet::Sdes(_) => cname = true,
            _ => {}
        }
    }
    (sr, blocks, cname)
}

#[test]
fn each_leg_gets_a_report_every_five_seconds_about_what_svar_sent_it_and_heard_from_it() {
    let t0 = Instant::now();
    let mut bridge =
        Bridge::new(leg("198.51.100.7:5004", 0xA0), leg("203.0.113.9:6000", 0xB0), Duration::from_secs(30), t0);
    bridge.set_feed(Leg::B, Feed::Bridged);
    bridge.set_wall_clock(t0, 1_764_400_000_000_000);
    // A talks for five seconds (250 packets), two of them lost; B is silent
    for i in 0..250u32 {
        if i == 100 || i == 200 {
            continue;
        }
        let at = t0 + Duration::from_millis(20 * u64::from(i));
        bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(i as u16, i * 160, 0x1111), at);
    }
    bridge.drain();
    assert_eq!(bridge.poll_timeout(), Some(t0 + Duration::from_secs(5)), "the next wake-up is the report");
    bridge.tick(t0 + Duration::from_secs(5));
    let out = bridge.drain();
    let rtcp: Vec<(Leg, SocketAddr, Vec<u8>)> = out
        .into_iter()
        .filter_map(|o| match o {
            Output::SendRtcp { leg, to, data } => Some((leg, to, data)),
            _ => None,
        })
        .collect();
    assert_eq!(rtcp.len(), 2, "one report per leg");
    let to_a = rtcp.iter().find(|r| r.0 == Leg::A).expect("A");
    let to_b = rtcp.iter().find(|r| r.0 == Leg::B).expect("B");
    assert_eq!(to_a.1, addr("198.51.100.7:5005"), "RTP port + 1");
    let (sr_a, blocks_a, cname_a) = parse_report(&to_a.2);
    assert_eq!(sr_a, None, "svar sent A nothing: a receiver report");
    assert_eq!(blocks_a, vec![(0x1111, 2, 0)], "about A's stream: two lost");
    assert!(cname_a, "every compound packet carries CNAME");
    let (sr_b, blocks_b, _) = parse_report(&to_b.2);
    assert_eq!(sr_b, Some((0xB0, 248)), "svar's stream to B: 248 packets relayed");
    assert!(blocks_b.is_empty(), "B sent nothing to report on");
    // nothing more until the next interval
    bridge.tick(t0 + Duration::from_millis(9_000));
    assert!(!bridge.drain().iter().any(|o| matches!(o, Output::SendRtcp { .. })));
}

#[test]
fn a_legs_sender_report_gives_lsr_and_its_receiver_report_gives_its_quality() {
    let t0 = Instant::now();
    let mut bridge =
        Bridge::new(leg("198.51.100.7:5004", 0xA0), leg("203.0.113.9:6000", 0xB0), Duration::from_secs(30), t0);
    bridge.set_feed(Leg::A, Feed::Bridged);
    bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(1, 160, 0x1111), t0);
    // A's own sender report, from a port of its choosing (latched for svar's reports)
    let ntp: u64 = 0x1122_3344_5566_7788;
    let sr = SenderReport::builder(0x1111).ntp_timestamp(ntp).rtp_timestamp(160).packet_count(1).octet_count(160);
    let mut buf = vec![0u8; 200];
    let n = Compound::builder().add_packet(sr).write_into(&mut buf).expect("write");
    bridge.rtcp_packet(Leg::A, addr("198.51.100.7:7777"), &buf[..n], t0 + Duration::from_secs(1));
    bridge.tick(t0 + Duration::from_secs(5));
    let out = bridge.drain();
    let Some(Output::SendRtcp { to, data, .. }) =
        out.iter().find(|o| matches!(o, Output::SendRtcp { leg: Leg::A, .. }))
    else {
        panic!("no report to A: {out:?}");
    };
    assert_eq!(*to, addr("198.51.100.7:7777"), "symmetric RTCP");
    let (_, blocks, _) = parse_report(data);
    assert_eq!(blocks[0].2, 0x3344_5566, "LSR is the middle 32 bits of A's NTP time");
    // B reports on svar's stream towards it (SSRC 0xB0): 5 % lost, some jitter
    let rr = ReceiverReport::builder(0x2222)
        .add_report_block(ReportBlock::builder(0xB0).fraction_lost(13).cumulative_lost(7).interarrival_jitter(40));
    let n = Compound::builder().add_packet(rr).write_into(&mut buf).expect("write");
    bridge.rtcp_packet(Leg::B, addr("203.0.113.9:6001"), &buf[..n], t0 + Duration::from_secs(6));
    assert_eq!(bridge.quality(Leg::B), Some(RemoteQuality { fraction_lost: 13, cumulative_lost: 7, jitter: 40 }));
    assert_eq!(bridge.quality(Leg::A), None);
    bridge.rtcp_packet(Leg::B, addr("203.0.113.9:6001"), b"not rtcp", t0 + Duration::from_secs(6));
    assert_eq!(bridge.dropped(Leg::B), 1);
}
