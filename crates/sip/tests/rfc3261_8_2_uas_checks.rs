//! The UAS core's refusals (RFC 3261 §8.2) and malformed input, each with its status.

use std::time::Instant;

use sip::{Endpoint, EndpointConfig, Event, Input, Output, Peer, Transport};
use sip_msg::{Message, parse_datagram};

const SRC: &str = "192.0.2.7:5062";

fn endpoint() -> Endpoint {
    Endpoint::new(EndpointConfig::new(vec![(Transport::Udp, "192.0.2.1:5060".parse().expect("addr"))], 1))
}

fn base(method: &str, uri: &str, extra: &[&str], body: &str) -> Vec<u8> {
    let mut s = format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK{}\r\nFrom: <sip:anne@kommune.example>;tag=f1\r\nTo: <sip:svar@kommune.example>\r\nCall-ID: chk-{}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n",
        method.len() * 7 + uri.len() + extra.len() * 13 + body.len(),
        extra.join("").len()
    );
    for e in extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.into_bytes()
}

/// Send one datagram; return (responses sent, events).
fn feed(ep: &mut Endpoint, data: &[u8]) -> (Vec<sip_msg::Response>, Vec<Event>) {
    let peer = Peer::udp(SRC.parse().expect("addr"));
    ep.handle_input(Input::Datagram { now: Instant::now(), peer, data });
    let mut resps = Vec::new();
    let mut events = Vec::new();
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit { data, peer: to } => {
                assert_eq!(to, peer, "responses go back to the source (rport or received)");
                match parse_datagram(&data) {
                    Ok(Some(Message::Response(r))) => resps.push(r),
                    other => panic!("sent something unparsable: {other:?}"),
                }
            }
            Output::Event(e) => events.push(e),
        }
    }
    (resps, events)
}

fn status_of(data: &[u8]) -> (u16, sip_msg::Response) {
    let mut ep = endpoint();
    let (r, _) = feed(&mut ep, data);
    let last = r.last().cloned().expect("a response");
    (last.status, last)
}

#[test]
fn unknown_method_gets_501_with_allow() {
    let (s, r) = status_of(&base("FROBNICATE", "sip:svar@kommune.example", &[], ""));
    assert_eq!(s, 501);
    assert!(r.headers.get(&sip_msg::HeaderName::Allow).is_some_and(|a| a.contains("INVITE")));
}

#[test]
fn known_but_unhandled_method_gets_405_with_allow() {
    let (s, r) = status_of(&base("SUBSCRIBE", "sip:svar@kommune.example", &[], ""));
    assert_eq!(s, 405);
    assert!(r.headers.get(&sip_msg::HeaderName::Allow).is_some());
}

#[test]
fn unknown_uri_scheme_gets_416() {
    assert_eq!(status_of(&base("OPTIONS", "unknownscheme:foo", &[], "")).0, 416);
}

#[test]
fn request_uri_with_headers_gets_400() {
    assert_eq!(status_of(&base("OPTIONS", "sip:svar@kommune.example?Route=%3Csip:x%3E", &[], "")).0, 400);
}

#[test]
fn max_forwards_zero_gets_483() {
    let raw = String::from_utf8(base("INVITE", "sip:svar@kommune.example", &[], ""))
        .expect("utf8")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    let mut ep = endpoint();
    let (r, _) = feed(&mut ep, raw.as_bytes());
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![483]);
}

#[test]
fn unsupported_require_gets_420_listing_the_tags() {
    let (s, r) = status_of(&base(
        "OPTIONS",
        "sip:svar@kommune.example",
        &["Require: nothingSupportedHere", "Proxy-Require: noProxiesSupportThis"],
        "",
    ));
    assert_eq!(s, 420);
    let u = r.headers.get(&sip_msg::HeaderName::Unsupported).expect("Unsupported");
    assert!(u.contains("nothingsupportedhere") && u.contains("noproxiessupportthis"), "{u}");
}

#[test]
fn unknown_content_type_gets_415_with_accept() {
    let (s, r) =
        status_of(&base("INVITE", "sip:svar@kommune.example", &["Content-Type: application/unknownformat"], "<audio>"));
    assert_eq!(s, 415);
    assert_eq!(r.headers.get(&sip_msg::HeaderName::Accept), Some("application/sdp"));
}

#[test]
fn accept_without_sdp_gets_406() {
    assert_eq!(status_of(&base("INVITE", "sip:svar@kommune.example", &["Accept: text/nobodyKnowsThis"], "")).0, 406);
}

#[test]
fn merged_request_gets_482() {
    let mut ep = endpoint();
    let first = base("INVITE", "sip:svar@kommune.example", &[], "");
    let (r, ev) = feed(&mut ep, &first);
    assert_eq!(r[0].status, 100);
    assert!(matches!(ev.last(), Some(Event::Request { .. })));
    // the same request forked back to us with another branch
    let second = String::from_utf8(first).expect("utf8").replace("branch=z9hG4bK", "branch=z9hG4bKloop");
    let (r, ev) = feed(&mut ep, second.as_bytes());
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![482]);
    assert!(!ev.iter().any(|e| matches!(e, Event::Request { .. })));
}

#[test]
fn missing_call_id_gets_400_and_unknown_version_505() {
    let raw = String::from_utf8(base("OPTIONS", "sip:svar@kommune.example", &[], "")).expect("utf8");
    let no_cid: String = raw
        .lines()
        .filter(|l| !l.starts_with("Call-ID"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace('\n', "\r\n")
        .replace("\r\r\n", "\r\n");
    assert_eq!(status_of(no_cid.as_bytes()).0, 400);
    assert_eq!(status_of(raw.replace(" SIP/2.0\r\n", " SIP/3.0\r\n").as_bytes()).0, 505);
    assert_eq!(status_of(raw.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE").as_bytes()).0, 400);
}

#[test]
fn garbage_and_broken_responses_are_dropped_silently() {
    let mut ep = endpoint();
    for junk in [
        &b"\x00\x01\x02 garbage"[..],
        b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
        b"SIP/2.0 999 Big\r\n\r\n",
        b"\r\n\r\n",
    ] {
        let (r, _) = feed(&mut ep, junk);
        assert!(r.is_empty(), "{junk:?} got a response");
    }
    // and the endpoint keeps serving
    let (r, _) = feed(&mut ep, &base("OPTIONS", "sip:svar@kommune.example", &[], ""));
    assert!(r.is_empty(), "OPTIONS waits for the TU");
}

#[test]
fn a_malformed_ack_gets_no_response() {
    let mut ep = endpoint();
    let raw = String::from_utf8(base("ACK", "sip:svar@kommune.example", &["Broken header line"], "")).expect("utf8");
    let (r, ev) = feed(&mut ep, raw.as_bytes());
    assert!(r.is_empty(), "ACK answered: {r:?}");
    assert!(matches!(ev.as_slice(), [Event::Rejected { status: None, .. }]));
}

#[test]
fn received_and_rport_are_stamped_on_the_top_via() {
    let mut ep = endpoint();
    let raw = String::from_utf8(base("OPTIONS", "sip:svar@kommune.example", &[], ""))
        .expect("utf8")
        .replace("192.0.2.7:5062;branch", "10.0.0.5:5060;rport;branch");
    let (_, ev) = feed(&mut ep, raw.as_bytes());
    let Some(Event::Request { core, .. }) = ev.into_iter().find(|e| matches!(e, Event::Request { .. })) else {
        panic!("no request")
    };
    assert_eq!(core.via.param("received").flatten(), Some("192.0.2.7"));
    assert_eq!(core.via.rport(), Some(Some(5062)));
}

#[test]
fn stamping_the_top_via_keeps_the_other_vias_in_order() {
    // Two values in the top Via line and one more line: only the first value changes.
    let mut ep = endpoint();
    let raw = String::from_utf8(base("OPTIONS", "sip:svar@kommune.example", &[], ""))
        .expect("utf8")
        .replace("192.0.2.7:5062;branch", "10.0.0.5:5060;rport;branch")
        .replace(
            "\r\nFrom:",
            " , SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKinner\r\nVia: SIP/2.0/TCP 10.0.0.10;branch=z9hG4bKlast\r\nFrom:",
        );
    assert!(raw.contains("z9hG4bKinner"), "test message: {raw}");
    let (_, ev) = feed(&mut ep, raw.as_bytes());
    let Some(Event::Request { request, .. }) = ev.into_iter().find(|e| matches!(e, Event::Request { .. })) else {
        panic!("no request")
    };
    let vias = request.headers.vias().expect("vias");
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].param("received").and_then(|p| p.value.as_deref()), Some("192.0.2.7"));
    assert_eq!(vias[0].rport(), Some(Some(5062)));
    assert_eq!(vias[1].branch(), Some("z9hG4bKinner"));
    assert_eq!(vias[2].branch(), Some("z9hG4bKlast"));
    assert_eq!(vias[2].transport, "TCP");
}

#[test]
fn a_challenge_answered_statelessly_holds_no_transaction() {
    // RFC 3261 §8.2.7: a UAS may challenge without state. The retransmitted request is
    // then a new request for the TU (which challenges again), not a replay of the 401.
    let mut ep = endpoint();
    let register = base("REGISTER", "sip:kommune.example", &["Contact: <sip:anne@192.0.2.7:5062>"], "");
    let (_, events) = feed(&mut ep, &register);
    let Some(Event::Request { tx, request, .. }) = events.into_iter().next() else { panic!("a request event") };
    let challenge = sip_msg::Response::to_request(&request, 401);
    ep.respond_and_forget(Instant::now(), tx, challenge).expect("sent");
    let mut sent = Vec::new();
    while let Some(o) = ep.poll_output() {
        if let Output::Transmit { data, .. } = o {
            sent.push(status_of_bytes(&data));
        }
    }
    assert_eq!(sent, vec![401]);
    assert_eq!(ep.transaction_count().1, 0, "no server transaction kept through Timer J");
    let (resps, events) = feed(&mut ep, &register);
    assert!(resps.is_empty(), "no stored 401 replayed");
    assert!(matches!(events.as_slice(), [Event::Request { .. }]), "the TU sees it again: {events:?}");
}

fn status_of_bytes(data: &[u8]) -> u16 {
    match parse_datagram(data) {
        Ok(Some(Message::Response(r))) => r.status,
        other => panic!("not a response: {other:?}"),
    }
}
