//! A recorded message of a known tone has the expected length and frequency; it ends on
//! `#`, after silence (trimmed) and at the maximum length.

use std::io::Cursor;
use std::time::Duration;

use media::record::{Ended, RecordLimits, Recorder};

fn tone(frames: usize, freq: f64) -> Vec<[i16; 160]> {
    (0..frames)
        .map(|f| {
            std::array::from_fn(|i| {
                (9000.0 * (std::f64::consts::TAU * freq * (f * 160 + i) as f64 / 8000.0).sin()) as i16
            })
        })
        .collect()
}

fn read(wav: &[u8]) -> Vec<i16> {
    let r = hound::WavReader::new(Cursor::new(wav)).expect("WAV");
    assert_eq!((r.spec().sample_rate, r.spec().channels, r.spec().bits_per_sample), (8000, 1, 16));
    r.into_samples::<i16>().map(|s| s.expect("sample")).collect()
}

#[test]
fn a_message_of_a_tone_has_its_length_and_frequency_and_silence_ends_it() {
    let mut rec = Recorder::new(RecordLimits::default());
    for f in tone(150, 600.0) {
        assert_eq!(rec.frame(&f), None);
    }
    let quiet = [0i16; 160];
    let mut ended = None;
    for _ in 0..300 {
        if let Some(e) = rec.frame(&quiet) {
            ended = Some(e);
            break;
        }
    }
    assert_eq!(ended, Some(Ended::Silence));
    assert_eq!(rec.length(), Duration::from_secs(3), "3 s of tone, the 5 s of silence trimmed");
    let samples = read(&rec.wav().expect("wav"));
    assert_eq!(samples.len(), 24_000);
    let crossings = samples.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    assert!((3590..=3610).contains(&crossings), "600 Hz for 3 s: {crossings} crossings");
}

#[test]
fn hash_ends_the_message() {
    let mut rec = Recorder::new(RecordLimits::default());
    for f in tone(50, 440.0) {
        rec.frame(&f);
    }
    assert_eq!(rec.key(rtp::Key::from_char('5').expect("key")), None, "other keys do not end it");
    assert_eq!(rec.key(rtp::Key::from_char('#').expect("key")), Some(Ended::Key));
    assert_eq!(rec.length(), Duration::from_secs(1));
    assert_eq!(rec.frame(&tone(1, 440.0)[0]), None, "nothing recorded after the end");
    assert_eq!(rec.length(), Duration::from_secs(1));
}

#[test]
fn the_maximum_length_ends_the_message() {
    let limits = RecordLimits { max_length: Duration::from_secs(2), ..RecordLimits::default() };
    let mut rec = Recorder::new(limits);
    let ends: Vec<Ended> = tone(200, 440.0).iter().filter_map(|f| rec.frame(f)).collect();
    assert_eq!(ends, vec![Ended::MaxLength]);
    assert_eq!(rec.length(), Duration::from_secs(2));
}

#[test]
fn a_hang_up_keeps_what_was_said() {
    let mut rec = Recorder::new(RecordLimits::default());
    for f in tone(25, 440.0) {
        rec.frame(&f);
    }
    rec.hangup();
    assert_eq!(rec.ended(), Some(Ended::Hangup));
    assert_eq!(read(&rec.wav().expect("wav")).len(), 4000);
}
