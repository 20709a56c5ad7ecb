//! CPU of the SIP engine alone (no sockets, no store, no media threads) per B2BUA call,
//! with the state a server carries at 1,000 calls/s: the flow of `bench/bench.py`'s call
//! phase (INVITE, 407, ACK, authenticated INVITE, 180, 200, ACK, BYE, 200, media
//! anchored) in virtual time, one call per millisecond, timers fed as the engine asks.
//! The first 40,000 calls fill the lingering transactions (64·T1 = 32 s of them) and are
//! counted apart (the socket benchmark's 30-second phase is all in that state); the next
//! 60,000 are the steady state, in six blocks of 10,000. Only the engine's own work
//! is timed (`handle_input` and taking its output); the callers and callees here are
//! plain text. Prints microseconds per call. Without the kernel and SIPp in the way it
//! differs by a few per cent between runs, where the socket benchmark differs by 10–20.
//!
//! With `SVAR_BENCH_COLD=1` a 4 MiB buffer is swept before every input (untimed), so the
//! engine meets caches as a live server does after the kernel and SIPp ran on its core:
//! that mode weighs what a message touches (code and data) rather than instructions.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pbx::{MediaSettings, Pbx, PbxOutput};
use sip::digest::{AuthConfig, Authenticator, answer_challenge};
use sip::registrar::{Binding, Registrar, RegistrarConfig};
use sip::{Endpoint, EndpointConfig, Input, Peer, Transport};
use sip_msg::{HeaderName, Message, Request, Response, parse_datagram};

mod common;
use common::{DOMAIN, PASSWORD};

// The allocator the svar binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WARM_UP: u32 = 40_000;
const BLOCK: u32 = 10_000;
const BLOCKS: u32 = 6;
const CALLER_SDP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
const CALLEE_SDP: &str = "v=0\r\no=callee 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

/// The engine under test and the time it has spent.
struct Server {
    pbx: Pbx,
    spent: Duration,
    out: Vec<(Peer, Vec<u8>)>,
    /// Swept before each input when measuring with cold caches.
    sweep: Vec<u64>,
}

impl Server {
    /// Evict the engine's code and data from the core's caches, as the kernel and the
    /// load generator do between two datagrams on a busy server (not timed).
    fn evict(&mut self) {
        for (i, w) in self.sweep.iter_mut().enumerate().step_by(8) {
            *w = w.wrapping_add(i as u64);
        }
        std::hint::black_box(&self.sweep);
    }

    fn feed(&mut self, now: Instant, peer: Peer, data: &[u8]) {
        self.out.clear();
        self.evict();
        let t = Instant::now();
        self.pbx.handle_input(Input::Datagram { now, peer, data }, 1_700_000_000_000);
        self.take_output();
        self.spent += t.elapsed();
    }

    fn expire(&mut self, now: Instant) {
        if self.pbx.poll_timeout().is_some_and(|at| at <= now) {
            self.evict();
        }
        let t = Instant::now();
        while self.pbx.poll_timeout().is_some_and(|at| at <= now) {
            self.pbx.handle_input(Input::Timeout(now), 1_700_000_000_000);
            self.take_output();
        }
        self.spent += t.elapsed();
    }

    fn take_output(&mut self) {
        while let Some(o) = self.pbx.poll_output() {
            if let PbxOutput::Transmit { peer, data } = o {
                self.out.push((peer, data));
            }
        }
    }

    /// The one message sent to `to` starting with `start`.
    fn sent(&self, to: Peer, start: &str) -> Message {
        let (_, data) = self
            .out
            .iter()
            .find(|(p, d)| *p == to && d.starts_with(start.as_bytes()))
            .unwrap_or_else(|| panic!("no {start} to {}", to.addr));
        parse_datagram(data).expect("svar's message parses").expect("a message")
    }
}

fn request(m: Message) -> Request {
    match m {
        Message::Request(r) => r,
        Message::Response(_) => panic!("a request"),
    }
}

fn response(m: Message) -> Response {
    match m {
        Message::Response(r) => r,
        Message::Request(_) => panic!("a response"),
    }
}

/// The callee's answer to a request svar sent it.
fn answer(req: &Request, status: u16, tag: &str, sdp: Option<&str>) -> Vec<u8> {
    let mut r = Response::to_request(req, status);
    r.ensure_to_tag(tag).expect("To");
    r.headers.push(HeaderName::Contact, "<sip:127.0.0.3:5070;transport=UDP>");
    if let Some(sdp) = sdp {
        r.set_body(Some("application/sdp"), bytes::Bytes::copy_from_slice(sdp.as_bytes()));
    }
    r.to_bytes()
}

fn main() {
    let svar = addr("127.0.0.1:5060");
    let caller = Peer { transport: Transport::Udp, addr: addr("127.0.0.2:5061") };
    let callee = Peer { transport: Transport::Udp, addr: addr("127.0.0.3:5070") };
    let media = MediaSettings {
        ip: svar.ip(),
        first_port: 10_000,
        last_port: 40_000,
        timeout: Duration::from_secs(30),
        codecs: vec![sdp::Codec::Pcma, sdp::Codec::Pcmu],
        dtmf_payload_type: 101,
        music_on_hold: None,
    };
    let cfg = common::config(svar, vec![common::user("2001"), common::user("2002")], Some(media));
    let t0 = Instant::now();
    let mut ep_cfg = EndpointConfig::new(vec![(Transport::Udp, svar)], 7);
    ep_cfg.auto_trying = false;
    let mut registrar = Registrar::new(RegistrarConfig::default());
    registrar.restore(
        0,
        [Binding {
            aor: "2002".into(),
            contact: format!("sip:2002@{}", callee.addr).parse().expect("uri"),
            params: vec![],
            q: 1.0,
            expires_at: i64::MAX / 2,
            call_id: "reg-2002".into(),
            cseq: 1,
            source: callee,
            user_agent: None,
        }],
    );
    let auth = Authenticator::new(AuthConfig::new(DOMAIN), [7; 32], t0);
    // SVAR_BENCH_COLD=1: sweep 4 MiB (more than this machine's 1 MiB L2 per core) before
    // every input, so each message starts with the caches a context switch leaves
    let cold = std::env::var_os("SVAR_BENCH_COLD").is_some_and(|v| v == "1");
    let sweep = if cold { vec![0u64; 4 << 20 >> 3] } else { Vec::new() };
    let mut server = Server {
        pbx: Pbx::new(Endpoint::new(ep_cfg), cfg, auth, registrar),
        spent: Duration::ZERO,
        out: Vec::new(),
        sweep,
    };

    let mut blocks = Vec::new();
    for i in 0..WARM_UP + BLOCK * BLOCKS {
        if i >= WARM_UP && (i - WARM_UP).is_multiple_of(BLOCK) {
            blocks.push(server.spent);
        }
        let now = t0 + Duration::from_millis(u64::from(i));
        server.expire(now);
        call(&mut server, now, i, caller, callee);
    }
    blocks.push(server.spent);
    let per_call: Vec<f64> = blocks.windows(2).map(|w| (w[1] - w[0]).as_secs_f64() * 1e6 / f64::from(BLOCK)).collect();
    let mut sorted = per_call.clone();
    sorted.sort_by(f64::total_cmp);
    let (active, tracked) = (server.pbx.active_calls(), server.pbx.tracked_requests());
    println!(
        "calls{}: {} B2BUA calls after {WARM_UP} to warm up ({:.1} µs per call while the lingering transactions pile up), engine time per call by block of {BLOCK}: {} µs; median {:.1} µs (active calls at the end {active}, tracked requests {tracked})",
        if cold { " (caches swept before each input)" } else { "" },
        BLOCK * BLOCKS,
        blocks[0].as_secs_f64() * 1e6 / f64::from(WARM_UP),
        per_call.iter().map(|v| format!("{v:.1}")).collect::<Vec<_>>().join(" / "),
        sorted[sorted.len() / 2],
    );
}

/// One call, as SIPp's `bench_uac.xml` and `bench_uas.xml` make it, hold time 0.
fn call(server: &mut Server, now: Instant, i: u32, caller: Peer, callee: Peer) {
    let call_id = format!("{i}-bench@127.0.0.2");
    let invite = |cseq: u32, branch: &str, auth: &str| {
        format!(
            "INVITE sip:2002@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5061;branch=z9hG4bK-{branch};rport\r\nFrom: <sip:2001@{DOMAIN}>;tag={i}a\r\nTo: <sip:2002@{DOMAIN}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:2001@127.0.0.2:5061>\r\n{auth}Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{CALLER_SDP}",
            CALLER_SDP.len()
        )
    };
    let in_dialog = |method: &str, uri: &str, cseq: u32, branch: &str, to: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5061;branch=z9hG4bK-{branch};rport\r\nFrom: <sip:2001@{DOMAIN}>;tag={i}a\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
    };

    server.feed(now, caller, invite(1, &format!("{i}-1"), "").as_bytes());
    let challenged = response(server.sent(caller, "SIP/2.0 407"));
    let to = challenged.headers.get(&HeaderName::To).expect("To").to_owned();
    let challenge = challenged.headers.get(&HeaderName::ProxyAuthenticate).expect("challenge").to_owned();
    server.feed(now, caller, in_dialog("ACK", "sip:2002@127.0.0.1:5060", 1, &format!("{i}-1"), &to).as_bytes());
    let credentials = answer_challenge(&challenge, "INVITE", "sip:2002@127.0.0.1:5060", "2001", PASSWORD, "c0ffee", 1)
        .expect("answer");
    let authorization = format!("Proxy-Authorization: {credentials}\r\n");
    server.feed(now, caller, invite(2, &format!("{i}-2"), &authorization).as_bytes());
    let outgoing = request(server.sent(callee, "INVITE"));

    let tag = format!("callee{i}");
    server.feed(now, callee, &answer(&outgoing, 180, &tag, None));
    server.feed(now, callee, &answer(&outgoing, 200, &tag, Some(CALLEE_SDP)));
    let answered = response(server.sent(caller, "SIP/2.0 200"));
    let to = answered.headers.get(&HeaderName::To).expect("To").to_owned();
    let target = answered.headers.get(&HeaderName::Contact).expect("Contact");
    let target = target.trim().trim_start_matches('<').split('>').next().expect("uri").to_owned();

    server.feed(now, caller, in_dialog("ACK", &target, 2, &format!("{i}-3"), &to).as_bytes());
    server.feed(now, caller, in_dialog("BYE", &target, 3, &format!("{i}-4"), &to).as_bytes());
    let bye = request(server.sent(callee, "BYE"));
    let early = server.out.iter().any(|(p, d)| *p == caller && d.starts_with(b"SIP/2.0 200"));
    server.feed(now, callee, &answer(&bye, 200, &tag, None));
    assert!(early || server.out.iter().any(|(p, d)| *p == caller && d.starts_with(b"SIP/2.0 200")), "the BYE answered");
}
