//! Transactions in simulated time (RFC 3261 §17, RFC 6026).

mod common;

use std::time::Duration;

use common::{SimNet, request};
use sip::{Event, Transport};
use sip_msg::{Method, Response};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn invite_retransmits_until_timer_b() {
    let mut net = SimNet::new(2, 1, Transport::Udp);
    let dead: std::net::SocketAddr = "192.0.2.99:5060".parse().expect("addr");
    let req = request(Method::Invite, dead, "c1", 1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, req, sip::Peer::udp(dead)).expect("send");
    net.run_until(Duration::from_secs(40));
    let times: Vec<u64> = net.nodes[0].sent.iter().map(|(t, _)| t.as_millis() as u64).collect();
    // Timer A: T1, then doubling without cap: 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5 s
    assert_eq!(times, vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
    let ev = net.take_events(0);
    assert_eq!(ev.len(), 1);
    assert!(matches!(ev[0], (t, Event::Timeout { .. }) if t == Duration::from_secs(32)));
    assert_eq!(net.nodes[0].ep.transaction_count(), (0, 0));
}

#[test]
fn a_ringing_callee_may_ring_past_timer_b() {
    let mut net = SimNet::new(2, 21, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "ring", 1), uas).expect("send");
    net.run_until(ms(50));
    answer(&mut net, 180);
    net.run_until(Duration::from_secs(60));
    assert!(
        !net.take_events(0).iter().any(|(_, e)| matches!(e, Event::Timeout { .. })),
        "Timer B must not fire in Proceeding"
    );
}

#[test]
fn cancelled_invite_without_final_ends_after_64_t1() {
    let mut net = SimNet::new(2, 22, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    let tx = net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "ring2", 1), uas).expect("send");
    net.run_until(ms(50));
    answer(&mut net, 180);
    net.run_until(Duration::from_secs(10));
    let now = net.now;
    net.nodes[0].ep.send_cancel(now, tx).expect("cancel");
    // the callee's TU never sends 487
    net.run_until(Duration::from_secs(60));
    let ev = net.take_events(0);
    assert!(
        ev.iter().any(|(t, e)| matches!(e, Event::Timeout { tx: x } if *x == tx) && *t >= Duration::from_secs(42)),
        "{ev:?}"
    );
}

#[test]
fn non_invite_retransmits_cap_at_t2_and_timer_f_fires() {
    let mut net = SimNet::new(1, 2, Transport::Udp);
    let dead: std::net::SocketAddr = "192.0.2.99:5060".parse().expect("addr");
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Options, dead, "c2", 1), sip::Peer::udp(dead)).expect("send");
    net.run_until(Duration::from_secs(40));
    let times: Vec<u64> = net.nodes[0].sent.iter().map(|(t, _)| t.as_millis() as u64).collect();
    // Timer E: .5, 1, 2, 4, 4, 4 ... until Timer F at 32 s
    assert_eq!(times, vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    assert!(matches!(net.take_events(0)[..], [(t, Event::Timeout { .. })] if t == Duration::from_secs(32)));
}

#[test]
fn reliable_transport_sends_once() {
    let mut net = SimNet::new(1, 3, Transport::Tcp);
    let dead: std::net::SocketAddr = "192.0.2.99:5060".parse().expect("addr");
    let now = net.now;
    let peer = sip::Peer { transport: Transport::Tcp, addr: dead };
    net.nodes[0].ep.send_request(now, request(Method::Invite, dead, "c3", 1), peer).expect("send");
    net.run_until(Duration::from_secs(40));
    assert_eq!(net.nodes[0].sent.len(), 1);
}

/// UAS (node 1) answers each request with `status` at once.
fn answer(net: &mut SimNet, status: u16) -> Vec<sip::ServerTxId> {
    let mut ids = Vec::new();
    for (_, e) in net.take_events(1) {
        if let Event::Request { tx, request, .. } = e {
            let mut resp = Response::to_request(&request, status);
            resp.ensure_to_tag("uas1").expect("tag");
            let now = net.now;
            net.nodes[1].ep.respond(now, tx, resp).expect("respond");
            ids.push(tx);
        }
    }
    ids
}

#[test]
fn non_2xx_final_is_acked_by_the_client_transaction_and_absorbed() {
    let mut net = SimNet::new(2, 4, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "c4", 1), uas).expect("send");
    net.run_until(ms(50));
    assert_eq!(answer(&mut net, 486).len(), 1);
    net.run_until(Duration::from_secs(60));
    // the UAC saw 100 and 486 and sent exactly one ACK, with the response's To tag and
    // the INVITE's branch
    let responses: Vec<u16> = net
        .take_events(0)
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Response { response, .. } => Some(response.status),
            _ => None,
        })
        .collect();
    assert_eq!(responses, vec![100, 486]);
    let acks: Vec<String> = net.nodes[0]
        .sent
        .iter()
        .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
        .filter(|s| s.starts_with("ACK "))
        .collect();
    assert_eq!(acks.len(), 1);
    assert!(acks[0].contains("tag=uas1"));
    let invite = String::from_utf8_lossy(&net.nodes[0].sent[0].1).into_owned();
    let branch = |s: &str| s.split("branch=").nth(1).and_then(|b| b.split([';', '\r']).next()).map(str::to_owned);
    assert_eq!(branch(&acks[0]), branch(&invite));
    // the ACK did not reach the UAS TU, and every transaction is gone after Timers D and I
    assert!(net.take_events(1).is_empty());
    assert_eq!(net.nodes[0].ep.transaction_count(), (0, 0));
    assert_eq!(net.nodes[1].ep.transaction_count(), (0, 0));
}

#[test]
fn server_retransmits_non_2xx_until_timer_h_without_ack() {
    let mut net = SimNet::new(2, 5, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    // a client that disappears after sending: drop everything towards node 0
    net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "c5", 1), uas).expect("send");
    net.run_until(ms(50));
    net.nodes[0].addr = "192.0.2.200:5060".parse().expect("gone");
    answer(&mut net, 480);
    net.run_until(Duration::from_secs(40));
    let finals: Vec<u64> = net.nodes[1]
        .sent
        .iter()
        .filter(|(_, d)| d.starts_with(b"SIP/2.0 480"))
        .map(|(t, _)| t.as_millis() as u64)
        .collect();
    // Timer G from 50 ms: +.5, +1.5, +3.5, +7.5, then every T2 = 4 s until H at +32 s
    assert_eq!(finals, vec![50, 550, 1550, 3550, 7550, 11550, 15550, 19550, 23550, 27550, 31550]);
    assert_eq!(net.nodes[1].ep.transaction_count(), (0, 0));
}

#[test]
fn uas_retransmits_2xx_until_ack_and_passes_ack_to_tu() {
    let mut net = SimNet::new(2, 6, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "c6", 1), uas).expect("send");
    net.run_until(ms(50));
    answer(&mut net, 200);
    // the UAC TU does not ACK for 2 s: the UAS retransmits at .5 and 1.5 s
    net.run_until(Duration::from_secs(2));
    let oks = net.nodes[1].sent.iter().filter(|(_, d)| d.starts_with(b"SIP/2.0 200")).count();
    assert_eq!(oks, 3);
    // every 2xx (retransmissions too) reaches the UAC TU (RFC 6026)
    let uac_oks = net
        .take_events(0)
        .into_iter()
        .filter(|(_, e)| matches!(e, Event::Response { response, .. } if response.status == 200))
        .count();
    assert_eq!(uac_oks, 3);
    let mut ack = request(Method::Ack, uas.addr, "c6", 1);
    ack.headers.set(sip_msg::HeaderName::To, format!("<sip:svar@{}>;tag=uas1", uas.addr));
    net.nodes[0].ep.send_ack(ack, uas, None).expect("ack");
    net.run_until(Duration::from_secs(60));
    assert_eq!(net.nodes[1].sent.iter().filter(|(_, d)| d.starts_with(b"SIP/2.0 200")).count(), 3);
    let ev = net.take_events(1);
    assert!(ev.iter().any(|(_, e)| matches!(e, Event::Ack { .. })));
    assert!(!ev.iter().any(|(_, e)| matches!(e, Event::AckTimeout { .. })));
}

#[test]
fn unacked_2xx_reports_ack_timeout() {
    let mut net = SimNet::new(2, 7, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "c7", 1), uas).expect("send");
    net.run_until(ms(50));
    let tx = answer(&mut net, 200)[0];
    net.run_until(Duration::from_secs(40));
    let ev = net.take_events(1);
    assert!(
        ev.iter().any(|(t, e)| matches!(e, Event::AckTimeout { tx: x } if *x == tx) && *t >= Duration::from_secs(32))
    );
}

#[test]
fn retransmitted_request_gets_the_last_response_not_a_new_event() {
    let mut net = SimNet::new(2, 8, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Options, uas.addr, "c8", 1), uas).expect("send");
    // UAS TU is slow: retransmissions at .5 and 1.5 arrive before the answer
    net.run_until(Duration::from_secs(2));
    assert_eq!(answer(&mut net, 200).len(), 1);
    net.run_until(Duration::from_secs(3));
    let ev0 = net.take_events(0);
    let finals =
        ev0.iter().filter(|(_, e)| matches!(e, Event::Response { response, .. } if response.status == 200)).count();
    assert_eq!(finals, 1, "a non-INVITE client transaction delivers one final");
}

#[test]
fn cancel_before_provisional_waits_then_cancels() {
    let mut net = SimNet::new(2, 9, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    let tx = net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "c9", 1), uas).expect("send");
    net.nodes[0].ep.send_cancel(now, tx).expect("cancel");
    net.drain();
    assert!(!net.nodes[0].sent.iter().any(|(_, d)| d.starts_with(b"CANCEL")), "no CANCEL before a provisional");
    net.run_until(ms(100));
    // the 100 Trying arrived, so the CANCEL went out, and the UAS TU was told
    assert!(net.nodes[0].sent.iter().any(|(_, d)| d.starts_with(b"CANCEL")));
    let ev = net.take_events(1);
    let invite = ev
        .iter()
        .find_map(|(_, e)| match e {
            Event::Request { tx, request, .. } if request.method == Method::Invite => Some((*tx, request.clone())),
            _ => None,
        })
        .expect("invite");
    assert!(ev.iter().any(|(_, e)| matches!(e, Event::Cancelled { invite: i } if *i == invite.0)));
    let now = net.now;
    net.nodes[1].ep.respond(now, invite.0, Response::to_request(&invite.1, 487)).expect("487");
    net.run_until(Duration::from_secs(1));
    let statuses: Vec<(Method, u16)> = net
        .take_events(0)
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Response { response, core, .. } => Some((core.cseq.method, response.status)),
            _ => None,
        })
        .collect();
    assert!(statuses.contains(&(Method::Cancel, 200)));
    assert!(statuses.contains(&(Method::Invite, 487)));
}

#[test]
fn cancel_races_200() {
    let mut net = SimNet::new(2, 10, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    let tx = net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "c10", 1), uas).expect("send");
    net.run_until(ms(30)); // 100 Trying has arrived at the UAC
    // both sides act at the same instant: the UAS answers 200, the UAC cancels
    answer(&mut net, 200);
    let now = net.now;
    net.nodes[0].ep.send_cancel(now, tx).expect("cancel");
    net.run_until(Duration::from_secs(1));
    let uac = net.take_events(0);
    let got = |m: Method, s: u16| {
        uac.iter().any(|(_, e)| matches!(e, Event::Response { response, core, .. } if core.cseq.method == m && response.status == s))
    };
    // the INVITE succeeded and the CANCEL got 200 but had no effect: the TU must ACK and BYE
    assert!(got(Method::Invite, 200));
    assert!(got(Method::Cancel, 200));
    assert!(!got(Method::Invite, 487));
    assert!(!net.take_events(1).iter().any(|(_, e)| matches!(e, Event::Cancelled { .. })));
}

#[test]
fn cancel_for_unknown_transaction_gets_481() {
    let mut net = SimNet::new(2, 11, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Cancel, uas.addr, "c11", 1), uas).expect("send");
    net.run_until(Duration::from_secs(1));
    assert!(
        net.take_events(0).iter().any(|(_, e)| matches!(e, Event::Response { response, .. } if response.status == 481))
    );
}

#[test]
fn lossy_duplicating_network_never_delivers_two_finals_per_non_invite() {
    for seed in 0..40 {
        let mut net = SimNet::new(2, 100 + seed, Transport::Udp);
        net.loss = 0.3;
        net.dup = 0.2;
        let uas = net.peer(1);
        let now = net.now;
        for i in 0..5 {
            net.nodes[0]
                .ep
                .send_request(now, request(Method::Options, uas.addr, &format!("l{i}"), 1), uas)
                .expect("send");
        }
        for step in 1..=64 {
            net.run_until(ms(step * 500));
            answer(&mut net, 200);
        }
        let ev = net.take_events(0);
        for i in 0..5 {
            let cid = format!("l{i}");
            let finals = ev.iter().filter(|(_, e)| matches!(e, Event::Response { core, response, .. } if core.call_id == cid && response.status >= 200)).count();
            let timeouts = ev.iter().filter(|(_, e)| matches!(e, Event::Timeout { .. })).count();
            assert!(finals <= 1, "seed {seed}: {finals} finals for {cid}");
            assert!(finals == 1 || timeouts > 0, "seed {seed}: {cid} neither answered nor timed out");
        }
        // Timer J and K run out 64·T1 after the last final; then nothing may remain
        net.run_until(Duration::from_secs(70));
        assert_eq!(net.nodes[0].ep.transaction_count(), (0, 0), "seed {seed}: client transactions leak");
        assert_eq!(net.nodes[1].ep.transaction_count(), (0, 0), "seed {seed}: server transactions leak");
    }
}

#[test]
fn reordered_and_tampered_datagrams_never_break_the_rules() {
    // INVITEs and OPTIONS over a network that loses, duplicates, reorders (up to 400 ms of
    // jitter against a T1 of 500 ms) and corrupts bytes: no panic, at most one final per
    // non-INVITE transaction, every transaction ends, nothing leaks.
    for seed in 0..30 {
        let mut net = SimNet::new(2, 500 + seed, Transport::Udp);
        net.loss = 0.1;
        net.dup = 0.2;
        net.jitter = Duration::from_millis(400);
        net.tamper = 0.05;
        let uas = net.peer(1);
        let now = net.now;
        for i in 0..4 {
            let m = if i % 2 == 0 { Method::Invite } else { Method::Options };
            net.nodes[0].ep.send_request(now, request(m, uas.addr, &format!("t{i}"), 1), uas).expect("send");
        }
        for step in 1..=80 {
            net.run_until(ms(step * 400));
            answer(&mut net, if step % 2 == 0 { 486 } else { 200 });
        }
        net.run_until(Duration::from_secs(100));
        let ev = net.take_events(0);
        for i in [1, 3] {
            let cid = format!("t{i}");
            let finals = ev
                .iter()
                .filter(|(_, e)| matches!(e, Event::Response { core, response, .. } if core.call_id == cid && response.status >= 200))
                .count();
            assert!(finals <= 1, "seed {seed}: {finals} finals for {cid}");
        }
        assert_eq!(net.nodes[0].ep.pending_requests(), 0, "seed {seed}: a client transaction never ended");
        assert_eq!(net.nodes[0].ep.transaction_count(), (0, 0), "seed {seed}: client transactions leak");
        assert_eq!(net.nodes[1].ep.transaction_count(), (0, 0), "seed {seed}: server transactions leak");
    }
}

#[test]
fn a_sent_request_carries_our_via_with_a_fresh_rfc3261_branch_and_rport() {
    // §8.1.1.7 (branch with the magic cookie), RFC 3581 §3 (rport without a value)
    let mut net = SimNet::new(2, 9, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Options, uas.addr, "c9", 1), uas).expect("send");
    net.run_until(ms(1));
    let sent = String::from_utf8_lossy(&net.nodes[0].sent[0].1).into_owned();
    let via = sent.lines().find_map(|l| l.strip_prefix("Via: ")).expect("a Via line");
    let prefix = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK";
    assert!(via.starts_with(prefix) && via.ends_with(";rport"), "{via}");
    let branch = &via[prefix.len() - "z9hG4bK".len()..via.len() - ";rport".len()];
    assert!(branch.len() > "z9hG4bK".len() && sip_msg::text::is_token(branch), "{via}");
}

/// A datagram `from` node to node `to`, delivered now (a retransmission the network
/// would carry).
fn replay(net: &mut SimNet, from: usize, to: usize, data: &[u8]) {
    let now = net.now;
    let peer = net.peer(from);
    net.nodes[to].ep.handle_input(sip::Input::Datagram { now, peer, data });
}

fn sent_starting(net: &SimNet, node: usize, prefix: &[u8]) -> Vec<Vec<u8>> {
    net.nodes[node].sent.iter().filter(|(_, d)| d.starts_with(prefix)).map(|(_, d)| d.clone()).collect()
}

#[test]
fn after_the_ack_of_a_non_2xx_a_retransmitted_final_is_re_acked_and_the_invite_absorbed() {
    // The transactions keep only what they still need after the ACK (the client its ACK,
    // the server nothing to re-send): a late retransmission on either side must still
    // get the RFC's answer (§17.1.1.2: re-ACK; §17.2.1: Confirmed absorbs).
    let mut net = SimNet::new(2, 31, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "late1", 1), uas).expect("send");
    net.run_until(ms(50));
    answer(&mut net, 486);
    net.run_until(Duration::from_secs(1));
    let invite = sent_starting(&net, 0, b"INVITE ").remove(0);
    let busy = sent_starting(&net, 1, b"SIP/2.0 486").remove(0);
    let acks = sent_starting(&net, 0, b"ACK ");
    assert_eq!(acks.len(), 1);
    let uas_sent = net.nodes[1].sent.len();
    replay(&mut net, 1, 0, &busy);
    replay(&mut net, 0, 1, &invite);
    net.run_until(Duration::from_secs(2));
    let acks_now = sent_starting(&net, 0, b"ACK ");
    assert_eq!(acks_now.len(), 2, "the retransmitted 486 is ACKed again");
    assert_eq!(acks_now[1], acks[0], "with the same ACK");
    assert_eq!(net.nodes[1].sent.len(), uas_sent, "the INVITE retransmission after the ACK is absorbed");
    assert!(net.take_events(1).is_empty(), "nothing reaches the UAS's TU");
}

#[test]
fn after_the_ack_of_a_2xx_a_retransmitted_invite_is_absorbed_and_the_2xx_still_reaches_the_tu() {
    let mut net = SimNet::new(2, 32, Transport::Udp);
    let uas = net.peer(1);
    let now = net.now;
    net.nodes[0].ep.send_request(now, request(Method::Invite, uas.addr, "late2", 1), uas).expect("send");
    net.run_until(ms(50));
    answer(&mut net, 200);
    net.run_until(ms(100));
    let mut ack = request(Method::Ack, uas.addr, "late2", 1);
    ack.headers.set(sip_msg::HeaderName::To, format!("<sip:svar@{}>;tag=uas1", uas.addr));
    net.nodes[0].ep.send_ack(ack, uas, None).expect("ack");
    net.run_until(Duration::from_secs(1));
    net.take_events(0);
    net.take_events(1);
    let invite = sent_starting(&net, 0, b"INVITE ").remove(0);
    let ok = sent_starting(&net, 1, b"SIP/2.0 200").remove(0);
    let uas_sent = net.nodes[1].sent.len();
    replay(&mut net, 0, 1, &invite);
    replay(&mut net, 1, 0, &ok);
    net.run_until(Duration::from_secs(2));
    assert_eq!(net.nodes[1].sent.len(), uas_sent, "Accepted absorbs the INVITE (RFC 6026 §7.1)");
    assert!(net.take_events(1).is_empty(), "and does not pass it to the TU");
    let oks = net.take_events(0);
    assert!(
        matches!(&oks[..], [(_, Event::Response { response, .. })] if response.status == 200),
        "a 2xx retransmission still reaches the UAC's TU (RFC 6026 §7.2): {oks:?}"
    );
}
