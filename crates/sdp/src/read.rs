//! A reader for what svar needs of an SDP body (RFC 4566): the streams (`m=`), their
//! formats, `a=rtpmap`s, connection addresses and directions. Anchoring reads every offer
//! and answer of every call, and the whole-description parse took about 22,000
//! instructions per body (two per call, 7 % of the SIP engine's work); this reader borrows
//! from the body and builds one small vector per stream. The text itself is what passes
//! on ([`crate::anchor_parsed`] edits it line by line), so nothing the reader skips is lost.
//!
//! It refuses what is not SDP: a line that is not `<letter>=<value>`, a missing or
//! malformed `o=`, a missing `s=` or `t=`, a malformed `c=`, `m=` or `a=rtpmap`.

use std::net::IpAddr;

use crate::text::{split, split_once};
use crate::{MediaDirection, SdpError};

/// A connection address (`c=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// An IP literal.
    Ip(IpAddr),
    /// A host name (svar does not resolve names in SDP).
    Name,
}

/// `a=rtpmap:<payload> <encoding>/<clock rate>[/<parameters>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// Payload type.
    pub payload: u8,
    /// Encoding name as written.
    pub encoding: &'a str,
    /// Clock rate in Hz.
    pub clock_rate: u32,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media<'a> {
    /// Media type as written (`audio`, `video`, ...).
    pub kind: &'a str,
    /// Port (0: the stream is refused or disabled).
    pub port: u16,
    /// The numeric formats (payload types) in the offerer's order.
    pub fmts: Vec<u8>,
    /// Its `a=rtpmap` lines.
    pub rtpmap: Vec<RtpMap<'a>>,
    /// Its own `c=`, if any.
    pub connection: Option<Connection>,
    /// Its own direction attribute, if any.
    pub direction: Option<MediaDirection>,
}

/// What svar reads of an SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp<'a> {
    /// The session-level `c=`, if any.
    pub connection: Option<Connection>,
    /// The session-level direction (send and receive when not given).
    pub direction: MediaDirection,
    /// The streams in order.
    pub media: Vec<Media<'a>>,
}

fn bad(what: &str) -> SdpError {
    SdpError::Parse(what.to_owned())
}

fn direction_attribute(value: &str) -> Option<MediaDirection> {
    Some(match value {
        "sendrecv" => MediaDirection::SendRecv,
        "sendonly" => MediaDirection::SendOnly,
        "recvonly" => MediaDirection::RecvOnly,
        "inactive" => MediaDirection::Inactive,
        _ => return None,
    })
}

/// `c=IN IP4 192.0.2.1` (a multicast `/ttl` suffix is ignored).
fn connection(value: &str) -> Result<Connection, SdpError> {
    let mut t = split(value, b' ');
    let (Some("IN"), Some(family), Some(address), None) = (t.next(), t.next(), t.next(), t.next()) else {
        return Err(bad("c= is not `IN <IP4|IP6> <address>`"));
    };
    let address = split(address, b'/').next().unwrap_or_default();
    let ip: Option<IpAddr> = match family {
        "IP4" => address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        "IP6" => address.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        _ => return Err(bad("c= address type is neither IP4 nor IP6")),
    };
    match ip {
        Some(ip) => Ok(Connection::Ip(ip)),
        None if !address.is_empty() => Ok(Connection::Name),
        None => Err(bad("c= without an address")),
    }
}

/// `m=<media> <port>[/<count>] <proto> <fmt> ...`.
fn media(value: &str) -> Result<Media<'_>, SdpError> {
    let mut t = split(value, b' ').filter(|p| !p.is_empty());
    let (Some(kind), Some(port), Some(_proto)) = (t.next(), t.next(), t.next()) else {
        return Err(bad("m= is not `<media> <port> <proto> <fmt> ...`"));
    };
    let port = split(port, b'/').next().unwrap_or_default();
    let port: u16 = port.parse().map_err(|_| bad("m= port is not a number below 65536"))?;
    // non-numeric formats (`*` for BFCP, `t38`) are not RTP payload types
    let fmts = t.filter_map(|f| f.parse::<u8>().ok()).collect();
    Ok(Media { kind, port, fmts, rtpmap: Vec::new(), connection: None, direction: None })
}

/// The value of `a=rtpmap:`.
fn rtpmap(value: &str) -> Result<RtpMap<'_>, SdpError> {
    let malformed = || bad("a=rtpmap is not `<payload> <encoding>/<rate>`");
    let (payload, rest) = split_once(value, b' ').ok_or_else(malformed)?;
    let mut t = split(rest.trim_start(), b'/');
    let (Some(encoding), Some(rate)) = (t.next(), t.next()) else { return Err(malformed()) };
    Ok(RtpMap {
        payload: payload.parse().map_err(|_| malformed())?,
        encoding,
        clock_rate: rate.trim_end().parse().map_err(|_| malformed())?,
    })
}

/// Read an SDP body.
///
/// # Errors
/// Not SDP (see the module documentation).
pub fn read(body: &str) -> Result<Sdp<'_>, SdpError> {
    let mut sdp = Sdp { connection: None, direction: MediaDirection::SendRecv, media: Vec::new() };
    let (mut origin, mut name, mut time) = (false, false, false);
    for line in split(body, b'\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
            return Err(bad("a line is not `<type>=<value>`"));
        }
        let value = &line[2..];
        match b[0] {
            b'o' => {
                if split(value, b' ').filter(|p| !p.is_empty()).count() != 6 {
                    return Err(bad("o= does not have six fields"));
                }
                origin = true;
            }
            b's' => name = true,
            b't' => time = true,
            b'c' => {
                let c = connection(value)?;
                match sdp.media.last_mut() {
                    Some(m) => m.connection = Some(c),
                    None => sdp.connection = Some(c),
                }
            }
            b'm' => sdp.media.push(media(value)?),
            b'a' => {
                if let Some(map) = value.strip_prefix("rtpmap:") {
                    let map = rtpmap(map)?;
                    if let Some(m) = sdp.media.last_mut() {
                        m.rtpmap.push(map);
                    }
                } else if let Some(d) = direction_attribute(value) {
                    match sdp.media.last_mut() {
                        Some(m) => m.direction = Some(d),
                        None => sdp.direction = d,
                    }
                }
            }
            _ => {}
        }
    }
    match (origin, name, time) {
        (false, _, _) => Err(bad("no origin (o=)")),
        (_, false, _) => Err(bad("no session name (s=)")),
        (_, _, false) => Err(bad("no time (t=)")),
        _ => Ok(sdp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\na=sendonly\r\n\
        m=audio 5004 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\nm=video 5006 RTP/AVP 96\r\nc=IN IP6 2001:db8::7\r\na=inactive\r\n";

    #[test]
    fn reads_streams_formats_maps_addresses_and_directions() {
        let sdp = read(OFFER).expect("reads");
        assert_eq!(sdp.connection, Some(Connection::Ip("198.51.100.7".parse().expect("ip"))));
        assert_eq!(sdp.direction, MediaDirection::SendOnly);
        assert_eq!(sdp.media.len(), 2);
        let audio = &sdp.media[0];
        assert_eq!((audio.kind, audio.port, audio.fmts.as_slice()), ("audio", 5004, &[8, 0, 101][..]));
        assert_eq!(audio.rtpmap[1], RtpMap { payload: 101, encoding: "telephone-event", clock_rate: 8000 });
        assert_eq!((audio.connection, audio.direction), (None, None));
        let video = &sdp.media[1];
        assert_eq!(video.connection, Some(Connection::Ip("2001:db8::7".parse().expect("ip"))));
        assert_eq!(video.direction, Some(MediaDirection::Inactive));
    }

    #[test]
    fn refuses_what_is_not_sdp() {
        let cases = [
            ("not sdp at all", "a line is not"),
            ("v=0\r\ns=-\r\nt=0 0\r\n", "no origin"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n", "no session name"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", "no time"),
            ("v=0\r\no=- 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", "six fields"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IPX a\r\nt=0 0\r\n", "neither IP4"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", "port"),
            ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", "rtpmap"),
        ];
        for (body, why) in cases {
            match read(body) {
                Err(SdpError::Parse(e)) => assert!(e.contains(why), "{body:?}: {e}"),
                other => panic!("{body:?} read as {other:?}"),
            }
        }
    }

    #[test]
    fn host_names_multicast_ttls_and_non_rtp_formats_are_read_not_refused() {
        let body = "v=0\r\no=- 1 1 IN IP4 host.example\r\ns=-\r\nc=IN IP4 224.2.1.1/127\r\nt=0 0\r\n\
            m=application 9 UDP/BFCP *\r\nc=IN IP4 pbx.example\r\n";
        let sdp = read(body).expect("reads");
        assert_eq!(sdp.connection, Some(Connection::Ip("224.2.1.1".parse().expect("ip"))));
        assert_eq!(sdp.media[0].fmts, Vec::<u8>::new());
        assert_eq!(sdp.media[0].connection, Some(Connection::Name));
    }
}
