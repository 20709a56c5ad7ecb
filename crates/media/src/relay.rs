//! The anchored media of one call, sans-IO: two legs, each with its own port, remote
//! address, codec and payload types. Audio from one leg goes to the other (transcoded
//! when their codecs differ), or a leg hears what svar plays it (prompts, music on hold,
//! ringback); keys are detected from RFC 4733 packets and relayed with the other leg's
//! payload type; a leg that stops sending is reported after the media timeout.
//!
//! Symmetric RTP (RFC 4961) with latching: a phone behind NAT sends from an address its
//! SDP does not name, so svar sends to where a leg's packets come from. It latches on
//! the first packet, and again only when the latched source has been silent for a second
//! (a NAT rebinding), so a stray sender cannot take over a live stream.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtp::Key;
use rtp::telephone_event::{Detector, KeyEvent, Payload};
use rtp_types::{RtpPacket, RtpPacketBuilder};
use sdp::Codec;

use crate::prompt::Player;
use crate::stream::OutStream;
use crate::tone::FRAME_SAMPLES;

/// Which leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The caller's side.
    A,
    /// The callee's side.
    B,
}

impl Leg {
    fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::A => 0,
            Self::B => 1,
        }
    }
}

/// A leg as negotiated.
#[derive(Debug, Clone)]
pub struct LegConfig {
    /// Where the SDP said to send (may be replaced by latching).
    pub remote: Option<SocketAddr>,
    /// The leg's codec and its payload type.
    pub codec: Codec,
    /// Its payload type.
    pub payload_type: u8,
    /// telephone-event's payload type on this leg.
    pub dtmf_payload_type: Option<u8>,
    /// svar's SSRC towards this leg, and random first sequence number and timestamp.
    pub ssrc: u32,
    /// First sequence number.
    pub first_seq: u16,
    /// First timestamp.
    pub first_ts: u32,
}

/// What a leg hears.
#[derive(Debug)]
pub enum Feed {
    /// The other leg.
    Bridged,
    /// svar's own audio.
    Playing(Player),
    /// Nothing (before answer, or on hold without music).
    Silence,
}

/// What the bridge asks the driver to do or tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a datagram from the leg's port.
    Send {
        /// From which leg's port.
        leg: Leg,
        /// To.
        to: SocketAddr,
        /// The RTP packet.
        data: Vec<u8>,
    },
    /// A key pressed on a leg.
    Key {
        /// The leg.
        leg: Leg,
        /// The key event.
        event: KeyEvent,
    },
    /// A leg's remote address changed by latching.
    Latched {
        /// The leg.
        leg: Leg,
        /// Its new address.
        to: SocketAddr,
    },
    /// A leg has sent nothing for the media timeout.
    MediaTimeout {
        /// The leg.
        leg: Leg,
    },
    /// The prompt a leg was hearing has finished.
    PlaybackDone {
        /// The leg.
        leg: Leg,
    },
}

#[derive(Debug)]
struct LegState {
    cfg: LegConfig,
    out: OutStream,
    feed: Feed,
    detector: Detector,
    last_heard: Option<Instant>,
    timed_out: bool,
    dropped: u64,
}

/// One call's media.
#[derive(Debug)]
pub struct Bridge {
    legs: [LegState; 2],
    start: Instant,
    timeout: Duration,
    next_frame: Instant,
    outputs: Vec<Output>,
}

/// 20 ms.
const FRAME: Duration = Duration::from_millis(20);

impl Bridge {
    /// A bridge whose legs both start in silence.
    #[must_use]
    pub fn new(a: LegConfig, b: LegConfig, media_timeout: Duration, now: Instant) -> Self {
        let leg = |cfg: LegConfig| LegState {
            out: OutStream::new(cfg.ssrc, cfg.first_seq, cfg.first_ts),
            cfg,
            feed: Feed::Silence,
            detector: Detector::new(),
            last_heard: None,
            timed_out: false,
            dropped: 0,
        };
        Self {
            legs: [leg(a), leg(b)],
            start: now,
            timeout: media_timeout,
            next_frame: now + FRAME,
            outputs: Vec::new(),
        }
    }

    /// Set what a leg hears.
    pub fn set_feed(&mut self, leg: Leg, feed: Feed) {
        self.legs[leg.index()].feed = feed;
    }

    /// Packets not relayed (unknown payload type, unparsable).
    #[must_use]
    pub fn dropped(&self, leg: Leg) -> u64 {
        self.legs[leg.index()].dropped
    }

    /// Where a leg's packets go now.
    #[must_use]
    pub fn remote(&self, leg: Leg) -> Option<SocketAddr> {
        self.legs[leg.index()].cfg.remote
    }

    /// Take what the last inputs produced.
    pub fn drain(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// When to call [`Bridge::tick`] next (the 20 ms frame clock).
    #[must_use]
    pub fn next_tick(&self) -> Instant {
        self.next_frame
    }

    fn clock(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_micros() / 125) as u64
    }

    /// A datagram arrived on a leg's port.
    pub fn packet(&mut self, leg: Leg, from: SocketAddr, data: &[u8], now: Instant) {
        let Ok(pkt) = RtpPacket::parse(data) else {
            self.legs[leg.index()].dropped += 1;
            return;
        };
        let clock = self.clock(now);
        let me = &mut self.legs[leg.index()];
        // Latching: the first packet, or a new source after a second of silence.
        let silent = me.last_heard.is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        if me.cfg.remote != Some(from) && silent {
            me.cfg.remote = Some(from);
            self.outputs.push(Output::Latched { leg, to: from });
        } else if me.cfg.remote != Some(from) {
            me.dropped += 1;
            return;
        }
        me.last_heard = Some(now);
        me.timed_out = false;
        let pt = pkt.payload_type();
        if Some(pt) == me.cfg.dtmf_payload_type {
            if let Ok(p) = Payload::parse(pkt.payload()) {
                for event in me.detector.packet(pkt.timestamp(), p) {
                    self.outputs.push(Output::Key { leg, event });
                }
            }
            let other = &mut self.legs[leg.other().index()];
            if let (Feed::Bridged, Some(to), Some(out_pt)) =
                (&other.feed, other.cfg.remote, other.cfg.dtmf_payload_type)
            {
                let h = other.out.relay(clock, pkt.ssrc(), pkt.sequence_number(), pkt.timestamp());
                let data = build(out_pt, h, pkt.payload());
                self.outputs.push(Output::Send { leg: leg.other(), to, data });
            }
            return;
        }
        if pt != me.cfg.payload_type {
            me.dropped += 1;
            return;
        }
        let from_codec = me.cfg.codec;
        let other = &mut self.legs[leg.other().index()];
        let (Feed::Bridged, Some(to)) = (&other.feed, other.cfg.remote) else { return };
        let mut payload = pkt.payload().to_vec();
        match (from_codec, other.cfg.codec) {
            (Codec::Pcmu, Codec::Pcma) => rtp::g711::ulaw_to_alaw(&mut payload),
            (Codec::Pcma, Codec::Pcmu) => rtp::g711::alaw_to_ulaw(&mut payload),
            _ => {}
        }
        let h = other.out.relay(clock, pkt.ssrc(), pkt.sequence_number(), pkt.timestamp());
        let data = build(other.cfg.payload_type, h, &payload);
        self.outputs.push(Output::Send { leg: leg.other(), to, data });
    }

    /// The frame clock: play svar's own audio to legs that hear it, and notice legs that
    /// went silent.
    pub fn tick(&mut self, now: Instant) {
        while self.next_frame <= now {
            let at = self.next_frame;
            let clock = self.clock(at);
            for leg in [Leg::A, Leg::B] {
                let state = &mut self.legs[leg.index()];
                let Feed::Playing(player) = &mut state.feed else { continue };
                match player.next_frame() {
                    Some(frame) => {
                        if let Some(to) = state.cfg.remote {
                            let payload = encode(state.cfg.codec, &frame);
                            let h = state.out.own(clock);
                            let data = build(state.cfg.payload_type, h, &payload);
                            self.outputs.push(Output::Send { leg, to, data });
                        }
                    }
                    None => {
                        state.feed = Feed::Silence;
                        self.outputs.push(Output::PlaybackDone { leg });
                    }
                }
            }
            self.next_frame += FRAME;
        }
        for leg in [Leg::A, Leg::B] {
            let state = &mut self.legs[leg.index()];
            let since = state.last_heard.unwrap_or(self.start);
            if !state.timed_out && now.saturating_duration_since(since) >= self.timeout {
                state.timed_out = true;
                self.outputs.push(Output::MediaTimeout { leg });
            }
        }
    }

    /// End a key on a leg whose end packets were lost (after a quiet spell).
    pub fn flush_keys(&mut self, leg: Leg) {
        if let Some(event) = self.legs[leg.index()].detector.flush() {
            self.outputs.push(Output::Key { leg, event });
        }
    }
}

fn encode(codec: Codec, frame: &[i16; FRAME_SAMPLES]) -> [u8; FRAME_SAMPLES] {
    match codec {
        Codec::Pcmu => frame.map(rtp::g711::ulaw_encode),
        Codec::Pcma => frame.map(rtp::g711::alaw_encode),
    }
}

fn build(pt: u8, h: crate::stream::Header, payload: &[u8]) -> Vec<u8> {
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(pt)
        .sequence_number(h.seq)
        .timestamp(h.timestamp)
        .ssrc(h.ssrc)
        .marker_bit(h.marker)
        .payload(payload)
        .write_vec_unchecked()
}

/// A key as a telephone-event payload, for tests and for sending keys svar generates.
#[must_use]
pub fn key_payload(key: Key, end: bool, duration: u16) -> [u8; 4] {
    Payload { event: key.event_code(), end, volume: 10, duration }.to_bytes()
}
