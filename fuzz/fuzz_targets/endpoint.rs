//! The transaction layer driven by arbitrary {datagram, timeout} sequences: it never
//! panics and never delivers two final responses for one non-INVITE client transaction.
#![no_main]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip::{Endpoint, EndpointConfig, Event, Input, Output, Peer, Transport};

fuzz_target!(|data: &[u8]| {
    let local = "192.0.2.1:5060".parse().expect("addr");
    let mut ep = Endpoint::new(EndpointConfig::new(vec![(Transport::Udp, local)], 7));
    let t0 = Instant::now();
    let mut now = t0;
    let peer = Peer::udp("192.0.2.2:5060".parse().expect("addr"));
    // one OPTIONS of our own whose responses the input may forge
    let mut req = sip_msg::Request::new(sip_msg::Method::Options, "sip:x@192.0.2.2".parse().expect("uri"));
    req.headers.push(sip_msg::HeaderName::From, "<sip:a@b>;tag=1");
    req.headers.push(sip_msg::HeaderName::To, "<sip:x@192.0.2.2>");
    req.headers.push(sip_msg::HeaderName::CallId, "fz");
    req.headers.push(sip_msg::HeaderName::CSeq, "1 OPTIONS");
    let _ = ep.send_request(now, req, peer);
    let mut finals: HashMap<u64, u32> = HashMap::new();
    for chunk in data.split(|&b| b == 0xff) {
        match chunk.first() {
            Some(0xfe) => {
                now += Duration::from_millis(u64::from(chunk.get(1).copied().unwrap_or(0)) * 100);
                ep.handle_input(Input::Timeout(now));
            }
            _ => ep.handle_input(Input::Datagram { now, peer, data: chunk }),
        }
        while let Some(o) = ep.poll_output() {
            let Output::Event(event) = o else { continue };
            if let Event::Response { tx, response, core } = event {
                if response.status >= 200 && core.cseq.method != sip_msg::Method::Invite {
                    let n = finals.entry(tx.0).or_default();
                    *n += 1;
                    assert!(*n <= 1, "two final responses for one non-INVITE transaction");
                }
            }
        }
    }
});
