//! Recording a caller's message: 20 ms frames in, a WAV file's bytes out (8 kHz mono
//! 16-bit), ending at the maximum length, on `#`, or after a stretch of silence (which
//! is trimmed off). Where the bytes are stored and the record in the store are the
//! driver's business; consent for recording a conversation is call control's.

use std::io::Cursor;
use std::time::Duration;

use crate::tone::FRAME_SAMPLES;

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The caller pressed `#`.
    Key,
    /// The caller stopped speaking.
    Silence,
    /// The maximum length was reached.
    MaxLength,
    /// The caller hung up (or the call ended otherwise).
    Hangup,
}

/// Limits of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLimits {
    /// Longest message.
    pub max_length: Duration,
    /// Silence that ends it.
    pub silence: Duration,
    /// A frame is silent when its RMS is below this (16-bit scale).
    pub silence_rms: u16,
}

impl Default for RecordLimits {
    /// Two minutes; five seconds of silence below about -45 dBFS.
    fn default() -> Self {
        Self { max_length: Duration::from_secs(120), silence: Duration::from_secs(5), silence_rms: 180 }
    }
}

/// A message being recorded.
#[derive(Debug)]
pub struct Recorder {
    limits: RecordLimits,
    samples: Vec<i16>,
    silent_frames: usize,
    ended: Option<Ended>,
}

fn frames_of(d: Duration) -> usize {
    (d.as_millis() / 20) as usize
}

impl Recorder {
    /// Start recording.
    #[must_use]
    pub fn new(limits: RecordLimits) -> Self {
        Self { limits, samples: Vec::new(), silent_frames: 0, ended: None }
    }

    /// Why it ended, once it has.
    #[must_use]
    pub fn ended(&self) -> Option<Ended> {
        self.ended
    }

    /// Add 20 ms of the caller's audio; returns why the recording ended, if it just did.
    pub fn frame(&mut self, frame: &[i16; FRAME_SAMPLES]) -> Option<Ended> {
        if self.ended.is_some() {
            return None;
        }
        let energy: f64 = frame.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / FRAME_SAMPLES as f64;
        let silent = energy.sqrt() < f64::from(self.limits.silence_rms);
        self.samples.extend_from_slice(frame);
        self.silent_frames = if silent { self.silent_frames + 1 } else { 0 };
        let ended = if self.silent_frames >= frames_of(self.limits.silence) {
            Some(Ended::Silence)
        } else if self.samples.len() >= frames_of(self.limits.max_length) * FRAME_SAMPLES {
            Some(Ended::MaxLength)
        } else {
            None
        };
        self.ended = ended;
        ended
    }

    /// A key was pressed: `#` ends the message.
    pub fn key(&mut self, key: rtp::Key) -> Option<Ended> {
        if self.ended.is_none() && key.as_char() == '#' {
            self.ended = Some(Ended::Key);
            return self.ended;
        }
        None
    }

    /// The call ended.
    pub fn hangup(&mut self) {
        self.ended.get_or_insert(Ended::Hangup);
    }

    /// The message's length, trailing silence excluded.
    #[must_use]
    pub fn length(&self) -> Duration {
        Duration::from_micros(self.kept() as u64 * 125)
    }

    fn kept(&self) -> usize {
        self.samples.len() - self.silent_frames * FRAME_SAMPLES
    }

    /// The message as a WAV file, trailing silence trimmed.
    ///
    /// # Errors
    /// Never in practice (writing to memory).
    pub fn wav(&self) -> Result<Vec<u8>, hound::Error> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut out, spec)?;
            for s in &self.samples[..self.kept()] {
                w.write_sample(*s)?;
            }
            w.finalize()?;
        }
        Ok(out.into_inner())
    }
}
