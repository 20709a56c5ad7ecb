//! Prompts: WAV files of any rate and channel count, turned once at load into 8 kHz mono
//! samples shared by every call (an `Arc`), then cut into 20 ms frames as the media clock
//! asks. Resampling is rubato's FFT resampler (band-limited, no aliasing).

use std::collections::VecDeque;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use rubato::Resampler;

use crate::tone::FRAME_SAMPLES;

/// A prompt that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// Not a WAV file svar reads.
    #[error("not a readable WAV file: {0}")]
    Wav(String),
    /// A sample format other than 8/16/24/32-bit integer or 32-bit float.
    #[error("unsupported WAV format: {0}")]
    Format(String),
    /// Resampling failed.
    #[error("resampling failed: {0}")]
    Resample(String),
    /// No sound at all.
    #[error("the prompt is empty")]
    Empty,
}

/// One prompt in memory: 8 kHz mono 16-bit.
#[derive(Debug, Clone)]
pub struct Prompt {
    samples: Arc<[i16]>,
}

impl Prompt {
    /// Samples already at 8 kHz mono.
    #[must_use]
    pub fn from_samples(samples: Vec<i16>) -> Self {
        Self { samples: samples.into() }
    }

    /// Read a WAV file's bytes: mixed to mono, resampled to 8 kHz.
    ///
    /// # Errors
    /// Not WAV, an unsupported format, or empty.
    pub fn from_wav(bytes: &[u8]) -> Result<Self, PromptError> {
        let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| PromptError::Wav(e.to_string()))?;
        let spec = reader.spec();
        let channels = usize::from(spec.channels.max(1));
        let raw: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, 32) => {
                reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(|e| PromptError::Wav(e.to_string()))?
            }
            (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
                let scale = 1.0 / (1u64 << (bits - 1)) as f32;
                reader
                    .into_samples::<i32>()
                    .map(|s| s.map(|v| v as f32 * scale))
                    .collect::<Result<_, _>>()
                    .map_err(|e| PromptError::Wav(e.to_string()))?
            }
            (format, bits) => return Err(PromptError::Format(format!("{format:?} {bits}-bit"))),
        };
        let mono: Vec<f32> = raw.chunks(channels).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect();
        if mono.is_empty() {
            return Err(PromptError::Empty);
        }
        let at_8k = if spec.sample_rate == 8000 { mono } else { resample(&mono, spec.sample_rate as usize)? };
        Ok(Self::from_samples(at_8k.iter().map(|s| (s * 32767.0).clamp(-32768.0, 32767.0) as i16).collect()))
    }

    /// How long it plays.
    #[must_use]
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 125)
    }

    /// The samples.
    #[must_use]
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }
}

fn resample(input: &[f32], rate: usize) -> Result<Vec<f32>, PromptError> {
    let err = |e: &dyn std::fmt::Display| PromptError::Resample(e.to_string());
    let mut r = rubato::Fft::<f32>::new(rate, 8000, 1024, 1, rubato::FixedSync::Input).map_err(|e| err(&e))?;
    let data = vec![input.to_vec()];
    let adapter =
        rubato::audioadapter_buffers::direct::SequentialSliceOfVecs::new(&data, 1, input.len()).map_err(|e| err(&e))?;
    let out = r.process_all(&adapter, input.len(), None).map_err(|e| err(&e))?;
    Ok(out.take_data())
}

/// Plays a sequence of prompts as 20 ms frames; a key can stop it (barge-in).
#[derive(Debug, Default)]
pub struct Player {
    queue: VecDeque<Prompt>,
    position: usize,
    looping: Option<Prompt>,
}

impl Player {
    /// Play these prompts one after another.
    #[must_use]
    pub fn sequence(prompts: Vec<Prompt>) -> Self {
        Self { queue: prompts.into(), position: 0, looping: None }
    }

    /// Play one prompt over and over (music on hold).
    #[must_use]
    pub fn looping(prompt: Prompt) -> Self {
        Self { queue: VecDeque::from([prompt.clone()]), position: 0, looping: Some(prompt) }
    }

    /// Stop now (a key was pressed, or the caller was answered).
    pub fn stop(&mut self) {
        self.queue.clear();
        self.looping = None;
    }

    /// Whether everything has been played.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next 20 ms; the last frame of a sequence is padded with silence. `None` when
    /// done.
    pub fn next_frame(&mut self) -> Option<[i16; FRAME_SAMPLES]> {
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut filled = 0;
        while filled < FRAME_SAMPLES {
            let Some(current) = self.queue.front() else { break };
            let samples = current.samples();
            let take = (samples.len() - self.position).min(FRAME_SAMPLES - filled);
            frame[filled..filled + take].copy_from_slice(&samples[self.position..self.position + take]);
            filled += take;
            self.position += take;
            if self.position >= samples.len() {
                self.queue.pop_front();
                self.position = 0;
                if self.queue.is_empty()
                    && let Some(again) = &self.looping
                {
                    self.queue.push_back(again.clone());
                }
            }
        }
        (filled > 0).then_some(frame)
    }
}
