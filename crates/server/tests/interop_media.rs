//! Anchored media through the real binary: two SIPp phones set up a call through svar
//! while the test plays their audio from its own UDP sockets (named in their SDP): a
//! 1 kHz tone sent on one leg arrives on the other from svar's port, at its frequency and
//! level, both ways; and a call whose phones send no RTP is ended by the media timeout,
//! which its record says.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Svar, call_in_background, config_text, free_port, require_tool, scenario, wait_sipp};
use pbx::record::{Outcome, Party};
use rtp_types::{RtpPacket, RtpPacketBuilder};

/// A scenario with its media port (and pause) filled in, written next to svar's data.
fn templated(svar: &Svar, name: &str, replacements: &[(&str, String)]) -> String {
    let mut text = std::fs::read_to_string(scenario(name)).expect("scenario");
    for (from, to) in replacements {
        assert!(text.contains(from), "{name} has no {from:?}");
        text = text.replace(from, to);
    }
    let path = svar.dir.join(format!("t-{name}"));
    std::fs::write(&path, text).expect("write scenario");
    path.display().to_string()
}

fn media_range(svar: &Svar) -> u16 {
    let text = std::fs::read_to_string(&svar.config).expect("config");
    let line = text.lines().find(|l| l.starts_with("ports = [")).expect("media ports");
    line.trim_start_matches("ports = [").split(',').next().and_then(|p| p.trim().parse().ok()).expect("first port")
}

fn tone(seq: u16, freq: f64, amplitude: f64) -> Vec<u8> {
    let payload: Vec<u8> = (0..160)
        .map(|i| {
            let n = f64::from(seq) * 160.0 + f64::from(i);
            rtp::g711::ulaw_encode((amplitude * (std::f64::consts::TAU * freq * n / 8000.0).sin()) as i16)
        })
        .collect();
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(0)
        .sequence_number(seq)
        .timestamp(u32::from(seq) * 160)
        .ssrc(0x5151)
        .payload(payload.as_slice())
        .write_vec_unchecked()
}

/// Send a tone from `from` to svar's `port` for `frames` × 20 ms while collecting what
/// `to` receives; returns the decoded samples and where they came from.
fn send_and_hear(from: &UdpSocket, port: u16, to: &UdpSocket, frames: u16) -> (Vec<i16>, Vec<u16>) {
    to.set_read_timeout(Some(Duration::from_millis(5))).expect("timeout");
    let mut samples = Vec::new();
    let mut sources = Vec::new();
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    for seq in 0..frames {
        from.send_to(&tone(seq, 1000.0, 6000.0), ("127.0.0.1", port)).expect("send");
        let due = start + Duration::from_millis(20 * u64::from(seq + 1));
        while Instant::now() < due {
            if let Ok((n, src)) = to.recv_from(&mut buf)
                && let Ok(p) = RtpPacket::parse(&buf[..n])
                && p.payload_type() == 0
            {
                samples.extend(p.payload().iter().map(|&b| rtp::g711::ulaw_decode(b)));
                sources.push(src.port());
            }
        }
    }
    (samples, sources)
}

/// Strength of `freq` against the whole signal (Goertzel power over total energy).
fn share_at(samples: &[i16], freq: f64) -> f64 {
    let k = (std::f64::consts::TAU * freq / 8000.0).cos() * 2.0;
    let (mut s1, mut s2) = (0.0, 0.0);
    let mut energy = 0.0;
    for &x in samples {
        let x = f64::from(x);
        energy += x * x;
        let s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * power / (samples.len() as f64 * energy.max(1.0))
}

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt()
}

#[test]
fn a_tone_on_one_leg_arrives_on_the_other_through_svars_ports_both_ways() {
    require_tool("sipp");
    let mut svar = Svar::start();
    let first = media_range(&svar);
    let (pa, pb) = (first, first + 2); // the first call takes the pool's first block
    let phone_a = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let phone_b = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let b_port = phone_b.local_addr().expect("addr").port();
    let a_port = phone_a.local_addr().expect("addr").port();

    let callee_sf = templated(&svar, "uas_answer.xml", &[("m=audio 6000", format!("m=audio {b_port}"))]);
    let caller_sf = templated(
        &svar,
        "uac_call.xml",
        &[
            ("m=audio [media_port] RTP/AVP 0 8 101", format!("m=audio {a_port} RTP/AVP 0 8 101")),
            ("<pause milliseconds=\"200\"/>", "<pause milliseconds=\"4000\"/>".to_owned()),
        ],
    );
    let (caller, callee) = call_in_background(&svar, &caller_sf, &callee_sf);
    std::thread::sleep(Duration::from_millis(500));

    let (at_b, from_b) = send_and_hear(&phone_a, pa, &phone_b, 75);
    let (at_a, from_a) = send_and_hear(&phone_b, pb, &phone_a, 75);
    let (ok, err) = wait_sipp(caller);
    assert!(ok, "caller: {err}\n{}", svar.log());
    let (ok, err) = wait_sipp(callee);
    assert!(ok, "callee: {err}\n{}", svar.log());

    for (heard, sources, side, svar_port) in [(&at_b, &from_b, "B", pb), (&at_a, &from_a, "A", pa)] {
        assert!(heard.len() >= 160 * 50, "leg {side} heard {} samples", heard.len());
        assert!(
            sources.iter().all(|&p| p == svar_port),
            "leg {side} hears svar's port {svar_port}, not the other phone"
        );
        let share = share_at(heard, 1000.0);
        assert!(share > 0.9, "leg {side}: 1 kHz carries {share:.2} of the energy");
        assert!(share_at(heard, 700.0) < 0.05, "leg {side}: nothing at 700 Hz");
        let level = rms(heard);
        let sent = 6000.0 / 2f64.sqrt();
        assert!((level / sent - 1.0).abs() < 0.05, "leg {side}: level {level:.0} vs sent {sent:.0}");
    }
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].hangup_by, Some(Party::Caller));
}

#[test]
fn a_call_whose_audio_dies_is_ended_by_the_media_timeout() {
    require_tool("sipp");
    let mut svar = Svar::start_custom(|sip, http, dir| {
        config_text(sip, http, free_port(), &dir.join("data"), "").replace("[media]\n", "[media]\ntimeout_s = 5\n")
    });
    let started = Instant::now();
    let (caller, callee) = call_in_background(&svar, &scenario("uac_wait_bye.xml"), &scenario("uas_answer.xml"));
    // neither SIPp phone sends RTP: svar hangs up both after 5 s
    let (ok, err) = wait_sipp(caller);
    assert!(ok, "the caller got svar's BYE: {err}\n{}", svar.log());
    let (ok, err) = wait_sipp(callee);
    assert!(ok, "the callee got svar's BYE: {err}\n{}", svar.log());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "ended after {took:?}");
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].outcome, recs[0].hangup_by), (Outcome::Answered, Some(Party::MediaTimeout)));
    let silent_ms = recs[0].ended_ms - recs[0].answered_ms.expect("answered");
    assert!((5_000..15_000).contains(&silent_ms), "hung up {silent_ms} ms after the answer, the timeout is 5 s");
}
