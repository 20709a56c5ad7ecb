//! One call's media in virtual time: a tone in on one leg arrives on the other with its
//! frequency and level (through µ-law → A-law), keys are detected and relayed with the
//! other leg's payload type, the stream stays continuous from prompt to conversation,
//! NAT'd phones are latched, and a silent leg is reported.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use media::prompt::{Player, Prompt};
use media::relay::{Bridge, Feed, Leg, LegConfig, LegStream, Output, key_payload};
use rtp::Key;
use rtp::telephone_event::KeyEvent;
use rtp_types::{RtpPacket, RtpPacketBuilder};
use sdp::Codec;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn legs() -> (LegConfig, LegConfig) {
    let a = LegConfig {
        remote: Some(addr("198.51.100.7:5004")),
        codec: Codec::Pcmu,
        payload_type: 0,
        dtmf_payload_type: Some(101),
        ssrc: 0xA0A0,
        first_seq: 100,
        first_ts: 1000,
    };
    let b = LegConfig {
        remote: Some(addr("203.0.113.9:6000")),
        codec: Codec::Pcma,
        payload_type: 8,
        dtmf_payload_type: Some(96),
        ssrc: 0xB0B0,
        first_seq: 65_000,
        first_ts: 4_000_000_000,
    };
    (a, b)
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(pt)
        .sequence_number(seq)
        .timestamp(ts)
        .ssrc(ssrc)
        .marker_bit(marker)
        .payload(payload)
        .write_vec_unchecked()
}

fn tone_frames(freq: f64, amplitude: f64, frames: usize) -> Vec<[i16; 160]> {
    (0..frames)
        .map(|f| {
            std::array::from_fn(|i| {
                (amplitude * (std::f64::consts::TAU * freq * (f * 160 + i) as f64 / 8000.0).sin()) as i16
            })
        })
        .collect()
}

fn sent_to(outputs: &[Output], leg: Leg) -> Vec<Vec<u8>> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { leg: l, data, .. } if *l == leg => Some(data.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_tone_on_one_leg_arrives_on_the_other_with_its_frequency_and_level() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a, b, Duration::from_secs(30), t0);
    bridge.set_feed(Leg::B, Feed::Bridged);
    let mut out = Vec::new();
    for (k, frame) in tone_frames(1000.0, 8000.0, 50).iter().enumerate() {
        let payload: Vec<u8> = frame.iter().map(|s| rtp::g711::ulaw_encode(*s)).collect();
        let now = t0 + Duration::from_millis(20 * k as u64);
        bridge.packet(
            Leg::A,
            addr("198.51.100.7:5004"),
            &rtp(0, 7 + k as u16, 160 * k as u32, 0x1111, k == 0, &payload),
            now,
        );
        out.extend(bridge.drain());
    }
    let packets = sent_to(&out, Leg::B);
    assert_eq!(packets.len(), 50);
    let mut samples = Vec::new();
    for p in &packets {
        let pkt = RtpPacket::parse(p).expect("RTP");
        assert_eq!(pkt.payload_type(), 8, "A-law towards B");
        assert_eq!(pkt.ssrc(), 0xB0B0);
        samples.extend(pkt.payload().iter().map(|c| rtp::g711::alaw_decode(*c)));
    }
    let crossings = samples.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    assert!((1990..=2010).contains(&crossings), "1 kHz for 1 s: {crossings} zero crossings");
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!((7600..=8400).contains(&peak), "level kept: peak {peak}");
}

#[test]
fn keys_are_detected_and_relayed_with_the_other_legs_payload_type() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a, b, Duration::from_secs(30), t0);
    bridge.set_feed(Leg::B, Feed::Bridged);
    let five = Key::from_char('5').expect("key");
    for (i, (end, dur)) in [(false, 160), (false, 320), (true, 480), (true, 480), (true, 480)].iter().enumerate() {
        let p = key_payload(five, *end, *dur);
        bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(101, 50 + i as u16, 8000, 0x1111, i == 0, &p), t0);
    }
    let out = bridge.drain();
    let keys: Vec<&KeyEvent> =
        out.iter().filter_map(|o| if let Output::Key { event, .. } = o { Some(event) } else { None }).collect();
    assert_eq!(keys.len(), 2, "one start and one end: {keys:?}");
    let relayed = sent_to(&out, Leg::B);
    assert_eq!(relayed.len(), 5, "every packet relayed, the receiver dedups the triple end");
    assert!(relayed.iter().all(|p| RtpPacket::parse(p).expect("RTP").payload_type() == 96));
}

#[test]
fn from_prompt_to_conversation_the_callee_sees_one_continuous_stream() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a, b, Duration::from_secs(30), t0);
    bridge.set_feed(Leg::B, Feed::Playing(Player::sequence(vec![Prompt::from_samples(vec![1000; 1600])])));
    let mut now = t0;
    let mut out = Vec::new();
    for _ in 0..12 {
        now += Duration::from_millis(20);
        bridge.tick(now);
        out.extend(bridge.drain());
    }
    assert!(out.contains(&Output::PlaybackDone { leg: Leg::B }));
    bridge.set_feed(Leg::B, Feed::Bridged);
    for k in 0..5u16 {
        now += Duration::from_millis(20);
        bridge.packet(
            Leg::A,
            addr("198.51.100.7:5004"),
            &rtp(0, 40_000 + k, 123 + u32::from(k) * 160, 0x2222, false, &[0xFF; 160]),
            now,
        );
        out.extend(bridge.drain());
    }
    let seqs: Vec<(u16, u32, bool)> = sent_to(&out, Leg::B)
        .iter()
        .map(|p| {
            let r = RtpPacket::parse(p).expect("RTP");
            (r.sequence_number(), r.timestamp(), r.marker_bit())
        })
        .collect();
    assert_eq!(seqs.len(), 15, "10 prompt frames and 5 relayed");
    assert!(seqs.windows(2).all(|w| w[1].0 == w[0].0.wrapping_add(1)), "sequence numbers run on: {seqs:?}");
    assert_eq!(seqs[0].0, 65_000);
    assert!(seqs[0].2 && seqs[10].2, "marker at the start and at the switch");
    assert!(seqs.iter().filter(|s| s.2).count() == 2);
    assert!(seqs[10].1.wrapping_sub(seqs[9].1) >= 160, "time moves forward at the switch");
}

#[test]
fn a_phone_behind_nat_is_latched_and_a_stray_sender_is_not() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a, b, Duration::from_secs(30), t0);
    bridge.set_feed(Leg::A, Feed::Bridged);
    bridge.set_feed(Leg::B, Feed::Bridged);
    // B's SDP said 203.0.113.9:6000; its packets come from the NAT's address.
    let nat = addr("203.0.113.200:41000");
    bridge.packet(Leg::B, nat, &rtp(8, 1, 0, 0x3333, true, &[0xD5; 160]), t0);
    let out = bridge.drain();
    assert!(out.contains(&Output::Latched { leg: Leg::B, to: nat }));
    assert_eq!(bridge.remote(Leg::B), Some(nat));
    // A's audio now goes to the NAT address.
    bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(0, 1, 0, 0x4444, true, &[0xFF; 160]), t0);
    let out = bridge.drain();
    assert!(out.iter().any(|o| matches!(o, Output::Send { leg: Leg::B, to, .. } if *to == nat)));
    // A stray sender while B is talking is ignored.
    bridge.packet(
        Leg::B,
        addr("192.0.2.66:9999"),
        &rtp(8, 2, 160, 0x5555, false, &[0xD5; 160]),
        t0 + Duration::from_millis(20),
    );
    assert_eq!(bridge.remote(Leg::B), Some(nat));
    assert_eq!(bridge.dropped(Leg::B), 1);
}

#[test]
fn a_leg_that_stops_sending_is_reported_once_after_the_media_timeout() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a.clone(), b.clone(), Duration::from_secs(10), t0);
    bridge.set_stream(Leg::A, watched(&a, true), t0);
    bridge.set_stream(Leg::B, watched(&b, true), t0);
    bridge.set_feed(Leg::B, Feed::Bridged);
    bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(0, 1, 0, 1, true, &[0xFF; 160]), t0);
    bridge.packet(Leg::B, addr("203.0.113.9:6000"), &rtp(8, 1, 0, 2, true, &[0xD5; 160]), t0 + Duration::from_secs(9));
    bridge.drain();
    bridge.tick(t0 + Duration::from_millis(9_990));
    assert!(!bridge.drain().iter().any(|o| matches!(o, Output::MediaTimeout { .. })));
    bridge.tick(t0 + Duration::from_secs(10));
    let out = bridge.drain();
    assert_eq!(out.iter().filter(|o| matches!(o, Output::MediaTimeout { .. })).count(), 1);
    assert!(out.contains(&Output::MediaTimeout { leg: Leg::A }));
    bridge.tick(t0 + Duration::from_secs(12));
    assert!(!bridge.drain().contains(&Output::MediaTimeout { leg: Leg::A }), "reported once");
    bridge.tick(t0 + Duration::from_secs(19));
    assert!(bridge.drain().contains(&Output::MediaTimeout { leg: Leg::B }));
}

fn watched(c: &LegConfig, watch: bool) -> LegStream {
    LegStream {
        remote: c.remote,
        codec: c.codec,
        payload_type: c.payload_type,
        dtmf_payload_type: c.dtmf_payload_type,
        watch,
    }
}

#[test]
fn a_leg_not_expected_to_send_is_never_timed_out_and_costs_no_wake_ups() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a.clone(), b.clone(), Duration::from_secs(10), t0);
    assert_eq!(bridge.poll_timeout(), None, "ringing, nothing playing: nothing to wake for");
    bridge.tick(t0 + Duration::from_secs(60));
    assert!(bridge.drain().is_empty(), "an unanswered call is not a dead call");
    // answered: watched from now on
    let t1 = t0 + Duration::from_secs(60);
    bridge.set_stream(Leg::A, watched(&a, true), t1);
    assert_eq!(bridge.poll_timeout(), Some(t1 + Duration::from_secs(10)));
    // put on hold (the phone sends nothing while it holds): not watched
    bridge.set_stream(Leg::A, watched(&a, false), t1 + Duration::from_secs(5));
    assert_eq!(bridge.poll_timeout(), None);
    bridge.tick(t1 + Duration::from_secs(100));
    assert!(bridge.drain().is_empty(), "no timeout while on hold");
    // resumed: the timeout counts from the resume, not from the last packet before hold
    let t2 = t1 + Duration::from_secs(100);
    bridge.set_stream(Leg::A, watched(&a, true), t2);
    bridge.tick(t2 + Duration::from_secs(9));
    assert!(bridge.drain().is_empty());
    bridge.tick(t2 + Duration::from_secs(10));
    assert_eq!(bridge.drain(), vec![Output::MediaTimeout { leg: Leg::A }]);
}

#[test]
fn a_new_sdp_address_replaces_a_latched_one_but_the_same_address_keeps_it() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a.clone(), b, Duration::from_secs(10), t0);
    let nat = addr("192.0.2.200:40001");
    bridge.packet(Leg::A, nat, &rtp(0, 1, 0, 1, true, &[0xFF; 160]), t0);
    assert_eq!(bridge.remote(Leg::A), Some(nat));
    bridge.set_stream(Leg::A, watched(&a, true), t0 + Duration::from_secs(1));
    assert_eq!(bridge.remote(Leg::A), Some(nat), "a re-INVITE with the same SDP keeps the latched address");
    let moved = LegStream { remote: Some(addr("198.51.100.8:7000")), ..watched(&a, true) };
    bridge.set_stream(Leg::A, moved, t0 + Duration::from_secs(2));
    assert_eq!(bridge.remote(Leg::A), Some(addr("198.51.100.8:7000")), "the phone moved");
}

#[test]
fn garbage_and_unknown_payload_types_are_dropped_not_relayed() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a, b, Duration::from_secs(30), t0);
    bridge.set_feed(Leg::B, Feed::Bridged);
    bridge.packet(Leg::A, addr("198.51.100.7:5004"), b"\x00\x01not rtp", t0);
    bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(18, 1, 0, 1, true, &[0; 20]), t0);
    assert!(sent_to(&bridge.drain(), Leg::B).is_empty());
    assert_eq!(bridge.dropped(Leg::A), 2);
}

#[test]
fn a_message_is_recorded_from_a_leg_until_hash_and_keeps_its_length() {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a, b, Duration::from_secs(30), t0);
    bridge.record(Leg::A, media::record::RecordLimits::default());
    // two seconds of a 440 Hz tone in µ-law from A, then # as RFC 4733
    for (i, f) in tone_frames(440.0, 8000.0, 100).iter().enumerate() {
        let payload = f.map(rtp::g711::ulaw_encode);
        let at = t0 + Duration::from_millis(20 * i as u64);
        bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(0, i as u16, 160 * i as u32, 7, i == 0, &payload), at);
    }
    assert!(!bridge.drain().iter().any(|o| matches!(o, Output::Recorded { .. })), "still recording");
    let hash = key_payload(Key::from_char('#').expect("#"), false, 160);
    bridge.packet(
        Leg::A,
        addr("198.51.100.7:5004"),
        &rtp(101, 100, 16_000, 7, true, &hash),
        t0 + Duration::from_secs(2),
    );
    let out = bridge.drain();
    let Some(Output::Recorded { leg, ended, length, wav }) = out.iter().find(|o| matches!(o, Output::Recorded { .. }))
    else {
        panic!("no recording in {out:?}");
    };
    assert_eq!((*leg, *ended), (Leg::A, media::record::Ended::Key));
    assert_eq!(*length, Duration::from_secs(2));
    let reader = hound::WavReader::new(std::io::Cursor::new(wav.clone())).expect("WAV");
    assert_eq!(reader.duration(), 16_000);
    // once reported, no second report when the call closes
    bridge.stop_recording();
    assert!(!bridge.drain().iter().any(|o| matches!(o, Output::Recorded { .. })));
}

#[test]
fn keys_sent_as_tones_are_heard_on_a_leg_without_telephone_event_when_listening() {
    let (mut a, b) = legs();
    a.dtmf_payload_type = None;
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a, b, Duration::from_secs(30), t0);
    // DTMF 5: 770 Hz + 1336 Hz for 100 ms, then 100 ms of silence
    let mut samples: Vec<i16> = (0..800)
        .map(|n| {
            let t = f64::from(n) / 8000.0;
            (4000.0 * ((std::f64::consts::TAU * 770.0 * t).sin() + (std::f64::consts::TAU * 1336.0 * t).sin())) as i16
        })
        .collect();
    samples.extend(std::iter::repeat_n(0, 800));
    let send = |bridge: &mut Bridge| {
        for (i, chunk) in samples.chunks(160).enumerate() {
            let payload: Vec<u8> = chunk.iter().map(|&s| rtp::g711::ulaw_encode(s)).collect();
            let at = t0 + Duration::from_millis(20 * i as u64);
            bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(0, i as u16, 160 * i as u32, 7, false, &payload), at);
        }
        bridge.drain()
    };
    assert!(!send(&mut bridge).iter().any(|o| matches!(o, Output::Key { .. })), "not listening: no keys");
    bridge.listen_inband(Leg::A, true);
    let keys: Vec<char> = send(&mut bridge)
        .iter()
        .filter_map(|o| match o {
            Output::Key { leg: Leg::A, event: KeyEvent::Start { key, .. } } => Some(key.as_char()),
            _ => None,
        })
        .collect();
    assert_eq!(keys, vec!['5']);
}

/// Two bridged legs whose conversation is being recorded (the caller consented).
fn recording_conversation() -> (Bridge, Instant) {
    let (a, b) = legs();
    let t0 = Instant::now();
    let mut bridge = Bridge::new(a, b, Duration::from_secs(30), t0);
    bridge.set_feed(Leg::A, Feed::Bridged);
    bridge.set_feed(Leg::B, Feed::Bridged);
    bridge.record_conversation();
    (bridge, t0)
}

#[test]
fn a_consented_conversation_is_recorded_in_stereo_caller_left_employee_right() {
    let (mut bridge, t0) = recording_conversation();
    // one second from each side: A a 440 Hz tone in µ-law, B silence in A-law
    for (i, f) in tone_frames(440.0, 8000.0, 50).iter().enumerate() {
        let at = t0 + Duration::from_millis(20 * i as u64);
        let ulaw = f.map(rtp::g711::ulaw_encode);
        bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(0, i as u16, 160 * i as u32, 7, i == 0, &ulaw), at);
        bridge.packet(Leg::B, addr("203.0.113.9:6000"), &rtp(8, i as u16, 160 * i as u32, 9, i == 0, &[0xD5; 160]), at);
    }
    assert!(!bridge.drain().iter().any(|o| matches!(o, Output::ConversationRecorded { .. })), "not before the end");
    bridge.stop_recording();
    let out = bridge.drain();
    let Some(Output::ConversationRecorded { length, wav }) =
        out.iter().find(|o| matches!(o, Output::ConversationRecorded { .. }))
    else {
        panic!("no recording: {out:?}");
    };
    assert_eq!(*length, Duration::from_secs(1));
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav.clone())).expect("WAV");
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.expect("sample")).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let rms = |v: &[i16]| (v.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    assert!(rms(&left) > 4000.0, "the caller's tone on the left: {}", rms(&left));
    assert!(rms(&right) < 50.0, "the employee's silence on the right: {}", rms(&right));
}

#[test]
fn a_withdrawn_consent_drops_the_conversation_and_records_nothing_after() {
    let (mut bridge, t0) = recording_conversation();
    let frames = tone_frames(440.0, 8000.0, 50);
    for (i, f) in frames.iter().enumerate() {
        let at = t0 + Duration::from_millis(20 * i as u64);
        if i == 25 {
            bridge.discard_conversation();
        }
        let ulaw = f.map(rtp::g711::ulaw_encode);
        bridge.packet(Leg::A, addr("198.51.100.7:5004"), &rtp(0, i as u16, 160 * i as u32, 7, i == 0, &ulaw), at);
    }
    bridge.stop_recording();
    let out = bridge.drain();
    assert!(
        !out.iter().any(|o| matches!(o, Output::ConversationRecorded { .. })),
        "nothing recorded is reported after withdrawal"
    );
    assert!(out.iter().any(|o| matches!(o, Output::Send { leg: Leg::B, .. })), "the conversation itself goes on");
}
