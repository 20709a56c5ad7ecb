//! SDP for anchored media (issue 3): svar answers every offer itself, with its own
//! address and port, so all RTP flows through it; and it rewrites an offer it passes on
//! to the other leg the same way. Pure functions over `ezk-sdp-types`, which keeps
//! attributes it does not know.
//!
//! Offer/answer per RFC 3264: the audio stream is accepted with the first codec of the
//! offerer's list that svar speaks (PCMU or PCMA; the seam for G.722 and Opus is the
//! [`Codec`] list), telephone-event (RFC 4733) kept with the offerer's payload type,
//! direction mirrored (§6.1: sendonly is answered recvonly, and so on); every other
//! stream is refused with port 0 (§6), never dropped from the answer.

use std::net::{IpAddr, SocketAddr};

use bytesstr::BytesStr;
use ezk_sdp_types::{Connection, Direction, MediaDescription, MediaType, RtpMap, SessionDescription, TaggedAddress};

/// A codec svar speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }
}

/// What was agreed for the audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec and the payload type it travels with on this leg.
    pub codec: Codec,
    /// Its payload type.
    pub payload_type: u8,
    /// telephone-event's payload type on this leg, if offered.
    pub dtmf_payload_type: Option<u8>,
    /// Where the other side receives RTP (port 0: on hold by the old RFC 2543 way).
    pub remote: SocketAddr,
    /// The direction svar answered with.
    pub direction: MediaDirection,
}

/// A stream's direction as svar answered it (RFC 3264 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaDirection {
    /// Both ways.
    SendRecv,
    /// svar only sends (the other side put the call on hold).
    SendOnly,
    /// svar only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl MediaDirection {
    fn of(d: &Direction) -> Self {
        match d {
            Direction::SendRecv => Self::SendRecv,
            Direction::SendOnly => Self::SendOnly,
            Direction::RecvOnly => Self::RecvOnly,
            Direction::Inactive => Self::Inactive,
        }
    }
}

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not SDP.
    #[error("not SDP: {0}")]
    Parse(String),
    /// No audio stream.
    #[error("the offer has no audio stream")]
    NoAudio,
    /// Audio, but in no codec svar speaks (the B2BUA answers 488).
    #[error("no codec in common (offered payload types {0:?})")]
    NoCommonCodec(Vec<u8>),
    /// No address to send to.
    #[error("the audio stream has no connection address")]
    NoAddress,
}

/// Parse an SDP body.
///
/// # Errors
/// Not SDP.
pub fn parse(body: &str) -> Result<SessionDescription, SdpError> {
    SessionDescription::parse(&BytesStr::from(body)).map_err(|e| SdpError::Parse(e.to_string()))
}

fn codec_of(m: &MediaDescription, pt: u8) -> Option<Codec> {
    let by_map = m.rtpmap.iter().find(|r| r.payload == pt).map(|r| (r.encoding.to_ascii_uppercase(), r.clock_rate));
    match (pt, by_map) {
        (_, Some((name, 8000))) if name == "PCMU" => Some(Codec::Pcmu),
        (_, Some((name, 8000))) if name == "PCMA" => Some(Codec::Pcma),
        (0, None) => Some(Codec::Pcmu),
        (8, None) => Some(Codec::Pcma),
        _ => None,
    }
}

fn address(sdp: &SessionDescription, m: &MediaDescription) -> Option<IpAddr> {
    let c = m.connection.as_ref().or(sdp.connection.as_ref())?;
    match &c.address {
        TaggedAddress::IP4(a) => Some(IpAddr::V4(*a)),
        TaggedAddress::IP6(a) => Some(IpAddr::V6(*a)),
        TaggedAddress::IP4FQDN(_) | TaggedAddress::IP6FQDN(_) => None,
    }
}

fn answer_direction(offered: Direction) -> Direction {
    match offered {
        Direction::SendRecv => Direction::SendRecv,
        Direction::SendOnly => Direction::RecvOnly,
        Direction::RecvOnly => Direction::SendOnly,
        Direction::Inactive => Direction::Inactive,
    }
}

/// Answer an offer with svar's address and port for the audio stream.
///
/// `supported` is svar's list (any order); the offerer's order decides. `session_id`
/// goes into the answer's `o=` line.
///
/// # Errors
/// No audio stream, no common codec, no address, not SDP.
pub fn answer(
    offer: &str,
    local: SocketAddr,
    supported: &[Codec],
    session_id: u64,
) -> Result<(String, Negotiated), SdpError> {
    let offer = parse(offer)?;
    let mut answer = offer.clone();
    answer.origin.username = BytesStr::from("svar");
    answer.origin.session_id = BytesStr::from(session_id.to_string());
    answer.origin.session_version = BytesStr::from(session_id.to_string());
    answer.origin.address = TaggedAddress::from(local.ip());
    answer.name = BytesStr::from("svar");
    answer.connection = Some(Connection { address: TaggedAddress::from(local.ip()), ttl: None, num: None });
    answer.direction = Direction::SendRecv;
    answer.attributes.clear();
    let mut negotiated = None;
    let mut audio_seen = None;
    for (i, m) in offer.media_descriptions.iter().enumerate() {
        let is_audio = m.media.media_type == MediaType::Audio && m.media.port != 0;
        if !is_audio || negotiated.is_some() {
            answer.media_descriptions[i] = MediaDescription::rejected(m.media.media_type);
            continue;
        }
        audio_seen = Some(m.media.fmts.clone());
        let Some((pt, codec)) =
            m.media.fmts.iter().find_map(|&pt| codec_of(m, pt).filter(|c| supported.contains(c)).map(|c| (pt, c)))
        else {
            answer.media_descriptions[i] = MediaDescription::rejected(MediaType::Audio);
            continue;
        };
        let dtmf = m
            .rtpmap
            .iter()
            .find(|r| r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == 8000)
            .map(|r| r.payload);
        let remote_ip = address(&offer, m).ok_or(SdpError::NoAddress)?;
        let direction = answer_direction(m.direction);
        let mut a = MediaDescription::rejected(MediaType::Audio);
        a.media.port = local.port();
        a.media.proto = m.media.proto.clone();
        a.media.fmts = std::iter::once(pt).chain(dtmf).collect();
        a.direction = direction;
        a.rtpmap.push(RtpMap { payload: pt, encoding: BytesStr::from(codec.name()), clock_rate: 8000, params: None });
        if let Some(d) = dtmf {
            a.rtpmap.push(RtpMap {
                payload: d,
                encoding: BytesStr::from("telephone-event"),
                clock_rate: 8000,
                params: None,
            });
            a.fmtp = m.fmtp.iter().filter(|f| f.format == d).cloned().collect();
        }
        a.attributes
            .push(ezk_sdp_types::UnknownAttribute { name: BytesStr::from("ptime"), value: Some(BytesStr::from("20")) });
        answer.media_descriptions[i] = a;
        negotiated = Some(Negotiated {
            codec,
            payload_type: pt,
            dtmf_payload_type: dtmf,
            remote: SocketAddr::new(remote_ip, m.media.port),
            direction: MediaDirection::of(&direction),
        });
    }
    match (negotiated, audio_seen) {
        (Some(n), _) => Ok((answer.to_string(), n)),
        (None, Some(fmts)) => Err(SdpError::NoCommonCodec(fmts)),
        (None, None) => Err(SdpError::NoAudio),
    }
}

/// The same offer with svar's address and port in place of the offerer's, for the
/// other leg (everything else, unknown attributes included, passes through).
///
/// # Errors
/// Not SDP, or no audio stream.
pub fn anchor(offer: &str, local: SocketAddr) -> Result<String, SdpError> {
    let mut sdp = parse(offer)?;
    let mut audio = false;
    let ours = Connection { address: TaggedAddress::from(local.ip()), ttl: None, num: None };
    sdp.origin.address = TaggedAddress::from(local.ip());
    sdp.connection = Some(ours.clone());
    for m in &mut sdp.media_descriptions {
        if m.media.media_type == MediaType::Audio && m.media.port != 0 && !audio {
            m.media.port = local.port();
            m.connection = None;
            audio = true;
        } else if m.media.port != 0 {
            // svar anchors one audio stream; the rest is refused on this leg.
            m.media.port = 0;
        }
    }
    if !audio {
        return Err(SdpError::NoAudio);
    }
    Ok(sdp.to_string())
}
