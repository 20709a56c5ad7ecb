//! DTMF in the audio (ITU-T Q.23/Q.24), for phones that send tones instead of RFC 4733
//! events. Goertzel filters over blocks of 205 samples at 8 kHz (25.6 ms) measure the
//! eight DTMF frequencies; a block holds a key when one row and one column tone stand out
//! in their groups, their levels are within the allowed twist, and together they carry
//! most of the block's energy (speech and music spread theirs). A key starts after two
//! such blocks in a row (about 50 ms, Q.24 asks for 40) and ends after two without it.

use crate::Key;

const RATE: f32 = 8000.0;
const BLOCK: usize = 205;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];
/// A tone must reach about -30 dBm0 (amplitude 700 of 32767).
const MIN_AMPLITUDE: f32 = 700.0;
/// The strongest tone of a group must beat the others by 8 dB.
const GROUP_MARGIN: f32 = 6.3;
/// Row louder than column by at most 8 dB (normal twist), column louder by at most 4 dB.
const NORMAL_TWIST: f32 = 6.3;
const REVERSE_TWIST: f32 = 2.5;
/// Share of the block's energy the two tones must carry.
const TONE_SHARE: f32 = 0.7;

/// A key heard in the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InbandEvent {
    /// The key's tones began (at about this sample of the stream).
    Start {
        /// The key.
        key: Key,
        /// Sample index where the first block holding it began.
        at: u64,
    },
    /// The tones stopped.
    End {
        /// The key.
        key: Key,
        /// Sample index where the first block without it began.
        at: u64,
    },
}

/// In-band DTMF detector for one 8 kHz stream.
#[derive(Debug)]
pub struct InbandDetector {
    coeffs: [f32; 8],
    block: Vec<f32>,
    position: u64,
    candidate: Option<(Key, u64)>,
    candidate_blocks: u8,
    active: Option<Key>,
    misses: u8,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    /// A detector at the start of a stream.
    #[must_use]
    pub fn new() -> Self {
        let mut coeffs = [0.0; 8];
        for (c, f) in coeffs.iter_mut().zip(ROWS.iter().chain(COLS.iter())) {
            *c = 2.0 * (std::f32::consts::TAU * f / RATE).cos();
        }
        Self {
            coeffs,
            block: Vec::with_capacity(BLOCK),
            position: 0,
            candidate: None,
            candidate_blocks: 0,
            active: None,
            misses: 0,
        }
    }

    /// Feed samples (any count); returns the key events completed by them.
    pub fn push(&mut self, samples: &[i16]) -> Vec<InbandEvent> {
        let mut out = Vec::new();
        for &s in samples {
            self.block.push(f32::from(s));
            if self.block.len() == BLOCK {
                let start = self.position;
                let key = self.classify();
                self.block.clear();
                self.position += BLOCK as u64;
                self.step(key, start, &mut out);
            }
        }
        out
    }

    fn step(&mut self, key: Option<Key>, block_start: u64, out: &mut Vec<InbandEvent>) {
        if let Some(active) = self.active {
            if key == Some(active) {
                self.misses = 0;
                return;
            }
            self.misses += 1;
            if self.misses < 2 {
                return;
            }
            out.push(InbandEvent::End { key: active, at: block_start - BLOCK as u64 });
            self.active = None;
            self.misses = 0;
        }
        match (key, self.candidate) {
            (Some(k), Some((c, at))) if k == c => {
                self.candidate_blocks += 1;
                if self.candidate_blocks >= 2 {
                    out.push(InbandEvent::Start { key: k, at });
                    self.active = Some(k);
                    self.candidate = None;
                    self.candidate_blocks = 0;
                }
            }
            (Some(k), _) => {
                self.candidate = Some((k, block_start));
                self.candidate_blocks = 1;
            }
            (None, _) => {
                self.candidate = None;
                self.candidate_blocks = 0;
            }
        }
    }

    /// The key the current block holds, if any.
    fn classify(&self) -> Option<Key> {
        let mut power = [0.0f32; 8];
        for (p, &coeff) in power.iter_mut().zip(&self.coeffs) {
            let (mut s1, mut s2) = (0.0f32, 0.0f32);
            for &x in &self.block {
                let s = x + coeff * s1 - s2;
                s2 = s1;
                s1 = s;
            }
            *p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        }
        let energy: f32 = self.block.iter().map(|x| x * x).sum();
        let (rows, cols) = power.split_at(4);
        let strongest = |g: &[f32]| {
            let (i, &p) = g.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
            let others_ok = g.iter().enumerate().all(|(j, &q)| j == i || p >= q * GROUP_MARGIN);
            others_ok.then_some((i, p))
        };
        let (r, rp) = strongest(rows)?;
        let (c, cp) = strongest(cols)?;
        // A sine of amplitude A over N samples gives a Goertzel power of (A·N/2)².
        let min_power = (MIN_AMPLITUDE * BLOCK as f32 / 2.0).powi(2);
        if rp < min_power || cp < min_power {
            return None;
        }
        if rp > cp * NORMAL_TWIST || cp > rp * REVERSE_TWIST {
            return None;
        }
        // and carries energy A²·N/2: the tones' share of the block's energy.
        if (rp + cp) / (BLOCK as f32 / 2.0) < TONE_SHARE * energy {
            return None;
        }
        Key::from_char(KEYS[r][c])
    }
}
