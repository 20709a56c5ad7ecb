//! RFC 3264 offer/answer as svar does it for anchored media.

use std::net::SocketAddr;

use sdp::{Codec, MediaDirection, SdpError, anchor, answer};

const SVAR: &str = "192.0.2.1:40000";

fn svar() -> SocketAddr {
    SVAR.parse().expect("addr")
}

fn offer(direction: &str, fmts: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=anne 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP {fmts}\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na={direction}\r\n{extra}"
    )
}

#[test]
fn the_offerers_first_common_codec_and_telephone_event_are_answered_from_svars_address() {
    let (text, n) = answer(&offer("sendrecv", "8 0 101", ""), svar(), &[Codec::Pcmu, Codec::Pcma], 42).expect("answer");
    assert_eq!(n.codec, Codec::Pcma, "the offerer's order decides");
    assert_eq!((n.payload_type, n.dtmf_payload_type), (8, Some(101)));
    assert_eq!(n.remote, "198.51.100.7:5004".parse().expect("addr"));
    assert_eq!(n.direction, MediaDirection::SendRecv);
    assert!(text.contains("c=IN IP4 192.0.2.1"), "{text}");
    assert!(text.contains("m=audio 40000 RTP/AVP 8 101"), "{text}");
    assert!(text.contains("a=rtpmap:101 telephone-event/8000"), "{text}");
    assert!(text.contains("a=fmtp:101 0-16"), "{text}");
    assert!(!text.contains("198.51.100.7"), "nothing of the offerer's address in the answer: {text}");
    assert!(sdp::parse(&text).is_ok(), "the answer parses");
}

#[test]
fn hold_is_answered_in_the_mirror_direction() {
    let (_, n) = answer(&offer("sendonly", "0 101", ""), svar(), &[Codec::Pcmu], 1).expect("answer");
    assert_eq!(n.direction, MediaDirection::RecvOnly);
    let (_, n) = answer(&offer("inactive", "0", ""), svar(), &[Codec::Pcmu], 1).expect("answer");
    assert_eq!(n.direction, MediaDirection::Inactive);
    let (_, n) = answer(&offer("recvonly", "0", ""), svar(), &[Codec::Pcmu], 1).expect("answer");
    assert_eq!(n.direction, MediaDirection::SendOnly);
}

#[test]
fn no_common_codec_is_an_error_the_b2bua_answers_with_488() {
    let g729 = "v=0\r\no=x 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    assert_eq!(
        answer(g729, svar(), &[Codec::Pcmu, Codec::Pcma], 1).map(|x| x.1),
        Err(SdpError::NoCommonCodec(vec![18]))
    );
    assert!(matches!(answer("not sdp at all", svar(), &[Codec::Pcmu], 1), Err(SdpError::Parse(_))));
}

#[test]
fn other_streams_are_refused_with_port_zero_not_dropped() {
    let with_video = offer("sendrecv", "0", "m=video 5006 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n");
    let (text, n) = answer(&with_video, svar(), &[Codec::Pcmu], 1).expect("answer");
    assert_eq!(n.codec, Codec::Pcmu);
    assert!(text.contains("m=video 0 "), "{text}");
    assert_eq!(text.matches("m=").count(), 2, "one m= line per offered stream");
}

#[test]
fn an_anchored_offer_keeps_everything_but_the_address() {
    let text = anchor(&offer("sendrecv", "8 0 101", "a=x-kommune:egeskov\r\n"), svar()).expect("anchored");
    assert!(text.contains("c=IN IP4 192.0.2.1"), "{text}");
    assert!(text.contains("m=audio 40000 RTP/AVP 8 0 101"), "{text}");
    assert!(text.contains("a=x-kommune:egeskov"), "unknown attributes pass through: {text}");
    assert!(text.contains("a=fmtp:101 0-16"), "{text}");
    assert!(!text.contains("198.51.100.7"), "{text}");
}
