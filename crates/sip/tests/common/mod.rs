//! A simulated network in virtual time for driving endpoints: seeded loss, duplication and
//! delay. No sockets and no sleeping: time is an `Instant` we advance by hand.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip::rng::IdGen;
use sip::{Endpoint, EndpointConfig, Event, Input, Output, Peer, Transport};

pub struct Node {
    pub addr: SocketAddr,
    pub ep: Endpoint,
    pub events: Vec<(Duration, Event)>,
    /// Every datagram this node sent: (time since start, bytes)
    pub sent: Vec<(Duration, Vec<u8>)>,
}

pub struct SimNet {
    pub start: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    in_flight: Vec<(Instant, usize, Peer, Vec<u8>)>,
    pub loss: f64,
    pub dup: f64,
    pub delay: Duration,
    /// Extra random delay up to this much per datagram: datagrams overtake each other.
    pub jitter: Duration,
    /// Probability that one byte of a datagram is overwritten in flight.
    pub tamper: f64,
    rng: IdGen,
    pub transport: Transport,
}

impl SimNet {
    pub fn new(n: usize, seed: u64, transport: Transport) -> Self {
        let start = Instant::now();
        let nodes = (0..n)
            .map(|i| {
                let addr: SocketAddr = format!("192.0.2.{}:5060", i + 1).parse().expect("addr");
                let cfg = EndpointConfig::new(vec![(transport, addr)], seed.wrapping_add(i as u64 * 7919));
                Node { addr, ep: Endpoint::new(cfg), events: Vec::new(), sent: Vec::new() }
            })
            .collect();
        Self {
            start,
            now: start,
            nodes,
            in_flight: Vec::new(),
            loss: 0.0,
            dup: 0.0,
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            tamper: 0.0,
            rng: IdGen::new(seed ^ 0xdead_beef),
            transport,
        }
    }

    pub fn peer(&self, i: usize) -> Peer {
        Peer { transport: self.transport, addr: self.nodes[i].addr }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    /// Drain every node's output: transmissions go into flight, events are recorded.
    pub fn drain(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some(out) = self.nodes[i].ep.poll_output() {
                match out {
                    Output::Transmit { peer, data } => {
                        let t = self.now - self.start;
                        self.nodes[i].sent.push((t, data.clone()));
                        let Some(dst) = self.nodes.iter().position(|n| n.addr == peer.addr) else {
                            continue;
                        };
                        let src = Peer { transport: peer.transport, addr: self.nodes[i].addr };
                        if self.chance(self.loss) {
                            continue;
                        }
                        let copies = if self.chance(self.dup) { 2 } else { 1 };
                        let mut data = data;
                        if self.chance(self.tamper) && !data.is_empty() {
                            let i = (self.rng.next_u64() % data.len() as u64) as usize;
                            data[i] = (self.rng.next_u64() & 0xff) as u8;
                        }
                        for c in 0..copies {
                            let jitter_ms = self.jitter.as_millis() as u64;
                            let extra = if jitter_ms > 0 { self.rng.next_u64() % jitter_ms } else { 0 };
                            let at = self.now + self.delay + Duration::from_millis(c * 3 + extra);
                            self.in_flight.push((at, dst, src, data.clone()));
                        }
                    }
                    Output::Event(e) => {
                        let t = self.now - self.start;
                        self.nodes[i].events.push((t, e));
                    }
                }
            }
        }
    }

    /// Run until `until` after start, delivering datagrams and firing timers in order.
    pub fn run_until(&mut self, until: Duration) {
        let end = self.start + until;
        loop {
            self.drain();
            let next_packet = self.in_flight.iter().map(|p| p.0).min();
            let next_timer = self.nodes.iter().filter_map(|n| n.ep.poll_timeout()).min();
            let next = match (next_packet, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            if next > end {
                break;
            }
            self.now = next.max(self.now);
            let now = self.now;
            let due: Vec<_> = {
                let (due, rest): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|p| p.0 <= now);
                self.in_flight = rest;
                due
            };
            for (_, dst, src, data) in due {
                self.nodes[dst].ep.handle_input(Input::Datagram { now, peer: src, data: &data });
            }
            for n in &mut self.nodes {
                if n.ep.poll_timeout().is_some_and(|t| t <= now) {
                    n.ep.handle_input(Input::Timeout(now));
                }
            }
        }
        self.now = self.now.max(end);
        self.drain();
    }

    /// Take node `i`'s recorded events.
    pub fn take_events(&mut self, i: usize) -> Vec<(Duration, Event)> {
        std::mem::take(&mut self.nodes[i].events)
    }
}

/// A minimal request from node `from` to node `to`.
pub fn request(method: sip_msg::Method, to: SocketAddr, call_id: &str, seq: u32) -> sip_msg::Request {
    let uri: sip_msg::Uri = format!("sip:svar@{to}").parse().expect("uri");
    let mut r = sip_msg::Request::new(method.clone(), uri);
    r.headers.push(sip_msg::HeaderName::From, "<sip:anne@kommune.example>;tag=a1");
    r.headers.push(sip_msg::HeaderName::To, format!("<sip:svar@{to}>"));
    r.headers.push(sip_msg::HeaderName::CallId, call_id);
    r.headers.push(sip_msg::HeaderName::CSeq, format!("{seq} {method}"));
    r.headers.push(sip_msg::HeaderName::Contact, "<sip:anne@192.0.2.1:5060>");
    r
}
