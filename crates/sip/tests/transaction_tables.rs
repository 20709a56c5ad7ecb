//! How server transactions are found and forgotten: ids that outlive their transaction,
//! retransmissions matched by sent-by in any case (RFC 3261 §17.2.3), and merge keys
//! (§8.2.2.2) released when their transaction ends.

use std::time::Instant;

use sip::{Endpoint, EndpointConfig, EngineError, Event, Input, Output, Peer, ServerTxId, Transport};
use sip_msg::{Message, Response, parse_datagram};

fn endpoint() -> Endpoint {
    Endpoint::new(EndpointConfig::new(vec![(Transport::Udp, "192.0.2.1:5060".parse().expect("addr"))], 3))
}

fn options(branch: &str, host: &str, call_id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:svar@kommune.example SIP/2.0\r\nVia: SIP/2.0/UDP {host}:5062;branch=z9hG4bK{branch}\r\nFrom: <sip:anne@kommune.example>;tag=f1\r\nTo: <sip:svar@kommune.example>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Feed a datagram; the statuses sent and the ids of new requests handed to the TU.
fn feed(ep: &mut Endpoint, data: &[u8]) -> (Vec<u16>, Vec<ServerTxId>) {
    let peer = Peer::udp("192.0.2.7:5062".parse().expect("addr"));
    ep.handle_input(Input::Datagram { now: Instant::now(), peer, data });
    drain(ep)
}

fn drain(ep: &mut Endpoint) -> (Vec<u16>, Vec<ServerTxId>) {
    let (mut statuses, mut requests) = (Vec::new(), Vec::new());
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit { data, .. } => match parse_datagram(&data) {
                Ok(Some(Message::Response(r))) => statuses.push(r.status),
                other => panic!("sent something that is not a response: {other:?}"),
            },
            Output::Event(e) => {
                if let Event::Request { tx, .. } = e {
                    requests.push(tx);
                }
            }
        }
    }
    (statuses, requests)
}

fn ok_for(data: &[u8], status: u16) -> Response {
    match parse_datagram(data).expect("parses").expect("a message") {
        Message::Request(r) => Response::to_request(&r, status),
        Message::Response(_) => unreachable!("a request"),
    }
}

#[test]
fn the_id_of_an_ended_transaction_never_reaches_the_one_that_took_its_place() {
    let mut ep = endpoint();
    let first = options("a", "192.0.2.7", "c1");
    let (_, ids) = feed(&mut ep, &first);
    let old = ids[0];
    ep.respond_and_forget(Instant::now(), old, ok_for(&first, 200)).expect("answered");
    assert_eq!(drain(&mut ep).0, vec![200]);
    assert_eq!(ep.transaction_count().1, 0, "forgotten at once");

    let second = options("b", "192.0.2.7", "c2");
    let (_, ids) = feed(&mut ep, &second);
    let new = ids[0];
    assert_ne!(new, old);
    let late = ep.respond(Instant::now(), old, ok_for(&first, 486));
    assert!(matches!(late, Err(EngineError::NoSuchServerTx(id)) if id == old), "{late:?}");
    assert!(drain(&mut ep).0.is_empty(), "nothing sent for the ended transaction");
    ep.respond(Instant::now(), new, ok_for(&second, 200)).expect("the new one still answers");
    assert_eq!(drain(&mut ep).0, vec![200]);
}

#[test]
fn a_retransmission_whose_sent_by_differs_only_in_case_is_absorbed() {
    let mut ep = endpoint();
    let first = options("x", "Phone.Kommune.Example", "c3");
    let (_, ids) = feed(&mut ep, &first);
    ep.respond(Instant::now(), ids[0], ok_for(&first, 200)).expect("answered");
    assert_eq!(drain(&mut ep).0, vec![200]);
    let (statuses, ids) = feed(&mut ep, &options("x", "phone.kommune.example", "c3"));
    assert_eq!(statuses, vec![200], "the final response again");
    assert!(ids.is_empty(), "not a new request");
    let (statuses, ids) = feed(&mut ep, &options("x", "other.kommune.example", "c3"));
    // another sent-by is another transaction: not absorbed, and with the first's From
    // tag, Call-ID and CSeq while the first lingers, a merged request
    assert_eq!(statuses, vec![482]);
    assert!(ids.is_empty());
}

#[test]
fn a_merge_key_is_released_when_its_transaction_ends() {
    let mut ep = endpoint();
    let first = options("m1", "192.0.2.7", "c4");
    let (_, ids) = feed(&mut ep, &first);
    // the same request with another branch while the first is open: a loop (482)
    let (statuses, _) = feed(&mut ep, &options("m2", "192.0.2.7", "c4"));
    assert_eq!(statuses, vec![482]);
    ep.respond_and_forget(Instant::now(), ids[0], ok_for(&first, 200)).expect("answered");
    drain(&mut ep);
    let (statuses, ids) = feed(&mut ep, &options("m3", "192.0.2.7", "c4"));
    assert!(statuses.is_empty(), "no longer merged: {statuses:?}");
    assert_eq!(ids.len(), 1, "handed to the TU");
}

#[test]
fn a_completed_transaction_re_sends_its_response_until_timer_j_and_then_ends() {
    let mut ep = endpoint();
    let first = options("j1", "192.0.2.7", "c5");
    let (_, ids) = feed(&mut ep, &first);
    let t0 = Instant::now();
    let mut answer = ok_for(&first, 202);
    answer.reason = "Taken".into();
    ep.respond(t0, ids[0], answer).expect("answered");
    let sent = |ep: &mut Endpoint| -> Vec<Vec<u8>> {
        std::iter::from_fn(|| ep.poll_output())
            .filter_map(|o| if let Output::Transmit { data, .. } = o { Some(data) } else { None })
            .collect()
    };
    let original = sent(&mut ep);
    assert_eq!(ep.transaction_count().1, 1, "kept for Timer J");
    // a retransmission is answered with the same bytes, and reaches no TU
    let peer = Peer::udp("192.0.2.7:5062".parse().expect("addr"));
    ep.handle_input(Input::Datagram { now: t0, peer, data: &first });
    assert_eq!(sent(&mut ep), original);
    // Timer J is 64·T1 = 32 s: the engine asks to be woken then, and the transaction ends
    let j = t0 + std::time::Duration::from_secs(32);
    assert!(ep.poll_timeout().is_some_and(|at| at <= j), "woken by Timer J at the latest");
    ep.handle_input(Input::Timeout(j));
    assert_eq!(ep.transaction_count().1, 0, "ended by Timer J");
    let (statuses, ids) = feed(&mut ep, &first);
    assert!(statuses.is_empty() && ids.len() == 1, "after Timer J the same request is new: {statuses:?}");
}
