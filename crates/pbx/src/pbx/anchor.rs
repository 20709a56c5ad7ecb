//! Anchoring a call's media through svar: every SDP body that crosses the B2BUA is
//! rewritten to name svar's port facing the leg it goes to, and what each side said is
//! kept so the bridge knows where to send, in which codec, and whether silence from a
//! leg is a dead call. Offers keep only the codecs svar speaks, so svar can always play
//! to either leg; the answerer's choice then holds on both legs and no transcoding is
//! needed for a plain call.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use media::relay::{Feed, Leg, LegConfig, LegStream};
use sdp::{SdpError, Stream};
use tracing::debug;

use super::Pbx;
use crate::PbxOutput;
use crate::call::Side;
use crate::media::MediaOp;

/// One call's anchored media, as call control sees it.
#[derive(Debug)]
pub(crate) struct Anchor {
    /// svar's RTP port facing leg A and facing leg B.
    pub(crate) ports: (u16, u16),
    /// The last SDP from each side.
    pub(crate) a: Option<Stream>,
    pub(crate) b: Option<Stream>,
    /// Who made the last offer.
    pub(crate) offerer: Side,
    /// The side holding the call (its other side hears music on hold).
    pub(crate) held_by: Option<Side>,
}

/// Where a call's port block goes when its media closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortsAfter {
    /// Back to the pool, after resting (`media::ports::QUARANTINE`).
    Rest,
    /// Out of rotation for a while: its ports could not be bound.
    SetAside,
}

/// Whether a body is an offer or completes an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SdpRole {
    Offer,
    Answer,
}

pub(crate) fn leg(side: Side) -> Leg {
    match side {
        Side::A => Leg::A,
        Side::B => Leg::B,
    }
}

/// The streams both legs use once `answerer` has answered `offerer`: the answerer's
/// first codec (RFC 3264 §6.1), each leg with its own payload types.
fn agree(offerer: &Stream, answerer: &Stream, watch: bool) -> (LegStream, LegStream) {
    let (answer_pt, codec) = answerer.codecs[0];
    let offer_pt = offerer.payload_type_of(codec).unwrap_or(answer_pt);
    let dtmf_both = answerer.dtmf_payload_type.is_some() && offerer.dtmf_payload_type.is_some();
    let o = LegStream {
        remote: Some(offerer.remote),
        codec,
        payload_type: offer_pt,
        dtmf_payload_type: if dtmf_both { offerer.dtmf_payload_type } else { None },
        watch: watch && offerer.sends(),
    };
    let a = LegStream {
        remote: Some(answerer.remote),
        codec,
        payload_type: answer_pt,
        dtmf_payload_type: if dtmf_both { answerer.dtmf_payload_type } else { None },
        watch: watch && answerer.sends(),
    };
    (o, a)
}

impl Pbx {
    /// The call was answered without SDP in the 2xx (the answer came early): the streams
    /// agreed then are now watched for the media timeout.
    pub(crate) fn arm_media(&mut self, id: u64) {
        let Some(anchor) = self.calls.get(&id).and_then(|c| c.media.as_ref()) else { return };
        let (o, a) = match anchor.offerer {
            Side::A => (anchor.a.as_ref(), anchor.b.as_ref()),
            Side::B => (anchor.b.as_ref(), anchor.a.as_ref()),
        };
        if let (Some(o), Some(a)) = (o, a) {
            let (os, as_) = agree(o, a, true);
            let offerer = anchor.offerer;
            self.out.push_back(PbxOutput::Media(MediaOp::Stream { call: id, leg: leg(offerer), stream: os }));
            self.out.push_back(PbxOutput::Media(MediaOp::Stream { call: id, leg: leg(offerer.other()), stream: as_ }));
        }
    }

    /// Something a call's media reported.
    pub fn handle_media(&mut self, event: crate::media::MediaEvent, now: std::time::Instant, wall_ms: i64) {
        use crate::media::MediaEvent;
        self.wall_ms = wall_ms;
        match event {
            MediaEvent::Timeout { call, leg } => {
                if self.calls.get(&call).is_some_and(|c| c.state != crate::call::CallState::Calling) {
                    tracing::warn!(
                        call,
                        ?leg,
                        timeout_s = self.cfg.media.as_ref().map_or(0, |m| m.timeout.as_secs()),
                        "no RTP from a leg for the media timeout: hanging up"
                    );
                    self.hang_up(now, call, crate::record::Party::MediaTimeout);
                }
            }
            MediaEvent::Failed { call, error } => {
                tracing::warn!(call, %error, "call media could not be opened: hanging up");
                // The block goes out of rotation, not back to rest: a port another program
                // holds would fail the next call given the block the same way.
                let anchor = self.calls.get_mut(&call).and_then(|c| c.media.take());
                self.close_media(now, call, anchor, PortsAfter::SetAside);
                self.hang_up(now, call, crate::record::Party::System);
            }
            MediaEvent::Key { call, leg: Leg::A, event } => self.ivr_key_event(now, call, event),
            MediaEvent::PlaybackDone { call, leg: Leg::A } => self.ivr_playback_done(now, call),
            MediaEvent::Recorded { call, wav, length, .. } => self.ivr_recorded(call, wav, length),
            MediaEvent::ConversationRecorded { call, length, wav } => {
                if let Some((call_id, caller, consent_ms)) = self.ended_conversations.remove(&call) {
                    tracing::info!(call, length_s = length.as_secs(), "conversation recorded with consent");
                    let rec = crate::ivr_setup::ConversationRecording {
                        call_id,
                        caller,
                        consent_ms,
                        consent: "key press in the IVR".into(),
                        wav,
                        length,
                    };
                    self.out.push_back(PbxOutput::Recording(crate::ivr_setup::Recording::Conversation(rec)));
                }
            }
            MediaEvent::Key { .. } | MediaEvent::PlaybackDone { .. } => {}
        }
        self.pump(now);
    }

    /// A fresh leg configuration: random SSRC, sequence and timestamp (RFC 3550 §5.1).
    pub(crate) fn leg_config(&mut self, s: Option<&Stream>) -> LegConfig {
        let r = self.ep.ids().next_u64();
        let (codec, pt) = s.map_or((sdp::Codec::Pcmu, 0), |s| (s.codecs[0].1, s.codecs[0].0));
        LegConfig {
            remote: s.map(|s| s.remote),
            codec,
            payload_type: pt,
            dtmf_payload_type: s.and_then(|s| s.dtmf_payload_type),
            ssrc: r as u32,
            first_seq: (r >> 32) as u16,
            first_ts: ((r >> 48) as u32) << 16,
        }
    }

    /// svar's address facing a side of an anchored call.
    pub(crate) fn media_addr(&self, ports: (u16, u16), side: Side) -> Option<SocketAddr> {
        let m = self.cfg.media.as_ref()?;
        Some(SocketAddr::new(m.ip, if side == Side::A { ports.0 } else { ports.1 }))
    }

    /// Take a block of ports for a new call: a pair for each leg.
    pub(crate) fn take_ports(&mut self, now: Instant) -> Option<(u16, u16)> {
        let a = self.ports.as_mut()?.take(now).ok()?;
        Some((a, a + 2))
    }

    /// Open a call's media with leg A's offer known (or not, for a late offer).
    pub(crate) fn open_media(&mut self, id: u64, ports: (u16, u16), a: Option<&Stream>) {
        let a_cfg = self.leg_config(a);
        let b_cfg = self.leg_config(None);
        self.out.push_back(PbxOutput::Media(MediaOp::Open { call: id, ports, a: a_cfg, b: b_cfg }));
        for l in [Leg::A, Leg::B] {
            self.out.push_back(PbxOutput::Media(MediaOp::Feed { call: id, leg: l, feed: Feed::Bridged }));
        }
    }

    /// The call is over: ports back to the pool (to rest, or set aside when they could
    /// not be bound), the driver told to unbind them.
    pub(crate) fn close_media(&mut self, now: Instant, id: u64, anchor: Option<Anchor>, after: PortsAfter) {
        let Some(anchor) = anchor else { return };
        if let Some(pool) = self.ports.as_mut() {
            let returned = match after {
                PortsAfter::Rest => pool.release(anchor.ports.0, now),
                PortsAfter::SetAside => pool.set_aside(anchor.ports.0, now),
            };
            if let Err(e) = returned {
                debug!(port = anchor.ports.0, error = %e, ?after, "RTP port release");
            }
        }
        self.out.push_back(PbxOutput::Media(MediaOp::Close { call: id }));
    }

    /// Rewrite a body `from` sent for the other side of an anchored call, learning
    /// `from`'s stream; an answer completes the exchange and updates both legs. A call
    /// that is not anchored passes the body through.
    pub(crate) fn anchor_body(&mut self, id: u64, from: Side, body: &Bytes, role: SdpRole) -> Result<Bytes, SdpError> {
        let Some(codecs) = self.cfg.media.as_ref().map(|m| m.codecs.clone()) else {
            return Ok(body.clone());
        };
        let Some(call) = self.calls.get(&id) else { return Ok(body.clone()) };
        let Some(anchor) = call.media.as_ref() else { return Ok(body.clone()) };
        let ports = anchor.ports;
        let text = std::str::from_utf8(body).map_err(|e| SdpError::Parse(e.to_string()))?;
        let Some(facing) = self.media_addr(ports, from.other()) else { return Ok(body.clone()) };
        let (stream, rewritten) = sdp::stream_and_anchor(text, facing, &codecs)?;
        let answered = call.state == crate::call::CallState::Answered;
        let Some(anchor) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return Ok(body.clone());
        };
        match from {
            Side::A => anchor.a = Some(stream),
            Side::B => anchor.b = Some(stream),
        }
        if role == SdpRole::Offer {
            anchor.offerer = from;
        }
        // Hold (RFC 3264 §8.4: sendonly or inactive, or the old c=0.0.0.0): the held side
        // hears music on hold from svar until the holder resumes.
        let holds = role == SdpRole::Offer
            && answered
            && anchor.a.is_some()
            && anchor.b.is_some()
            && matches!(
                (if from == Side::A { anchor.a.as_ref() } else { anchor.b.as_ref() })
                    .map(|s| (s.direction, s.remote.ip().is_unspecified())),
                Some((sdp::MediaDirection::SendOnly | sdp::MediaDirection::Inactive, _) | (_, true))
            );
        let hold_change = match (holds, anchor.held_by) {
            (true, None) => {
                anchor.held_by = Some(from);
                Some(true)
            }
            (false, Some(h)) if h == from && role == SdpRole::Offer => {
                anchor.held_by = None;
                Some(false)
            }
            _ => None,
        };
        if let Some(on_hold) = hold_change {
            let feed = match (&on_hold, self.cfg.media.as_ref().and_then(|m| m.music_on_hold.clone())) {
                (true, Some(moh)) => Some(Feed::Playing(media::prompt::Player::looping(moh))),
                (true, None) => None,
                (false, _) => Some(Feed::Bridged),
            };
            if let Some(feed) = feed {
                tracing::debug!(call = id, ?from, on_hold, "hold changed");
                self.out.push_back(PbxOutput::Media(MediaOp::Feed { call: id, leg: leg(from.other()), feed }));
            }
        }
        let Some(anchor) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) else {
            return Ok(Bytes::from(rewritten));
        };
        if role == SdpRole::Answer {
            let (offerer, answerer) = match from {
                Side::A => (anchor.b.as_ref(), anchor.a.as_ref()),
                Side::B => (anchor.a.as_ref(), anchor.b.as_ref()),
            };
            if let (Some(o), Some(a)) = (offerer, answerer) {
                let (os, as_) = agree(o, a, answered);
                let (o_leg, a_leg) = (leg(from.other()), leg(from));
                self.out.push_back(PbxOutput::Media(MediaOp::Stream { call: id, leg: o_leg, stream: os }));
                self.out.push_back(PbxOutput::Media(MediaOp::Stream { call: id, leg: a_leg, stream: as_ }));
            }
        }
        Ok(Bytes::from(rewritten))
    }
}
