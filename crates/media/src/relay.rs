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
use rtp::inband::{InbandDetector, InbandEvent};
use rtp::telephone_event::{Detector, KeyEvent, Payload};
use rtp_types::{RtpPacket, RtpPacketBuilder};
use sdp::Codec;

use crate::prompt::Player;
use crate::record::{Ended, RecordLimits, Recorder};
use crate::rtcp::{self, ReceiveStats, RemoteQuality, SendStats};
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

/// A leg's stream as (re)negotiated: call control sends one each time an offer/answer
/// exchange on the leg completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegStream {
    /// Where the leg's SDP says to send (`None`: not known yet).
    pub remote: Option<SocketAddr>,
    /// The codec agreed.
    pub codec: Codec,
    /// Its payload type on this leg.
    pub payload_type: u8,
    /// telephone-event's payload type on this leg.
    pub dtmf_payload_type: Option<u8>,
    /// The leg is expected to send RTP (answered, and not on hold): silence from it for
    /// the media timeout ends the call.
    pub watch: bool,
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
    /// Send an RTCP datagram from the leg's RTCP port (its RTP port + 1).
    SendRtcp {
        /// From which leg's RTCP port.
        leg: Leg,
        /// To.
        to: SocketAddr,
        /// The compound RTCP packet.
        data: Vec<u8>,
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
    /// The recording of a whole conversation is complete (the call ended): stereo, leg A
    /// left and leg B right.
    ConversationRecorded {
        /// Its length.
        length: Duration,
        /// The WAV file's bytes (8 kHz stereo 16-bit).
        wav: Vec<u8>,
    },
    /// A message recorded from a leg is complete.
    Recorded {
        /// The leg.
        leg: Leg,
        /// Why it ended.
        ended: Ended,
        /// Its length.
        length: Duration,
        /// The WAV file's bytes (8 kHz mono 16-bit).
        wav: Vec<u8>,
    },
}

#[derive(Debug)]
struct LegState {
    cfg: LegConfig,
    out: OutStream,
    feed: Feed,
    detector: Detector,
    last_heard: Option<Instant>,
    /// The SDP's address (latching may have replaced `cfg.remote`).
    sdp_remote: Option<SocketAddr>,
    /// Watched for the media timeout since this instant.
    watch_since: Option<Instant>,
    timed_out: bool,
    dropped: u64,
    /// Keys heard in the audio of a leg without telephone-event (when listening).
    inband: Option<InbandDetector>,
    /// RTCP: what the leg sent svar, what svar sent the leg, what the leg reports.
    rx: ReceiveStats,
    tx: SendStats,
    sent_since_report: bool,
    rtcp_remote: Option<SocketAddr>,
    quality: Option<RemoteQuality>,
    next_report: Instant,
}

impl LegState {
    /// RTP has flowed on the leg (either way) and svar knows where it is: reports are due.
    fn reporting(&self) -> bool {
        (self.rx.is_active() || self.tx.packets > 0) && (self.cfg.remote.is_some() || self.rtcp_remote.is_some())
    }
}

/// One call's media.
#[derive(Debug)]
pub struct Bridge {
    legs: [LegState; 2],
    start: Instant,
    timeout: Duration,
    next_frame: Instant,
    outputs: Vec<Output>,
    recording: Option<(Leg, Recorder, Vec<i16>)>,
    /// Both legs' audio while a conversation is recorded (with the caller's consent).
    conversation: Option<[Vec<i16>; 2]>,
    /// NTP time at an instant, for sender reports.
    ntp_anchor: (Instant, u64),
}

/// 20 ms.
const FRAME: Duration = Duration::from_millis(20);

impl Bridge {
    /// A bridge whose legs both start in silence.
    #[must_use]
    pub fn new(a: LegConfig, b: LegConfig, media_timeout: Duration, now: Instant) -> Self {
        let leg = |cfg: LegConfig| LegState {
            out: OutStream::new(cfg.ssrc, cfg.first_seq, cfg.first_ts),
            sdp_remote: cfg.remote,
            cfg,
            feed: Feed::Silence,
            detector: Detector::new(),
            last_heard: None,
            watch_since: None,
            timed_out: false,
            dropped: 0,
            inband: None,
            rx: ReceiveStats::default(),
            tx: SendStats::default(),
            sent_since_report: false,
            rtcp_remote: None,
            quality: None,
            next_report: now + rtcp::INTERVAL,
        };
        Self {
            legs: [leg(a), leg(b)],
            start: now,
            timeout: media_timeout,
            next_frame: now + FRAME,
            outputs: Vec::new(),
            recording: None,
            conversation: None,
            ntp_anchor: (now, 0),
        }
    }

    /// Tie the media clock to the wall clock (Unix microseconds at `now`) for the NTP
    /// times of sender reports.
    pub fn set_wall_clock(&mut self, now: Instant, unix_micros: u64) {
        self.ntp_anchor = (now, rtcp::ntp_from_unix_micros(unix_micros));
    }

    fn ntp(&self, now: Instant) -> u64 {
        let (at, ntp) = self.ntp_anchor;
        let d = now.saturating_duration_since(at);
        ntp.wrapping_add((d.as_secs() << 32) | ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000))
    }

    /// What the phone on a leg last reported about the stream svar sends it.
    #[must_use]
    pub fn quality(&self, leg: Leg) -> Option<RemoteQuality> {
        self.legs[leg.index()].quality
    }

    /// Reception statistics of the stream from a leg.
    #[must_use]
    pub fn received(&self, leg: Leg) -> &ReceiveStats {
        &self.legs[leg.index()].rx
    }

    /// An RTCP datagram arrived on a leg's RTCP port: kept for the leg's quality and the
    /// next report's LSR; its source is where svar's reports go (symmetric RTCP).
    pub fn rtcp_packet(&mut self, leg: Leg, from: SocketAddr, data: &[u8], now: Instant) {
        let me = &mut self.legs[leg.index()];
        let Ok(heard) = rtcp::read(data, me.out.ssrc()) else {
            me.dropped += 1;
            return;
        };
        me.rtcp_remote = Some(from);
        if let Some(ntp) = heard.sender_ntp {
            me.rx.sender_report(ntp, now);
        }
        if let Some(q) = heard.about_us {
            me.quality = Some(q);
        }
    }

    fn sent(&mut self, leg: Leg, to: SocketAddr, data: Vec<u8>, timestamp: u32, payload: usize, now: Instant) {
        let me = &mut self.legs[leg.index()];
        me.tx.sent(timestamp, payload, now);
        me.sent_since_report = true;
        self.outputs.push(Output::Send { leg, to, data });
    }

    /// Each leg's report when it is due (every [`rtcp::INTERVAL`]), once svar knows
    /// where the leg is and there is something to report.
    fn reports(&mut self, now: Instant) {
        let ntp = self.ntp(now);
        for leg in [Leg::A, Leg::B] {
            let me = &mut self.legs[leg.index()];
            if now < me.next_report || !me.reporting() {
                continue;
            }
            me.next_report = now + rtcp::INTERVAL;
            let to =
                me.rtcp_remote.or_else(|| me.cfg.remote.map(|r| SocketAddr::new(r.ip(), r.port().wrapping_add(1))));
            let Some(to) = to else { continue };
            let data = rtcp::report(me.out.ssrc(), "svar", &me.tx, me.sent_since_report, &mut me.rx, ntp, now);
            me.sent_since_report = false;
            if !data.is_empty() {
                self.outputs.push(Output::SendRtcp { leg, to, data });
            }
        }
    }

    /// Set what a leg hears.
    pub fn set_feed(&mut self, leg: Leg, feed: Feed) {
        self.legs[leg.index()].feed = feed;
    }

    /// A leg's stream was (re)negotiated. A new SDP address replaces a latched one (the
    /// phone moved); the same address keeps what latching found.
    pub fn set_stream(&mut self, leg: Leg, s: LegStream, now: Instant) {
        let me = &mut self.legs[leg.index()];
        if s.remote.is_some() && s.remote != me.sdp_remote {
            me.sdp_remote = s.remote;
            me.cfg.remote = s.remote;
            me.last_heard = None;
        }
        me.cfg.codec = s.codec;
        me.cfg.payload_type = s.payload_type;
        me.cfg.dtmf_payload_type = s.dtmf_payload_type;
        match (s.watch, me.watch_since) {
            (true, None) => me.watch_since = Some(now),
            (false, _) => me.watch_since = None,
            (true, Some(_)) => {}
        }
        me.timed_out = false;
    }

    /// Listen for in-band keys on a leg that has no telephone-event (an IVR caller).
    pub fn listen_inband(&mut self, leg: Leg, on: bool) {
        let me = &mut self.legs[leg.index()];
        me.inband = (on && me.cfg.dtmf_payload_type.is_none()).then(InbandDetector::new);
    }

    /// Record what a leg says until `#`, silence, the maximum length or [`Bridge::stop_recording`].
    pub fn record(&mut self, leg: Leg, limits: RecordLimits) {
        self.recording = Some((leg, Recorder::new(limits), Vec::with_capacity(FRAME_SAMPLES)));
    }

    /// Record the conversation, both legs, until [`Bridge::stop_recording`] (call
    /// control starts it only after the caller's consent).
    pub fn record_conversation(&mut self) {
        self.conversation.get_or_insert_with(|| [Vec::new(), Vec::new()]);
    }

    /// The caller withdrew consent: the conversation recorded so far is dropped, never
    /// reported, and nothing more is recorded.
    pub fn discard_conversation(&mut self) {
        self.conversation = None;
    }

    /// End a recording now (the caller hung up): it is reported like any other, and a
    /// conversation being recorded is reported as one stereo file.
    pub fn stop_recording(&mut self) {
        if let Some([a, b]) = self.conversation.take() {
            let n = a.len().max(b.len());
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut wav = std::io::Cursor::new(Vec::new());
            let written = hound::WavWriter::new(&mut wav, spec).and_then(|mut w| {
                for i in 0..n {
                    w.write_sample(a.get(i).copied().unwrap_or(0))?;
                    w.write_sample(b.get(i).copied().unwrap_or(0))?;
                }
                w.finalize()
            });
            if written.is_ok() {
                let length = Duration::from_millis(n as u64 / 8);
                self.outputs.push(Output::ConversationRecorded { length, wav: wav.into_inner() });
            }
        }
        if let Some((_, rec, _)) = &mut self.recording {
            rec.hangup();
        }
        self.finish_recording();
    }

    fn finish_recording(&mut self) {
        let done = self.recording.as_ref().and_then(|(_, r, _)| r.ended());
        if let Some(ended) = done
            && let Some((leg, rec, _)) = self.recording.take()
        {
            match rec.wav() {
                Ok(wav) => self.outputs.push(Output::Recorded { leg, ended, length: rec.length(), wav }),
                Err(_) => self.outputs.push(Output::Recorded { leg, ended, length: Duration::ZERO, wav: Vec::new() }),
            }
        }
    }

    /// When [`Bridge::tick`] has something to do: the next frame while a leg hears
    /// svar's audio, else the earliest media timeout (`None`: nothing to wait for).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let reports = self.legs.iter().filter(|l| l.reporting()).map(|l| l.next_report);
        if self.legs.iter().any(|l| matches!(l.feed, Feed::Playing(_))) {
            return reports.chain(std::iter::once(self.next_frame)).min();
        }
        self.legs
            .iter()
            .filter(|l| !l.timed_out)
            .filter_map(|l| l.watch_since.map(|w| l.last_heard.map_or(w, |h| h.max(w)) + self.timeout))
            .chain(reports)
            .min()
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
        self.outputs.drain(..).collect()
    }

    /// Take what the last inputs produced without giving up the buffer (the driver's
    /// per-packet path: no allocation for the output list).
    pub fn outputs(&mut self) -> std::vec::Drain<'_, Output> {
        self.outputs.drain(..)
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
        me.rx.packet(pkt.ssrc(), pkt.sequence_number(), pkt.timestamp(), clock);
        let pt = pkt.payload_type();
        if Some(pt) == me.cfg.dtmf_payload_type {
            if let Ok(p) = Payload::parse(pkt.payload()) {
                for event in me.detector.packet(pkt.timestamp(), p) {
                    self.outputs.push(Output::Key { leg, event });
                    self.key_to_recorder(leg, event);
                }
            }
            let other = &mut self.legs[leg.other().index()];
            if let (Feed::Bridged, Some(to), Some(out_pt)) =
                (&other.feed, other.cfg.remote, other.cfg.dtmf_payload_type)
            {
                let h = other.out.relay(clock, pkt.ssrc(), pkt.sequence_number(), pkt.timestamp());
                let data = build(out_pt, h, pkt.payload());
                self.sent(leg.other(), to, data, h.timestamp, pkt.payload().len(), now);
            }
            return;
        }
        if pt != me.cfg.payload_type {
            me.dropped += 1;
            return;
        }
        let from_codec = me.cfg.codec;
        let listening = me.inband.is_some() || self.recording.as_ref().is_some_and(|(l, _, _)| *l == leg);
        if listening {
            self.hear(leg, from_codec, pkt.payload(), pkt.timestamp());
        }
        if let Some(tracks) = &mut self.conversation {
            let track = &mut tracks[leg.index()];
            track.extend(pkt.payload().iter().map(|&b| match from_codec {
                Codec::Pcmu => rtp::g711::ulaw_decode(b),
                Codec::Pcma => rtp::g711::alaw_decode(b),
            }));
        }
        let other = &mut self.legs[leg.other().index()];
        let (Feed::Bridged, Some(to)) = (&other.feed, other.cfg.remote) else { return };
        let transcoded: Option<Vec<u8>> = match (from_codec, other.cfg.codec) {
            (Codec::Pcmu, Codec::Pcma) => {
                Some(pkt.payload().iter().map(|&b| rtp::g711::ulaw_to_alaw_byte(b)).collect())
            }
            (Codec::Pcma, Codec::Pcmu) => {
                Some(pkt.payload().iter().map(|&b| rtp::g711::alaw_to_ulaw_byte(b)).collect())
            }
            _ => None,
        };
        let payload = transcoded.as_deref().unwrap_or(pkt.payload());
        let h = other.out.relay(clock, pkt.ssrc(), pkt.sequence_number(), pkt.timestamp());
        let data = build(other.cfg.payload_type, h, payload);
        self.sent(leg.other(), to, data, h.timestamp, payload.len(), now);
    }

    /// The frame clock: play svar's own audio to legs that hear it, and notice legs that
    /// went silent.
    pub fn tick(&mut self, now: Instant) {
        // Nobody hearing svar's audio, or a long stall: the frame clock restarts at now
        // rather than bursting the frames it missed.
        let playing = self.legs.iter().any(|l| matches!(l.feed, Feed::Playing(_)));
        if !playing || now.saturating_duration_since(self.next_frame) > FRAME * 5 {
            let behind = now.saturating_duration_since(self.next_frame).as_micros() / FRAME.as_micros();
            self.next_frame += FRAME * u32::try_from(behind).unwrap_or(u32::MAX);
        }
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
                            self.sent(leg, to, data, h.timestamp, payload.len(), at);
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
        self.reports(now);
        for leg in [Leg::A, Leg::B] {
            let state = &mut self.legs[leg.index()];
            let Some(watched) = state.watch_since else { continue };
            let since = state.last_heard.map_or(watched, |h| h.max(watched));
            if !state.timed_out && now.saturating_duration_since(since) >= self.timeout {
                state.timed_out = true;
                self.outputs.push(Output::MediaTimeout { leg });
            }
        }
    }

    /// Decoded audio from a leg svar listens to: in-band keys and the recording.
    fn hear(&mut self, leg: Leg, codec: Codec, payload: &[u8], timestamp: u32) {
        let samples: Vec<i16> = match codec {
            Codec::Pcmu => payload.iter().map(|&b| rtp::g711::ulaw_decode(b)).collect(),
            Codec::Pcma => payload.iter().map(|&b| rtp::g711::alaw_decode(b)).collect(),
        };
        if let Some(det) = &mut self.legs[leg.index()].inband {
            for e in det.push(&samples) {
                let event = match e {
                    InbandEvent::Start { key, .. } => KeyEvent::Start { key, timestamp },
                    InbandEvent::End { key, .. } => KeyEvent::End { key, timestamp, duration: 0 },
                };
                self.outputs.push(Output::Key { leg, event });
                self.key_to_recorder(leg, event);
            }
        }
        if let Some((rleg, rec, pending)) = &mut self.recording
            && *rleg == leg
            && rec.ended().is_none()
        {
            pending.extend_from_slice(&samples);
            while pending.len() >= FRAME_SAMPLES {
                let mut frame = [0i16; FRAME_SAMPLES];
                frame.copy_from_slice(&pending[..FRAME_SAMPLES]);
                pending.drain(..FRAME_SAMPLES);
                if rec.frame(&frame).is_some() {
                    break;
                }
            }
            self.finish_recording();
        }
    }

    fn key_to_recorder(&mut self, leg: Leg, event: KeyEvent) {
        if let KeyEvent::Start { key, .. } = event
            && let Some((rleg, rec, _)) = &mut self.recording
            && *rleg == leg
        {
            rec.key(key);
            self.finish_recording();
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
