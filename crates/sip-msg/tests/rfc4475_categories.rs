//! Our own messages for each category of the SIP torture tests (RFC 4475 §3): what must be
//! accepted, what must be rejected with which status, and what passes through untouched.

use sip_msg::{Message, ParseError, StreamFrame, parse_datagram, parse_stream};

fn msg(lines: &[&str], body: &str) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n\r\n");
    s.push_str(body);
    s.into_bytes()
}

const BASE: &[&str] = &[
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9",
    "From: \"Anne Andersen\" <sip:anne@kommune.example>;tag=9fxced76sl",
    "To: <sip:borgerservice@kommune.example>",
    "Call-ID: 3848276298220188511@192.0.2.1",
    "CSeq: 1 INVITE",
    "Max-Forwards: 70",
];

fn invite_with(extra: &[&str], body: &str) -> Vec<u8> {
    let mut lines = vec!["INVITE sip:borgerservice@kommune.example SIP/2.0"];
    lines.extend_from_slice(BASE);
    lines.extend_from_slice(extra);
    msg(&lines, body)
}

fn request(bytes: &[u8]) -> sip_msg::Request {
    match parse_datagram(bytes) {
        Ok(Some(Message::Request(r))) => r,
        other => panic!("expected request, got {other:?}"),
    }
}

#[test]
fn tortuous_but_valid_whitespace_folding_and_compact_forms() {
    let raw = msg(
        &[
            "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0",
            "TO :",
            " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>",
            "  ;",
            "  tag = 98asjd8",
            "MaX-fOrWaRdS: 0068",
            "Call-ID: wsinv.ndaksdj@192.0.2.1",
            "Content-Length   : 0",
            "cseq: 0009",
            "  INVITE",
            "Via  : SIP  /   2.0",
            " /UDP",
            "    192.0.2.2;branch=390skdjuw",
            "s :",
            "NewFangledHeader:   newfangled value",
            " continued newfangled value",
            "UnknownHeaderWithUnusualValue: ;;,,;;,;",
            "m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =",
            "      newvalue ;",
            "  secondparam ; q = 0.33",
        ],
        "",
    );
    let req = request(&raw);
    let core = req.core().expect("core");
    assert_eq!(core.cseq.seq, 9);
    assert_eq!(core.from.tag(), Some("98asjd8"));
    assert_eq!(core.to.tag(), Some("1918181833n"));
    assert_eq!(core.from.addr().expect("From").display.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(req.headers.max_forwards().expect("mf"), Some(68));
    assert_eq!(core.via.branch(), Some("390skdjuw"));
    let contacts = req.headers.contacts().expect("contact").expect("present");
    let sip_msg::Contacts::List(list) = contacts else { panic!("star") };
    assert_eq!(list[0].param("q").and_then(|p| p.value.as_deref()), Some("0.33"));
    // unknown headers print byte for byte, folding included
    let printed = String::from_utf8(req.to_bytes()).expect("utf8");
    assert!(printed.contains("NewFangledHeader: newfangled value\r\n continued newfangled value\r\n"));
    assert!(printed.contains("UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"));
    assert!(printed.contains("TO: \r\n sip:vivekg"));
}

#[test]
fn trailing_octets_after_content_length_are_ignored_in_a_datagram() {
    let mut raw = invite_with(&["Content-Type: application/sdp", "Content-Length: 4"], "v=0\n");
    raw.extend_from_slice(b"INVITE sip:second@example SIP/2.0\r\n\r\n");
    let req = request(&raw);
    assert_eq!(&req.body[..], b"v=0\n");
}

#[test]
fn missing_content_length_over_udp_takes_the_rest() {
    let req = request(&invite_with(&[], "abc"));
    assert_eq!(&req.body[..], b"abc");
}

#[test]
fn escaped_and_unusual_request_uris_are_accepted() {
    let raw = String::from_utf8(invite_with(&[], "")).expect("utf8").replace(
        "INVITE sip:borgerservice@kommune.example SIP/2.0",
        "INVITE sip:sips%3Auser%40example.com@example.net;%ab=%cd SIP/2.0",
    );
    let req = request(raw.as_bytes());
    let uri = req.uri.as_sip().expect("sip");
    assert_eq!(uri.user_unescaped().as_deref(), Some("sips:user@example.com"));
    assert!(
        String::from_utf8(req.to_bytes())
            .expect("utf8")
            .starts_with("INVITE sip:sips%3Auser%40example.com@example.net;%ab=%cd SIP/2.0")
    );
}

#[test]
fn unknown_method_and_unknown_scheme_parse_for_the_application_to_judge() {
    let raw = String::from_utf8(invite_with(&[], ""))
        .expect("utf8")
        .replace("INVITE sip:borgerservice@kommune.example", "NEWMETHOD unknownscheme:foo")
        .replace("CSeq: 1 INVITE", "CSeq: 1 NEWMETHOD");
    let req = request(raw.as_bytes());
    assert_eq!(req.method.as_str(), "NEWMETHOD");
    assert_eq!(req.uri.scheme(), "unknownscheme");
}

#[test]
fn empty_and_unusual_reason_phrases() {
    for line in ["SIP/2.0 200 ", "SIP/2.0 200", "SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять"]
    {
        let mut lines = vec![line];
        lines.extend_from_slice(BASE);
        match parse_datagram(&msg(&lines, "")) {
            Ok(Some(Message::Response(r))) => assert_eq!(r.status, 200),
            other => panic!("{line}: {other:?}"),
        }
    }
}

fn rejects(raw: &[u8], expect: fn(&ParseError) -> bool, status: u16) {
    let err = match parse_datagram(raw) {
        Err(e) => e,
        Ok(Some(Message::Request(r))) => r.core().expect_err("core must fail"),
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(expect(&err), "unexpected error {err:?}");
    assert_eq!(err.status(), status, "{err:?}");
}

#[test]
fn content_length_larger_than_datagram_is_rejected() {
    rejects(&invite_with(&["Content-Length: 9999"], "v=0"), |e| matches!(e, ParseError::BodyTruncated { .. }), 400);
}

#[test]
fn negative_and_conflicting_content_length_are_rejected() {
    rejects(&invite_with(&["Content-Length: -999"], ""), |e| matches!(e, ParseError::ContentLength("negative")), 400);
    rejects(
        &invite_with(&["Content-Length: 3", "l: 4"], "abcd"),
        |e| matches!(e, ParseError::ContentLength("conflicting values")),
        400,
    );
    // the same value twice is unambiguous
    assert!(parse_datagram(&invite_with(&["Content-Length: 3", "l: 3"], "abc")).is_ok());
}

#[test]
fn overlarge_scalar_fields_are_rejected() {
    let raw = String::from_utf8(invite_with(&[], ""))
        .expect("utf8")
        .replace("CSeq: 1 INVITE", "CSeq: 36893488147419103232 INVITE");
    rejects(raw.as_bytes(), |e| matches!(e, ParseError::InvalidHeader { header: "CSeq", .. }), 400);
    let req = request(
        &String::from_utf8(invite_with(&[], ""))
            .expect("utf8")
            .replace("Max-Forwards: 70", "Max-Forwards: 300")
            .into_bytes(),
    );
    assert!(req.headers.max_forwards().is_err());
    let req = request(&invite_with(&["Expires: 10000000000000"], ""));
    assert!(req.headers.expires().is_err());
}

#[test]
fn unterminated_quote_in_display_name_is_rejected() {
    let raw = String::from_utf8(invite_with(&[], ""))
        .expect("utf8")
        .replace("From: \"Anne Andersen\" <", "From: \"Anne Andersen <");
    rejects(raw.as_bytes(), |e| matches!(e, ParseError::InvalidHeader { header: "From", .. }), 400);
}

#[test]
fn malformed_request_lines_are_rejected() {
    let base = String::from_utf8(invite_with(&[], "")).expect("utf8");
    for bad in [
        "INVITE <sip:borgerservice@kommune.example> SIP/2.0",
        "INVITE sip:borgerservice@kommune.example; lr SIP/2.0",
        "INVITE  sip:borgerservice@kommune.example  SIP/2.0",
        "INVITE sip:borgerservice@kommune.example SIP/2.0 ",
        "INVITE sip:borger service@kommune.example SIP/2.0",
    ] {
        let raw = base.replace("INVITE sip:borgerservice@kommune.example SIP/2.0", bad);
        let err = parse_datagram(raw.as_bytes()).expect_err(bad);
        assert_eq!(err.status(), 400, "{bad}: {err:?}");
    }
}

#[test]
fn unknown_sip_version_is_505() {
    let raw = String::from_utf8(invite_with(&[], "")).expect("utf8").replace("SIP/2.0\r\n", "SIP/7.0\r\n");
    rejects(raw.as_bytes(), |e| matches!(e, ParseError::UnsupportedVersion(_)), 505);
}

#[test]
fn cseq_method_mismatch_is_rejected() {
    let raw = String::from_utf8(invite_with(&[], "")).expect("utf8").replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS");
    rejects(raw.as_bytes(), |e| matches!(e, ParseError::MethodMismatch { .. }), 400);
}

#[test]
fn missing_mandatory_headers_are_rejected() {
    for drop in ["Via:", "From:", "To:", "Call-ID:", "CSeq:"] {
        let raw: Vec<&str> = std::iter::once("OPTIONS sip:x@kommune.example SIP/2.0")
            .chain(BASE.iter().copied().filter(|l| !l.starts_with(drop)))
            .collect();
        let raw = String::from_utf8(msg(&raw, "")).expect("utf8").replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS");
        rejects(raw.as_bytes(), |e| matches!(e, ParseError::MissingHeader(_)), 400);
    }
}

#[test]
fn multiple_values_in_single_value_headers_are_rejected() {
    let req = request(&invite_with(&["Call-ID: second@192.0.2.1"], ""));
    assert!(matches!(req.core(), Err(ParseError::MultipleValues("Call-ID"))));
}

#[test]
fn status_codes_outside_range_are_rejected() {
    for line in ["SIP/2.0 4294967301 Fail", "SIP/2.0 099 Low", "SIP/2.0 700 High", "SIP/2.0 2x0 OK"] {
        let mut lines = vec![line];
        lines.extend_from_slice(BASE);
        assert!(parse_datagram(&msg(&lines, "")).is_err(), "{line}");
    }
}

#[test]
fn header_line_without_colon_and_non_utf8_are_rejected() {
    assert_eq!(parse_datagram(&invite_with(&["NoColonHere"], "")).expect_err("colon"), ParseError::HeaderLine);
    let mut raw = invite_with(&[], "");
    raw.splice(0..0, b"".iter().copied());
    let pos = raw.iter().position(|&c| c == b'A').expect("an A");
    raw[pos] = 0xff;
    assert_eq!(parse_datagram(&raw).expect_err("utf8"), ParseError::NotUtf8);
}

#[test]
fn keepalives_and_leading_crlf() {
    assert!(matches!(parse_datagram(b"\r\n\r\n"), Ok(None)));
    let mut raw = b"\r\n\r\n".to_vec();
    raw.extend(invite_with(&["Content-Length: 0"], ""));
    // a datagram with leading CRLFs before the start line is accepted (§7.5)
    assert!(matches!(parse_datagram(&raw), Ok(Some(Message::Request(_)))));
}

#[test]
fn stream_framing_is_incomplete_until_the_body_arrives() {
    let raw = invite_with(&["Content-Type: text/plain", "Content-Length: 5"], "hello");
    for cut in [0, 10, raw.len() - 6, raw.len() - 1] {
        assert!(matches!(parse_stream(&raw[..cut]).expect("partial"), StreamFrame::Incomplete), "cut {cut}");
    }
    let mut two = raw.clone();
    two.extend_from_slice(&raw);
    match parse_stream(&two).expect("whole") {
        StreamFrame::Message { consumed, message } => {
            let Message::Request(r) = *message else { panic!("expected a request") };
            assert_eq!(consumed, raw.len());
            assert_eq!(&r.body[..], b"hello");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(parse_stream(b"\r\n\r\nINV").expect("ka"), StreamFrame::KeepAlive { consumed: 4 }));
}

#[test]
fn too_many_headers_is_a_typed_error() {
    let extra: Vec<String> = (0..200).map(|i| format!("X-H{i}: v")).collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    assert!(matches!(parse_datagram(&invite_with(&extra, "")), Err(ParseError::TooManyHeaders { max: 128, .. })));
}
