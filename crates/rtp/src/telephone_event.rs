//! RFC 4733 telephone events: the 4-byte payload, and a detector that turns the packets
//! of one stream into key presses.
//!
//! RFC 4733 §2.5: all packets of one event carry the event's start timestamp; the
//! duration grows; the last packets carry the E bit and are sent three times. Packets
//! may be duplicated, reordered or lost. The detector reports each key once when it
//! starts and once when it ends, and ends a key whose end packets were all lost when the
//! next key starts (or when the driver calls [`Detector::flush`] after a silence).

use crate::Key;

/// The payload of one telephone-event packet (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    /// Event code (0–15 DTMF, 16 flash, others not keys).
    pub event: u8,
    /// End of the event.
    pub end: bool,
    /// Volume, 0 to -63 dBm0 as 0–63.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

/// A payload that is not a telephone event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a telephone-event payload has 4 bytes, this one {0}")]
pub struct PayloadError(pub usize);

impl Payload {
    /// Parse the first 4 bytes (RFC 4733 allows several events in one packet by
    /// redundancy; svar reads the first, which is the newest).
    ///
    /// # Errors
    /// Fewer than 4 bytes.
    pub fn parse(data: &[u8]) -> Result<Self, PayloadError> {
        let [event, flags, d0, d1, ..] = *data else { return Err(PayloadError(data.len())) };
        Ok(Self { event, end: flags & 0x80 != 0, volume: flags & 0x3F, duration: u16::from_be_bytes([d0, d1]) })
    }

    /// The 4 bytes.
    #[must_use]
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3F), d[0], d[1]]
    }
}

/// What the detector saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    /// A key went down.
    Start {
        /// The key.
        key: Key,
        /// The event's RTP timestamp.
        timestamp: u32,
    },
    /// The key came up (or its end was lost and a new key or silence followed).
    End {
        /// The key.
        key: Key,
        /// The event's RTP timestamp.
        timestamp: u32,
        /// Its length in timestamp units (8 per ms at 8 kHz).
        duration: u16,
    },
}

#[derive(Debug, Clone, Copy)]
struct Current {
    key: Key,
    timestamp: u32,
    duration: u16,
    ended: bool,
}

/// Turns telephone-event packets into key presses for one RTP stream.
#[derive(Debug, Default)]
pub struct Detector {
    current: Option<Current>,
}

/// `a` is later than `b` in RTP timestamp order (RFC 3550 wrap-around arithmetic).
fn later(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

impl Detector {
    /// A detector with nothing seen.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// One received packet of the telephone-event payload type: its RTP timestamp and
    /// payload. Returns up to two events (an unfinished key's end, then a new start).
    pub fn packet(&mut self, timestamp: u32, payload: Payload) -> Vec<KeyEvent> {
        let mut out = Vec::new();
        let Some(key) = Key::from_event(payload.event) else { return out };
        match &mut self.current {
            Some(c) if c.timestamp == timestamp => {
                // The same event: a longer duration, a duplicate or the (triple) end.
                c.duration = c.duration.max(payload.duration);
                if payload.end && !c.ended {
                    c.ended = true;
                    out.push(KeyEvent::End { key: c.key, timestamp, duration: c.duration });
                }
                return out;
            }
            Some(c) if !later(timestamp, c.timestamp) => return out, // late packet of an old event
            Some(c) if !c.ended => {
                // The previous key's end packets were all lost.
                out.push(KeyEvent::End { key: c.key, timestamp: c.timestamp, duration: c.duration });
            }
            _ => {}
        }
        out.push(KeyEvent::Start { key, timestamp });
        self.current = Some(Current { key, timestamp, duration: payload.duration, ended: payload.end });
        if payload.end {
            // A press so short that its first packet is already an end packet.
            out.push(KeyEvent::End { key, timestamp, duration: payload.duration });
        }
        out
    }

    /// No telephone events for a while (the driver decides how long): end a key whose
    /// end packets were lost.
    pub fn flush(&mut self) -> Option<KeyEvent> {
        let c = self.current.as_mut()?;
        if c.ended {
            return None;
        }
        c.ended = true;
        Some(KeyEvent::End { key: c.key, timestamp: c.timestamp, duration: c.duration })
    }
}
