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

pub mod read;
mod text;

pub use read::{Media, Sdp};

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

/// Read an SDP body: what anchoring needs, borrowed from the text (see [`Sdp`]).
///
/// # Errors
/// Not SDP.
pub fn parse(body: &str) -> Result<Sdp<'_>, SdpError> {
    read::read(body)
}

/// The whole description, for building an answer from an offer.
fn parse_description(body: &str) -> Result<SessionDescription, SdpError> {
    SessionDescription::parse(&BytesStr::from(body)).map_err(|e| SdpError::Parse(e.to_string()))
}

/// The codec of payload type `pt` by its `a=rtpmap` (or the static type without one).
fn codec_by_map(pt: u8, map: Option<(&str, u32)>) -> Option<Codec> {
    match (pt, map) {
        (_, Some((name, 8000))) if name.eq_ignore_ascii_case("PCMU") => Some(Codec::Pcmu),
        (_, Some((name, 8000))) if name.eq_ignore_ascii_case("PCMA") => Some(Codec::Pcma),
        (0, None) => Some(Codec::Pcmu),
        (8, None) => Some(Codec::Pcma),
        _ => None,
    }
}

fn codec_of(m: &Media<'_>, pt: u8) -> Option<Codec> {
    codec_by_map(pt, m.rtpmap.iter().find(|r| r.payload == pt).map(|r| (r.encoding, r.clock_rate)))
}

fn codec_of_description(m: &MediaDescription, pt: u8) -> Option<Codec> {
    codec_by_map(pt, m.rtpmap.iter().find(|r| r.payload == pt).map(|r| (r.encoding.as_ref(), r.clock_rate)))
}

fn address(sdp: &Sdp<'_>, m: &Media<'_>) -> Option<IpAddr> {
    match m.connection.or(sdp.connection)? {
        read::Connection::Ip(ip) => Some(ip),
        read::Connection::Name => None,
    }
}

fn address_of_description(sdp: &SessionDescription, m: &MediaDescription) -> Option<IpAddr> {
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
    let offer = parse_description(offer)?;
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
        let Some((pt, codec)) = m
            .media
            .fmts
            .iter()
            .find_map(|&pt| codec_of_description(m, pt).filter(|c| supported.contains(c)).map(|c| (pt, c)))
        else {
            answer.media_descriptions[i] = MediaDescription::rejected(MediaType::Audio);
            continue;
        };
        let dtmf = dtmf_of_description(m);
        let remote_ip = address_of_description(&offer, m).ok_or(SdpError::NoAddress)?;
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

/// What one side's SDP says about its audio stream: where it receives, the codecs svar
/// speaks in its order (with their payload types on that side), telephone-event, and its
/// direction as that side wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Where that side receives RTP.
    pub remote: SocketAddr,
    /// Codecs svar speaks, in the side's order of preference.
    pub codecs: Vec<(u8, Codec)>,
    /// telephone-event's payload type on that side.
    pub dtmf_payload_type: Option<u8>,
    /// The direction as that side wrote it.
    pub direction: MediaDirection,
}

impl Stream {
    /// Does that side send RTP (so silence from it means something is wrong)?
    #[must_use]
    pub fn sends(&self) -> bool {
        matches!(self.direction, MediaDirection::SendRecv | MediaDirection::SendOnly)
            && !self.remote.ip().is_unspecified()
            && self.remote.port() != 0
    }

    /// The payload type this side uses for `codec`.
    #[must_use]
    pub fn payload_type_of(&self, codec: Codec) -> Option<u8> {
        self.codecs.iter().find(|(_, c)| *c == codec).map(|(pt, _)| *pt)
    }
}

fn first_audio<'s, 'a>(sdp: &'s Sdp<'a>) -> Option<(usize, &'s Media<'a>)> {
    sdp.media.iter().enumerate().find(|(_, m)| m.kind == "audio" && m.port != 0)
}

/// telephone-event's payload type, when the stream lists it (an `rtpmap` for a format
/// the `m=` line does not list is not an offer of it).
fn dtmf_of(m: &Media<'_>) -> Option<u8> {
    dtmf_in(m.rtpmap.iter().map(|r| (r.payload, r.encoding, r.clock_rate)), &m.fmts)
}

fn dtmf_of_description(m: &MediaDescription) -> Option<u8> {
    dtmf_in(m.rtpmap.iter().map(|r| (r.payload, r.encoding.as_ref(), r.clock_rate)), &m.media.fmts)
}

/// The payload type of an 8 kHz telephone-event among `maps` (payload, encoding, rate)
/// that the stream's formats `fmts` list.
fn dtmf_in<'x>(mut maps: impl Iterator<Item = (u8, &'x str, u32)>, fmts: &[u8]) -> Option<u8> {
    maps.find(|&(pt, encoding, rate)| {
        encoding.eq_ignore_ascii_case("telephone-event") && rate == 8000 && fmts.contains(&pt)
    })
    .map(|(pt, _, _)| pt)
}

/// Read the audio stream of an offer or an answer, keeping only what svar speaks.
///
/// # Errors
/// Not SDP, no audio stream (or it was refused with port 0), no codec svar speaks, no
/// address.
pub fn stream(body: &str, supported: &[Codec]) -> Result<Stream, SdpError> {
    stream_of(&parse(body)?, supported)
}

/// [`stream`] of an SDP already parsed (so one that is also [`anchor_parsed`] is parsed
/// once).
///
/// # Errors
/// As [`stream`].
pub fn stream_of(sdp: &Sdp<'_>, supported: &[Codec]) -> Result<Stream, SdpError> {
    let (_, m) = first_audio(sdp).ok_or(SdpError::NoAudio)?;
    let codecs: Vec<(u8, Codec)> =
        m.fmts.iter().filter_map(|&pt| codec_of(m, pt).filter(|c| supported.contains(c)).map(|c| (pt, c))).collect();
    if codecs.is_empty() {
        return Err(SdpError::NoCommonCodec(m.fmts.clone()));
    }
    let ip = address(sdp, m).ok_or(SdpError::NoAddress)?;
    // a stream's own sendrecv defers to the session's direction, as RFC 4566 §6 reads
    let direction = match m.direction {
        Some(d) if d != MediaDirection::SendRecv => d,
        _ => sdp.direction,
    };
    Ok(Stream { remote: SocketAddr::new(ip, m.port), codecs, dtmf_payload_type: dtmf_of(m), direction })
}

/// The same SDP (offer or answer) with svar's address and port in place of its
/// author's, for the other leg: the audio stream keeps only the codecs svar speaks and
/// telephone-event (so svar can always play to the leg and relay keys), every other
/// stream is refused with port 0, and unknown attributes pass through.
///
/// # Errors
/// Not SDP, no audio stream, no codec svar speaks.
pub fn anchor(body: &str, local: SocketAddr, supported: &[Codec]) -> Result<String, SdpError> {
    anchor_parsed(&parse(body)?, body, local, supported)
}

/// Read an offer or answer's stream and rewrite it for the other leg, parsing it once.
///
/// # Errors
/// As [`stream`] and [`anchor`].
pub fn stream_and_anchor(body: &str, local: SocketAddr, supported: &[Codec]) -> Result<(Stream, String), SdpError> {
    let sdp = parse(body)?;
    let stream = stream_of(&sdp, supported)?;
    Ok((stream, anchor_parsed(&sdp, body, local, supported)?))
}

/// [`anchor`] of an SDP already parsed: `sdp` is `body` parsed.
///
/// The parsed description decides (which stream, which formats stay); the text is then
/// edited line by line, so everything svar does not change passes byte for byte and
/// nothing is printed anew (printing the whole description through ezk's `Display` was
/// about 9,000 instructions per SDP, two per call). What changes: the `o=` address, the
/// session `c=` (svar's, inserted where RFC 4566 §5 orders it if there was none), the
/// anchored stream's `m=` port and formats, its own `c=`, `a=rtpmap`/`a=fmtp` of dropped
/// formats and its `a=rtcp` (RFC 3605: it named the phone's port; svar's RTCP is on the
/// RTP port + 1, the default); every other stream is refused with port 0.
///
/// # Errors
/// As [`anchor`].
pub fn anchor_parsed(sdp: &Sdp<'_>, body: &str, local: SocketAddr, supported: &[Codec]) -> Result<String, SdpError> {
    let (audio, m) = first_audio(sdp).ok_or(SdpError::NoAudio)?;
    let dtmf = dtmf_of(m);
    let keep: Vec<u8> = m
        .fmts
        .iter()
        .copied()
        .filter(|&pt| Some(pt) == dtmf || codec_of(m, pt).is_some_and(|c| supported.contains(&c)))
        .collect();
    if keep.iter().all(|&pt| Some(pt) == dtmf) {
        return Err(SdpError::NoCommonCodec(m.fmts.clone()));
    }
    let family = if local.is_ipv4() { "IP4" } else { "IP6" };
    // svar's address as the o= and c= lines end, formatted once
    let mut address = String::with_capacity(48);
    address.push_str("IN ");
    address.push_str(family);
    address.push(' ');
    push_ip(&mut address, local.ip());
    let mut out = String::with_capacity(body.len() + 48);
    let mut line_out = |parts: &[&str]| {
        for p in parts {
            out.push_str(p);
        }
        out.push_str("\r\n");
    };
    let mut section: Option<usize> = None;
    let mut session_c = false;
    for line in text::split(body, b'\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let Some((kind, value)) = line.split_at_checked(2) else { continue };
        if section.is_none() && !session_c && matches!(kind, "b=" | "t=" | "z=" | "k=" | "a=" | "m=") {
            line_out(&["c=", &address]);
            session_c = true;
        }
        match (section, kind) {
            (None, "o=") => {
                // username, session id and version stay; the address is svar's
                let mut t = text::split(value, b' ');
                let (user, id, version) = (t.next().unwrap_or("-"), t.next().unwrap_or("0"), t.next().unwrap_or("0"));
                line_out(&["o=", user, " ", id, " ", version, " ", &address]);
            }
            (None, "c=") if !session_c => {
                line_out(&["c=", &address]);
                session_c = true;
            }
            (None, "c=") => {}
            (_, "m=") => {
                let index = section.map_or(0, |i| i + 1);
                section = Some(index);
                let (media, port, rest) = match text::split_once(value, b' ') {
                    None => (value, "0", ""),
                    Some((media, after)) => {
                        let (port, rest) = text::split_once(after, b' ').unwrap_or((after, ""));
                        (media, port, rest)
                    }
                };
                if index == audio {
                    let proto = text::split(rest, b' ').next().unwrap_or("");
                    let mut fmts = String::with_capacity(4 * keep.len());
                    for pt in &keep {
                        fmts.push(' ');
                        fmts.push_str(&pt.to_string());
                    }
                    line_out(&["m=", media, " ", &local.port().to_string(), " ", proto, &fmts]);
                } else if text::split(port, b'/').next().is_some_and(|p| p != "0") {
                    line_out(&["m=", media, " 0 ", rest]);
                } else {
                    line_out(&[line]);
                }
            }
            (Some(i), "c=") if i == audio => {}
            (Some(i), "a=") if i == audio && dropped_attribute(value, &keep) => {}
            _ => line_out(&[line]),
        }
    }
    Ok(out)
}

/// Print an address; an IPv4 address octet by octet (its `Display` went through the
/// formatter, about 1,600 instructions per anchored SDP).
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(v6) => out.push_str(&v6.to_string()),
    }
}

/// An attribute of the anchored stream that goes: the map or parameters of a format
/// svar dropped, or the phone's own RTCP port.
fn dropped_attribute(value: &str, keep: &[u8]) -> bool {
    if value.starts_with("rtcp:") {
        return true;
    }
    let Some(rest) = value.strip_prefix("rtpmap:").or_else(|| value.strip_prefix("fmtp:")) else { return false };
    let pt = rest.split([' ', '\t']).next().unwrap_or("");
    pt.parse::<u8>().is_ok_and(|pt| !keep.contains(&pt))
}

/// svar's own offer (when svar calls a leg itself: an IVR caller put through to an
/// employee, a callback): the codecs in svar's order, telephone-event as `dtmf`.
#[must_use]
pub fn offer(local: SocketAddr, codecs: &[Codec], dtmf: Option<u8>, session_id: u64) -> String {
    use std::fmt::Write as _;
    let family = if local.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local.ip();
    let mut fmts = String::new();
    let mut maps = String::new();
    for c in codecs {
        let pt = match c {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        };
        let _ = write!(fmts, " {pt}");
        let _ = write!(maps, "a=rtpmap:{pt} {}/8000\r\n", c.name());
    }
    if let Some(d) = dtmf {
        let _ = write!(fmts, " {d}");
        let _ = write!(maps, "a=rtpmap:{d} telephone-event/8000\r\na=fmtp:{d} 0-16\r\n");
    }
    format!(
        "v=0\r\no=svar {session_id} {session_id} IN {family} {ip}\r\ns=svar\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP{fmts}\r\n{maps}a=ptime:20\r\na=sendrecv\r\n",
        local.port()
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn push_ip_prints_as_display(a in any::<[u8; 4]>(), b in any::<[u8; 16]>()) {
            for ip in [std::net::IpAddr::from(a), std::net::IpAddr::from(b)] {
                let mut out = String::new();
                super::push_ip(&mut out, ip);
                prop_assert_eq!(out, ip.to_string());
            }
        }
    }
}
