//! In-band DTMF: keys in synthesised audio are heard; single tones, speech-like sound
//! and presses too short are not.

use rtp::inband::{InbandDetector, InbandEvent};

const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [&str; 4] = ["123A", "456B", "789C", "*0#D"];

fn tone(freqs: &[(f64, f64)], ms: usize) -> Vec<f64> {
    (0..ms * 8)
        .map(|n| freqs.iter().map(|(f, a)| a * (std::f64::consts::TAU * f * n as f64 / 8000.0).sin()).sum())
        .collect()
}

fn key(c: char, amplitude: f64, ms: usize) -> Vec<f64> {
    let (r, row) = KEYS.iter().enumerate().find(|(_, k)| k.contains(c)).expect("a DTMF key");
    let col = row.find(c).expect("column");
    tone(&[(ROWS[r], amplitude), (COLS[col], amplitude * 0.8)], ms)
}

/// A small seeded noise generator (xorshift), uniform in ±amplitude.
fn noise(len: usize, amplitude: f64, mut seed: u64) -> Vec<f64> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ((seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * amplitude
        })
        .collect()
}

fn pcm(signal: &[f64]) -> Vec<i16> {
    signal.iter().map(|x| x.clamp(-32768.0, 32767.0) as i16).collect()
}

fn heard(samples: &[i16]) -> String {
    let mut d = InbandDetector::new();
    // Feed in 20 ms frames, as RTP delivers them.
    samples
        .chunks(160)
        .flat_map(|f| d.push(f))
        .filter_map(|e| match e {
            InbandEvent::Start { key, .. } => Some(key.as_char()),
            InbandEvent::End { .. } => None,
        })
        .collect()
}

fn sequence(keys: &str, amplitude: f64, on_ms: usize, off_ms: usize) -> Vec<f64> {
    let mut s = Vec::new();
    for c in keys.chars() {
        s.extend(key(c, amplitude, on_ms));
        s.extend(vec![0.0; off_ms * 8]);
    }
    s
}

#[test]
fn every_key_is_heard() {
    let keys = "123A456B789C*0#D";
    assert_eq!(heard(&pcm(&sequence(keys, 6000.0, 100, 60))), keys);
}

#[test]
fn keys_are_heard_through_noise() {
    let clean = sequence("90210#", 5000.0, 80, 60);
    let noisy: Vec<f64> = clean.iter().zip(noise(clean.len(), 600.0, 42)).map(|(s, n)| s + n).collect();
    assert_eq!(heard(&pcm(&noisy)), "90210#");
}

#[test]
fn a_press_ends_when_the_tones_stop() {
    let mut d = InbandDetector::new();
    let events = d.push(&pcm(&sequence("5", 6000.0, 100, 100)));
    assert!(matches!(events.as_slice(), [InbandEvent::Start { .. }, InbandEvent::End { .. }]), "{events:?}");
    if let [InbandEvent::Start { at: start, .. }, InbandEvent::End { at: end, .. }] = events.as_slice() {
        let ms = (end - start) / 8;
        assert!((75..=130).contains(&ms), "heard for {ms} ms of a 100 ms press");
    }
}

#[test]
fn a_single_tone_is_not_a_key() {
    assert_eq!(heard(&pcm(&tone(&[(697.0, 8000.0)], 300))), "");
    assert_eq!(heard(&pcm(&tone(&[(1336.0, 8000.0)], 300))), "");
}

#[test]
fn speech_like_sound_is_not_a_key() {
    // A voice-like harmonic series on 140 Hz, with falling harmonics.
    let voice: Vec<(f64, f64)> = (1..25).map(|h| (140.0 * f64::from(h), 6000.0 / f64::from(h))).collect();
    assert_eq!(heard(&pcm(&tone(&voice, 1000))), "");
    assert_eq!(heard(&pcm(&noise(8000, 8000.0, 7))), "");
}

#[test]
fn a_press_too_short_is_not_a_key() {
    assert_eq!(heard(&pcm(&sequence("7", 6000.0, 30, 100))), "");
}

#[test]
fn too_much_twist_is_not_a_key() {
    // Column tone 12 dB below the row tone.
    let s = tone(&[(770.0, 8000.0), (1336.0, 2000.0)], 200);
    assert_eq!(heard(&pcm(&s)), "");
}

#[test]
fn key_tones_under_louder_other_sound_are_not_a_key() {
    // 697 + 1209 Hz ("1") under music twice as loud: the tones carry a fifth of the energy.
    let s = tone(&[(697.0, 3000.0), (1209.0, 2400.0), (300.0, 6000.0), (2200.0, 6000.0)], 300);
    assert_eq!(heard(&pcm(&s)), "");
    // The same tones alone are a key.
    assert_eq!(heard(&pcm(&tone(&[(697.0, 3000.0), (1209.0, 2400.0)], 300))), "1");
}
