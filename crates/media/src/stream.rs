//! One outgoing RTP stream per leg. A phone sees one SSRC and sequence numbers and
//! timestamps that run on, whatever svar is sending it: a prompt it plays itself, the
//! other party's audio it relays, music on hold. RFC 3550 §5.1: sequence numbers
//! increment by one per packet and timestamps follow the sampling clock; RFC 3551 §4.1:
//! the marker bit flags the first packet after a break (here, each change of source).
//!
//! Within one relayed source, its own gaps and reordering are kept (the receiver's
//! jitter buffer and loss statistics need them); at a change of source the stream goes
//! on from the last packet sent, with the timestamp advanced by the media time elapsed.

/// Header fields for one outgoing packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// SSRC (the leg's, always the same).
    pub ssrc: u32,
    /// First packet after a change of source.
    pub marker: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Own { start_clock: u64, start_ts: u32 },
    Relay { ssrc: u32, seq_offset: u16, ts_offset: u32 },
}

/// `a` is after `b` in 16-bit sequence space.
fn seq_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// The outgoing stream of one leg.
#[derive(Debug)]
pub struct OutStream {
    ssrc: u32,
    /// Highest sequence number sent.
    last_seq: u16,
    /// Timestamp and media clock (samples) of the packet that carried `last_seq`.
    last_ts: u32,
    last_clock: u64,
    source: Option<Source>,
}

impl OutStream {
    /// A stream with the leg's SSRC and random first sequence number and timestamp
    /// (RFC 3550 §5.1 wants both random; the driver's seeded RNG gives them).
    #[must_use]
    pub fn new(ssrc: u32, first_seq: u16, first_ts: u32) -> Self {
        Self { ssrc, last_seq: first_seq.wrapping_sub(1), last_ts: first_ts, last_clock: 0, source: None }
    }

    /// The leg's SSRC.
    #[must_use]
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The timestamp the stream is at for media clock `clock` (samples since the call
    /// began), continuing from the last packet.
    fn continued_ts(&self, clock: u64) -> u32 {
        self.last_ts.wrapping_add(clock.saturating_sub(self.last_clock) as u32)
    }

    fn sent(&mut self, seq: u16, ts: u32, clock: u64) {
        if seq_after(seq, self.last_seq) {
            self.last_seq = seq;
            self.last_ts = ts;
            self.last_clock = clock;
        }
    }

    /// A frame svar made itself (prompt, tone, music), taken at media clock `clock`.
    pub fn own(&mut self, clock: u64) -> Header {
        let (marker, start_clock, start_ts) = match self.source {
            Some(Source::Own { start_clock, start_ts }) => (false, start_clock, start_ts),
            _ => {
                let start_ts = if self.source.is_none() { self.last_ts } else { self.continued_ts(clock) };
                self.source = Some(Source::Own { start_clock: clock, start_ts });
                (true, clock, start_ts)
            }
        };
        let seq = self.last_seq.wrapping_add(1);
        let ts = start_ts.wrapping_add(clock.saturating_sub(start_clock) as u32);
        self.sent(seq, ts, clock);
        Header { seq, timestamp: ts, ssrc: self.ssrc, marker }
    }

    /// A packet relayed from the other party (their SSRC, sequence number, timestamp),
    /// arriving at media clock `clock`.
    pub fn relay(&mut self, clock: u64, in_ssrc: u32, in_seq: u16, in_ts: u32) -> Header {
        let (marker, seq_offset, ts_offset) = match self.source {
            Some(Source::Relay { ssrc, seq_offset, ts_offset }) if ssrc == in_ssrc => (false, seq_offset, ts_offset),
            previous => {
                let next_seq = self.last_seq.wrapping_add(1);
                let ts = if previous.is_none() { self.last_ts } else { self.continued_ts(clock) };
                let seq_offset = next_seq.wrapping_sub(in_seq);
                let ts_offset = ts.wrapping_sub(in_ts);
                self.source = Some(Source::Relay { ssrc: in_ssrc, seq_offset, ts_offset });
                (true, seq_offset, ts_offset)
            }
        };
        let seq = in_seq.wrapping_add(seq_offset);
        let ts = in_ts.wrapping_add(ts_offset);
        self.sent(seq, ts, clock);
        Header { seq, timestamp: ts, ssrc: self.ssrc, marker }
    }
}
