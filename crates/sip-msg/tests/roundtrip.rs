//! parse → print → parse gives the same message, for generated messages.

use proptest::prelude::*;
use sip_msg::{Message, StreamFrame, parse_datagram, parse_stream};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9]{0,8}){0,2}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254).prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[2001:db8::1]".to_owned()),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    "[ -~]{0,40}".prop_map(|s| s.trim().to_owned())
}

prop_compose! {
    fn request_bytes()(
        method in prop_oneof![Just("INVITE".to_owned()), Just("OPTIONS".to_owned()), token()],
        user in "[a-z0-9+%]{1,10}",
        h in host(),
        port in proptest::option::of(1u16..),
        branch in "[a-zA-Z0-9]{1,16}",
        tag in token(),
        callid in "[a-zA-Z0-9@.-]{1,30}",
        seq in 0u32..(1 << 31),
        unknown in proptest::collection::vec(("X-[A-Za-z]{1,8}", header_value()), 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        compact in any::<bool>(),
    ) -> Vec<u8> {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let mut s = format!("{method} sip:{user}@{h}{port} SIP/2.0\r\n");
        s += &format!("{}: SIP/2.0/UDP {h}{port};branch=z9hG4bK{branch};rport\r\n", if compact { "v" } else { "Via" });
        s += &format!("From: <sip:{user}@{h}>;tag={tag}\r\nTo: sip:{user}@{h}\r\n");
        s += &format!("{}: {callid}\r\nCSeq: {seq} {method}\r\n", if compact { "i" } else { "Call-ID" });
        for (n, v) in &unknown {
            s += &format!("{n}: {v}\r\n");
        }
        s += &format!("Content-Length: {}\r\n\r\n", body.len());
        let mut out = s.into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

proptest! {
    #[test]
    fn parse_print_parse_is_identity(raw in request_bytes()) {
        let first = parse_datagram(&raw).expect("valid").expect("message");
        let printed = first.to_bytes();
        let second = parse_datagram(&printed).expect("reparse").expect("message");
        prop_assert_eq!(&first, &second);
        // the size computed before printing is the size printed
        let headers = match &first {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        };
        let mut lines = Vec::new();
        headers.write_to(&mut lines);
        prop_assert_eq!(headers.printed_len(), lines.len());
        if let Message::Request(r) = &first {
            prop_assert!(r.core().is_ok());
        }
        // the same bytes framed on a stream give the same message and consume all of it
        match parse_stream(&printed).expect("stream") {
            StreamFrame::Message { message, consumed } => {
                prop_assert_eq!(consumed, printed.len());
                prop_assert_eq!(*message, first);
            }
            other => prop_assert!(false, "unexpected frame {:?}", other),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_datagram(&raw);
        let _ = parse_stream(&raw);
        let _ = sip_msg::salvage_headers(&raw);
    }

    #[test]
    fn mutated_valid_messages_never_panic(raw in request_bytes(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut raw = raw;
        let i = pos.index(raw.len());
        raw[i] = byte;
        if let Ok(Some(Message::Request(r))) = parse_datagram(&raw) {
            let _ = r.core();
            let _ = r.headers.contacts();
            let _ = r.headers.vias();
        }
    }
}

fn to_value() -> impl Strategy<Value = String> {
    let display = prop_oneof![Just(String::new()), Just("Anne ".to_owned()), Just("\"A;tag=x>\" ".to_owned())];
    let uri_params =
        prop_oneof![Just(String::new()), Just(";transport=udp".to_owned()), Just(";tag=inside".to_owned())];
    let header_params = proptest::collection::vec(
        prop_oneof![
            Just("tag=abc".to_owned()),
            Just("TAG=Z".to_owned()),
            Just("x=1".to_owned()),
            Just("lr".to_owned())
        ],
        0..3,
    );
    (display, "[a-z0-9]{1,8}", host(), uri_params, header_params, any::<bool>()).prop_map(
        |(display, user, host, uri_params, params, angle)| {
            let params: String = params.iter().map(|p| format!(";{p}")).collect();
            if angle || !display.is_empty() || !uri_params.is_empty() {
                format!("{display}<sip:{user}@{host}{uri_params}>{params}")
            } else {
                format!("sip:{user}@{host}{params}")
            }
        },
    )
}

proptest! {
    #[test]
    fn cheap_tag_check_agrees_with_the_parsed_address(value in to_value()) {
        let parsed = sip_msg::NameAddr::parse(&value, "To").expect("valid To");
        prop_assert_eq!(sip_msg::has_header_param(&value, "tag"), parsed.tag().is_some());
        // a tag added to a response's To is the header's own parameter
        let mut resp = sip_msg::Response::from_headers(&sip_msg::Headers::new(), 200);
        resp.headers.push(sip_msg::HeaderName::To, value.clone());
        let added = resp.ensure_to_tag_with(|| "t0".to_owned()).expect("To present");
        prop_assert_eq!(added, parsed.tag().is_none());
        let after = resp.headers.to_addr().expect("still valid");
        prop_assert!(after.tag().is_some());
        prop_assert_eq!(after.uri, parsed.uri);
    }
}
