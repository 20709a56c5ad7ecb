//! Tones svar plays itself. The Danish ringback tone (Teleindustrien's national tone
//! plan, as in ITU-T E.180 for Denmark): 425 Hz, 1 s on, 4 s off.

/// One 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// A cadenced sine tone as 20 ms frames of 16-bit samples.
#[derive(Debug, Clone)]
pub struct Cadence {
    frequency: f64,
    amplitude: f64,
    on_samples: u64,
    period_samples: u64,
    position: u64,
}

impl Cadence {
    /// The Danish ringback: 425 Hz, 1 s on, 4 s off, at about -13 dBm0.
    #[must_use]
    pub fn danish_ringback() -> Self {
        Self { frequency: 425.0, amplitude: 7000.0, on_samples: 8000, period_samples: 40_000, position: 0 }
    }

    /// The next 20 ms.
    pub fn next_frame(&mut self) -> [i16; FRAME_SAMPLES] {
        let mut frame = [0i16; FRAME_SAMPLES];
        for s in &mut frame {
            let in_period = self.position % self.period_samples;
            if in_period < self.on_samples {
                let t = self.position as f64 / 8000.0;
                *s = (self.amplitude * (std::f64::consts::TAU * self.frequency * t).sin()) as i16;
            }
            self.position += 1;
        }
        frame
    }

    /// The next 20 ms as µ-law (payload type 0).
    pub fn next_ulaw(&mut self) -> [u8; FRAME_SAMPLES] {
        self.next_frame().map(rtp::g711::ulaw_encode)
    }

    /// The next 20 ms as A-law (payload type 8).
    pub fn next_alaw(&mut self) -> [u8; FRAME_SAMPLES] {
        self.next_frame().map(rtp::g711::alaw_encode)
    }
}
