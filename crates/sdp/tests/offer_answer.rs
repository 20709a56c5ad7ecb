//! RFC 3264 offer/answer as svar does it for anchored media.

use std::net::SocketAddr;

use sdp::{Codec, MediaDirection, SdpError, anchor, answer, stream};

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
    let both = [Codec::Pcmu, Codec::Pcma];
    let text = anchor(&offer("sendrecv", "8 0 101", "a=x-kommune:egeskov\r\n"), svar(), &both).expect("anchored");
    assert!(text.contains("c=IN IP4 192.0.2.1"), "{text}");
    assert!(text.contains("m=audio 40000 RTP/AVP 8 0 101"), "{text}");
    assert!(text.contains("a=x-kommune:egeskov"), "unknown attributes pass through: {text}");
    assert!(text.contains("a=fmtp:101 0-16"), "{text}");
    assert!(!text.contains("198.51.100.7"), "{text}");
}

#[test]
fn anchoring_keeps_only_codecs_svar_speaks_and_telephone_event() {
    let g722 = offer("sendrecv", "9 8 101", "a=rtpmap:9 G722/8000\r\n");
    let text = anchor(&g722, svar(), &[Codec::Pcmu, Codec::Pcma]).expect("anchored");
    assert!(text.contains("m=audio 40000 RTP/AVP 8 101\r\n"), "{text}");
    assert!(!text.contains("G722"), "{text}");
    assert!(!text.contains("rtpmap:0 "), "maps of dropped formats go too: {text}");
    let only_g729 = "v=0\r\no=x 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    assert_eq!(anchor(only_g729, svar(), &[Codec::Pcmu]), Err(SdpError::NoCommonCodec(vec![18, 101])));
}

#[test]
fn a_stream_says_where_and_how_a_side_receives() {
    let s = stream(&offer("sendonly", "8 0 101", ""), &[Codec::Pcmu, Codec::Pcma]).expect("stream");
    assert_eq!(s.remote, "198.51.100.7:5004".parse().expect("addr"));
    assert_eq!(s.codecs, vec![(8, Codec::Pcma), (0, Codec::Pcmu)]);
    assert_eq!(s.dtmf_payload_type, Some(101));
    assert_eq!(s.direction, MediaDirection::SendOnly);
    assert!(s.sends(), "sendonly: the side still sends");
    let s = stream(&offer("recvonly", "0", ""), &[Codec::Pcmu]).expect("stream");
    assert!(!s.sends());
    assert_eq!(s.payload_type_of(Codec::Pcmu), Some(0));
    assert_eq!(s.payload_type_of(Codec::Pcma), None);
    let old_hold = offer("sendrecv", "0", "").replace("c=IN IP4 198.51.100.7", "c=IN IP4 0.0.0.0");
    assert!(!stream(&old_hold, &[Codec::Pcmu]).expect("stream").sends(), "RFC 2543 hold: c=0.0.0.0");
}

#[test]
fn svars_own_offer_reads_back_as_what_it_offers() {
    let text = sdp::offer(svar(), &[Codec::Pcma, Codec::Pcmu], Some(101), 7);
    let s = stream(&text, &[Codec::Pcmu, Codec::Pcma]).expect("parses");
    assert_eq!(s.remote, svar());
    assert_eq!(s.codecs, vec![(8, Codec::Pcma), (0, Codec::Pcmu)]);
    assert_eq!(s.dtmf_payload_type, Some(101));
    assert_eq!(s.direction, MediaDirection::SendRecv);
    let v6 = sdp::offer("[2001:db8::1]:40000".parse().expect("addr"), &[Codec::Pcmu], None, 7);
    assert!(v6.contains("c=IN IP6 2001:db8::1"), "{v6}");
    assert!(stream(&v6, &[Codec::Pcmu]).is_ok());
}

#[test]
fn telephone_event_counts_only_when_the_m_line_lists_it() {
    // an rtpmap for 101 but the m= line offers PCMU alone
    let s = stream(&offer("sendrecv", "0", ""), &[Codec::Pcmu]).expect("stream");
    assert_eq!(s.dtmf_payload_type, None);
    let (_, n) = answer(&offer("sendrecv", "0", ""), svar(), &[Codec::Pcmu], 1).expect("answer");
    assert_eq!(n.dtmf_payload_type, None);
}

#[test]
fn reading_and_rewriting_in_one_parse_gives_what_each_gives_alone() {
    let codecs = [Codec::Pcmu, Codec::Pcma];
    for body in [
        offer("sendrecv", "9 8 0 101", "a=rtpmap:9 G722/8000\r\nm=video 5006 RTP/AVP 96\r\n"),
        offer("sendonly", "0 101", ""),
    ] {
        let (s, text) = sdp::stream_and_anchor(&body, svar(), &codecs).expect("both");
        assert_eq!(s, stream(&body, &codecs).expect("stream"));
        assert_eq!(text, anchor(&body, svar(), &codecs).expect("anchor"));
    }
    let only_g729 = offer("sendrecv", "18", "a=rtpmap:18 G729/8000\r\n");
    assert!(sdp::stream_and_anchor(&only_g729, svar(), &codecs).is_err());
}

#[test]
fn anchoring_edits_only_what_it_must_and_passes_the_rest_byte_for_byte() {
    // the address only on the streams, the phone's own RTCP port, an unknown attribute,
    // a second stream, odd spacing in an attribute svar keeps
    let body = "v=0\r\no=anne 1 1 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\n\
                m=audio 5004 RTP/AVP 9 0 101\r\nc=IN IP4 198.51.100.7\r\na=rtpmap:9 G722/8000\r\n\
                a=rtpmap:101 telephone-event/8000\r\na=fmtp:101  0-15\r\na=rtcp:5005\r\na=x-foo:bar\r\n\
                m=video 5006 RTP/AVP 96\r\nc=IN IP4 198.51.100.7\r\na=rtpmap:96 H264/90000\r\n";
    let text = anchor(body, svar(), &[Codec::Pcmu]).expect("anchored");
    assert_eq!(
        text,
        "v=0\r\no=anne 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101  0-15\r\na=x-foo:bar\r\n\
         m=video 0 RTP/AVP 96\r\nc=IN IP4 198.51.100.7\r\na=rtpmap:96 H264/90000\r\n"
    );
    let s = stream(&text, &[Codec::Pcmu]).expect("reads back");
    assert_eq!((s.remote, s.dtmf_payload_type), (svar(), Some(101)));

    // IPv6 on both sides of svar, and a session c= replaced where it stood
    let v6 = "v=0\r\no=- 7 8 IN IP6 2001:db8::7\r\ns=-\r\nc=IN IP6 2001:db8::7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8\r\n";
    let text = anchor(v6, "[2001:db8::1]:40002".parse().expect("addr"), &[Codec::Pcma]).expect("anchored");
    assert_eq!(
        text,
        "v=0\r\no=- 7 8 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 8\r\n"
    );
}
