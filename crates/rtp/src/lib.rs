//! Media primitives for svar's media engine (issue 3), all pure and allocation-free on
//! the per-packet path:
//!
//! - [`g711`]: µ-law and A-law (ITU-T G.711) by table, and transcoding between them;
//! - [`telephone_event`]: RFC 4733 DTMF events in RTP, and a detector that turns the
//!   packets of a call (duplicates, the triple end packet, reordering, lost ends) into
//!   one start and one end per key press;
//! - [`inband`]: DTMF in the audio itself (Goertzel filters) for phones that send tones.
//!
//! Not here: sockets, timers or SDP. RTP packet framing, the relay and playback come in
//! the media engine that uses these.

pub mod dtmf_relay;
pub mod g711;
pub mod inband;
pub mod telephone_event;

/// A DTMF key: 0–9, `*`, `#`, A–D, or flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(char);

impl Key {
    /// The key for an RFC 4733 event code (0–16).
    #[must_use]
    pub fn from_event(code: u8) -> Option<Self> {
        let c = match code {
            0..=9 => char::from(b'0' + code),
            10 => '*',
            11 => '#',
            12..=15 => char::from(b'A' + code - 12),
            16 => '!',
            _ => return None,
        };
        Some(Self(c))
    }

    /// The key for a character (`0`–`9`, `*`, `#`, `A`–`D`, `!` for flash).
    #[must_use]
    pub fn from_char(c: char) -> Option<Self> {
        matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | '!').then_some(Self(c))
    }

    /// Its RFC 4733 event code.
    #[must_use]
    pub fn event_code(self) -> u8 {
        match self.0 {
            '*' => 10,
            '#' => 11,
            '!' => 16,
            c @ 'A'..='D' => 12 + (c as u8 - b'A'),
            c => c as u8 - b'0',
        }
    }

    /// The character.
    #[must_use]
    pub fn as_char(self) -> char {
        self.0
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
