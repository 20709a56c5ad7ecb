//! The light reader (`sdp::parse`) against the whole-description parser it replaced on
//! the call path (`ezk-sdp-types`): over generated offers, both give the same stream (or
//! the same kind of refusal).

use std::net::{IpAddr, SocketAddr};

use bytesstr::BytesStr;
use ezk_sdp_types::{Direction, MediaType, SessionDescription, TaggedAddress};
use proptest::prelude::*;
use sdp::{Codec, MediaDirection, SdpError, Stream};

const SUPPORTED: [Codec; 2] = [Codec::Pcma, Codec::Pcmu];

/// The stream as the ezk-based code read it before the reader.
fn stream_by_ezk(body: &str) -> Result<Stream, SdpError> {
    let sdp = SessionDescription::parse(&BytesStr::from(body)).map_err(|e| SdpError::Parse(e.to_string()))?;
    let m = sdp
        .media_descriptions
        .iter()
        .find(|m| m.media.media_type == MediaType::Audio && m.media.port != 0)
        .ok_or(SdpError::NoAudio)?;
    let codec_of = |pt: u8| {
        let map = m.rtpmap.iter().find(|r| r.payload == pt).map(|r| (r.encoding.to_ascii_uppercase(), r.clock_rate));
        match (pt, map) {
            (_, Some((n, 8000))) if n == "PCMU" => Some(Codec::Pcmu),
            (_, Some((n, 8000))) if n == "PCMA" => Some(Codec::Pcma),
            (0, None) => Some(Codec::Pcmu),
            (8, None) => Some(Codec::Pcma),
            _ => None,
        }
    };
    let codecs: Vec<(u8, Codec)> =
        m.media.fmts.iter().filter_map(|&pt| codec_of(pt).filter(|c| SUPPORTED.contains(c)).map(|c| (pt, c))).collect();
    if codecs.is_empty() {
        return Err(SdpError::NoCommonCodec(m.media.fmts.clone()));
    }
    let c = m.connection.as_ref().or(sdp.connection.as_ref()).ok_or(SdpError::NoAddress)?;
    let ip = match &c.address {
        TaggedAddress::IP4(a) => IpAddr::V4(*a),
        TaggedAddress::IP6(a) => IpAddr::V6(*a),
        _ => return Err(SdpError::NoAddress),
    };
    let direction = if m.direction == Direction::SendRecv { sdp.direction } else { m.direction };
    let dtmf = m
        .rtpmap
        .iter()
        .find(|r| {
            r.encoding.eq_ignore_ascii_case("telephone-event")
                && r.clock_rate == 8000
                && m.media.fmts.contains(&r.payload)
        })
        .map(|r| r.payload);
    Ok(Stream {
        remote: SocketAddr::new(ip, m.media.port),
        codecs,
        dtmf_payload_type: dtmf,
        direction: match direction {
            Direction::SendRecv => MediaDirection::SendRecv,
            Direction::SendOnly => MediaDirection::SendOnly,
            Direction::RecvOnly => MediaDirection::RecvOnly,
            Direction::Inactive => MediaDirection::Inactive,
        },
    })
}

fn connection() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        None,
        Some("IN IP4 198.51.100.7"),
        Some("IN IP6 2001:db8::7"),
        Some("IN IP4 pbx.example"),
    ])
}

fn direction() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![None, Some("sendrecv"), Some("sendonly"), Some("recvonly"), Some("inactive")])
}

prop_compose! {
    fn media()(
        kind in prop::sample::select(vec!["audio", "audio", "audio", "video"]),
        port in prop::sample::select(vec![0u16, 5004, 5004, 40000]),
        fmts in prop::sample::subsequence(vec![0u8, 8, 18, 96, 101], 1..=5),
        maps in prop::sample::subsequence(
            vec!["0 PCMU/8000", "8 pcma/8000", "8 PCMA/16000", "96 PCMU/8000", "101 telephone-event/8000", "18 G729/8000"],
            0..=4,
        ),
        c in connection(),
        dir in direction(),
    ) -> String {
        let list: Vec<String> = fmts.iter().map(u8::to_string).collect();
        let mut m = format!("m={kind} {port} RTP/AVP {}\r\n", list.join(" "));
        if let Some(c) = c {
            m.push_str(&format!("c={c}\r\n"));
        }
        for map in maps {
            m.push_str(&format!("a=rtpmap:{map}\r\n"));
        }
        if let Some(d) = dir {
            m.push_str(&format!("a={d}\r\n"));
        }
        m
    }
}

prop_compose! {
    fn body()(c in connection(), dir in direction(), media in prop::collection::vec(media(), 1..3)) -> String {
        let mut b = String::from("v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\n");
        if let Some(c) = c {
            b.push_str(&format!("c={c}\r\n"));
        }
        b.push_str("t=0 0\r\n");
        if let Some(d) = dir {
            b.push_str(&format!("a={d}\r\n"));
        }
        for m in media {
            b.push_str(&m);
        }
        b
    }
}

proptest! {
    #[test]
    fn the_reader_finds_the_stream_ezk_found(body in body()) {
        // (about a third of the generated offers have a usable stream; the rest are refusals)
        let ours = sdp::stream(&body, &SUPPORTED);
        let theirs = stream_by_ezk(&body);
        match (&ours, &theirs) {
            (Err(SdpError::Parse(_)), Err(SdpError::Parse(_))) => {}
            _ => prop_assert_eq!(ours, theirs, "{}", body),
        }
    }
}
