//! Prompts load once from WAV of any rate into 8 kHz mono, keep their pitch and length,
//! and play as 20 ms frames with barge-in and looping.

use std::io::Cursor;

use media::prompt::{Player, Prompt, PromptError};

fn wav(rate: u32, channels: u16, seconds: f64, freq: f64) -> Vec<u8> {
    let spec =
        hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).expect("writer");
        for n in 0..(f64::from(rate) * seconds) as usize {
            let v = (12_000.0 * (std::f64::consts::TAU * freq * n as f64 / f64::from(rate)).sin()) as i16;
            for _ in 0..channels {
                w.write_sample(v).expect("sample");
            }
        }
        w.finalize().expect("finalize");
    }
    buf.into_inner()
}

fn crossings(s: &[i16]) -> usize {
    s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count()
}

#[test]
fn a_prompt_of_any_rate_becomes_8_khz_with_its_pitch_and_length() {
    for (rate, channels) in [(8000, 1), (16_000, 1), (22_050, 1), (44_100, 2), (48_000, 2)] {
        let p = Prompt::from_wav(&wav(rate, channels, 1.0, 440.0)).expect("loads");
        let n = p.samples().len();
        assert!((7900..=8100).contains(&n), "{rate} Hz x{channels}: {n} samples for 1 s");
        // 440 Hz: 880 zero crossings per second (allow the resampler's edges).
        let c = crossings(&p.samples()[400..7600]);
        let expected = 880.0 * 7200.0 / 8000.0;
        assert!((f64::from(c as u32) - expected).abs() < 8.0, "{rate} Hz: {c} crossings, expected about {expected}");
        let peak = p.samples()[400..7600].iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((11_000..=13_000).contains(&peak), "{rate} Hz: level kept, peak {peak}");
    }
}

#[test]
fn not_a_wav_is_a_clear_error() {
    assert!(matches!(Prompt::from_wav(b"RIFF nonsense"), Err(PromptError::Wav(_))));
}

#[test]
fn a_sequence_plays_in_20_ms_frames_and_pads_the_last() {
    let a = Prompt::from_samples(vec![1; 400]);
    let b = Prompt::from_samples(vec![2; 100]);
    let mut player = Player::sequence(vec![a, b]);
    let frames: Vec<[i16; 160]> = std::iter::from_fn(|| player.next_frame()).collect();
    assert_eq!(frames.len(), 4, "500 samples in 160-sample frames");
    assert_eq!(frames[2][..80], [1; 80]);
    assert_eq!(frames[2][80..], [2; 80], "the next prompt follows without a gap");
    assert_eq!(frames[3][..20], [2; 20]);
    assert_eq!(frames[3][20..], [0; 140], "silence pads the last frame");
    assert!(player.is_done());
}

#[test]
fn a_key_stops_the_prompt_at_once() {
    let mut player = Player::sequence(vec![Prompt::from_samples(vec![5; 8000])]);
    assert!(player.next_frame().is_some());
    player.stop();
    assert!(player.next_frame().is_none());
}

#[test]
fn music_on_hold_loops() {
    let mut player = Player::looping(Prompt::from_samples(vec![7; 100]));
    for _ in 0..1000 {
        assert_eq!(player.next_frame(), Some([7; 160]));
    }
    player.stop();
    assert_eq!(player.next_frame(), None);
}
