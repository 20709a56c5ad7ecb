//! CPU of the SIP engine alone (no sockets, no store) per authenticated REGISTER: the
//! unauthenticated REGISTER and its 401, then the REGISTER with credentials and its 200,
//! for 10,000 users. Only the server side is timed (the client's digest is not). Prints
//! microseconds per exchange; compare with `bench/bench.py`, which adds sockets and the
//! store around the same work. `SVAR_BENCH_COLD=1` sweeps 4 MiB before each message, as
//! the `calls` benchmark does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pbx::{Pbx, PbxOutput};
use sip::digest::{AuthConfig, Authenticator, answer_challenge};
use sip::registrar::{Registrar, RegistrarConfig};
use sip::{Endpoint, EndpointConfig, Input, Peer, Transport};

mod common;
use common::{DOMAIN, PASSWORD};

// The allocator the svar binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USERS: usize = 10_000;

fn main() {
    let svar: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
    let users = (0..USERS).map(|i| common::user(&(100_000 + i).to_string())).collect();
    let cfg = common::config(svar, users, None);
    let now = Instant::now();
    let ep =
        Endpoint::new(EndpointConfig { auto_trying: false, ..EndpointConfig::new(vec![(Transport::Udp, svar)], 7) });
    let mut auth_cfg = AuthConfig::new(DOMAIN);
    auth_cfg.max_failures = u32::MAX;
    let auth = Authenticator::new(auth_cfg, [7; 32], now);
    let mut pbx = Pbx::new(ep, cfg, auth, Registrar::new(RegistrarConfig::default()));

    let mut out = Vec::new();
    let cold = std::env::var_os("SVAR_BENCH_COLD").is_some_and(|v| v == "1");
    let mut sweep = if cold { vec![0u64; 4 << 20 >> 3] } else { Vec::new() };
    let mut drive = |pbx: &mut Pbx, peer: Peer, data: &[u8], out: &mut Vec<Vec<u8>>| -> Duration {
        // evict the engine's code and data from the caches (not timed)
        for (i, w) in sweep.iter_mut().enumerate().step_by(8) {
            *w = w.wrapping_add(i as u64);
        }
        std::hint::black_box(&sweep);
        let t = Instant::now();
        pbx.handle_input(Input::Datagram { now, peer, data }, 1_700_000_000_000);
        while let Some(o) = pbx.poll_output() {
            if let PbxOutput::Transmit { data, .. } = o {
                out.push(data);
            }
        }
        t.elapsed()
    };
    let mut rounds = Vec::new();
    for round in 0..2u32 {
        let mut served = Duration::ZERO;
        for i in 0..USERS {
            let (c1, c2) = (1 + 2 * round, 2 + 2 * round);
            let ext = 100_000 + i;
            let port = 20_000 + (i % 40_000) as u16;
            let peer = Peer { transport: Transport::Udp, addr: SocketAddr::from(([127, 0, 0, 2], port)) };
            let call_id = format!("reg-{i}@bench");
            let register = |cseq: u32, branch: &str, authorization: Option<&str>| {
                let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
                format!(
                    "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{ext}@{DOMAIN}>;tag=t{i}\r\nTo: <sip:{ext}@{DOMAIN}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{ext}@127.0.0.2:{port}>\r\nExpires: 3600\r\n{auth}User-Agent: bench\r\nContent-Length: 0\r\n\r\n"
                )
            };
            out.clear();
            served += drive(&mut pbx, peer, register(c1, &format!("a{round}-{i}"), None).as_bytes(), &mut out);
            let challenge = out
                .iter()
                .find_map(|m| {
                    let text = String::from_utf8_lossy(m);
                    text.lines().find_map(|l| l.strip_prefix("WWW-Authenticate: ").map(str::to_owned))
                })
                .expect("a 401 with a challenge");
            let answer = answer_challenge(
                &challenge,
                "REGISTER",
                &format!("sip:{DOMAIN}"),
                &ext.to_string(),
                PASSWORD,
                "c0ffee",
                1,
            )
            .expect("answer");
            out.clear();
            served += drive(&mut pbx, peer, register(c2, &format!("b{round}-{i}"), Some(&answer)).as_bytes(), &mut out);
            assert!(
                out.iter().any(|m| m.starts_with(b"SIP/2.0 200")),
                "registered: {}",
                String::from_utf8_lossy(&out[0])
            );
        }

        rounds.push(served);
    }
    for (what, t) in ["first registration", "refresh"].iter().zip(&rounds) {
        println!(
            "register{} ({what}): {USERS} authenticated REGISTERs (401 + 200 each) in {:.1} ms of engine time: {:.1} µs per exchange",
            if cold { " (caches swept before each message)" } else { "" },
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e6 / USERS as f64
        );
    }
}
