//! The SIP run loop: sockets in, engine in the middle, datagrams and records out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pbx::{Pbx, PbxOutput, Persist};
use sip::{Input, Peer, Transport};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::media_loop::{MediaDriver, MediaThreads};
use crate::tcp::{self, TcpEvent};

/// The bound sockets.
#[derive(Debug)]
pub struct SipSockets {
    /// UDP socket.
    pub udp: UdpSocket,
    /// TCP listener on the same address.
    pub tcp: Option<TcpListener>,
}

/// Numbers for `/metrics` and `/healthz`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Live registrations.
    pub registrations: usize,
    /// Calls in progress.
    pub active_calls: usize,
    /// Calls ended by outcome.
    pub calls_by_outcome: Vec<(String, u64)>,
    /// Requests in by method.
    pub requests_in: Vec<(String, u64)>,
    /// Responses out by status.
    pub responses_out: Vec<(u16, u64)>,
    /// Responses in by status.
    pub responses_in: Vec<(u16, u64)>,
    /// Requests out by method.
    pub requests_out: Vec<(String, u64)>,
    /// Parse errors by code.
    pub parse_errors: Vec<(String, u64)>,
    /// Failed digest attempts.
    pub auth_failures: u64,
    /// Refused for a blocked source.
    pub auth_blocked: u64,
    /// Retransmissions sent.
    pub retransmissions: u64,
    /// Open TCP connections.
    pub tcp_connections: usize,
    /// Trunks registered with their provider.
    pub trunks_registered: usize,
    /// Draining for shutdown.
    pub draining: bool,
    /// Calls with anchored media open.
    pub media_calls: usize,
}

/// Requests from the rest of the server.
#[derive(Debug)]
pub enum Control {
    /// Report numbers.
    Snapshot(oneshot::Sender<Snapshot>),
    /// Refuse new calls; hang up the rest after `grace`; the loop ends when idle.
    Drain {
        /// Grace period.
        grace: Duration,
    },
}

fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

struct Loop {
    pbx: Pbx,
    udp: UdpSocket,
    tcp_conns: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    tcp_events: mpsc::UnboundedSender<TcpEvent>,
    persist: std::sync::mpsc::Sender<Persist>,
    media: Option<MediaDriver>,
    messages: Option<mpsc::UnboundedSender<pbx::ivr_setup::Recording>>,
    draining: bool,
}

impl Loop {
    async fn flush(&mut self) {
        self.drain_outputs().await;
        if let Some(m) = &mut self.media {
            m.commit();
        }
    }

    async fn drain_outputs(&mut self) {
        while let Some(o) = self.pbx.poll_output() {
            match o {
                PbxOutput::Transmit { peer, data } => self.transmit(peer, data).await,
                PbxOutput::Persist(p) => {
                    if self.persist.send(p).is_err() {
                        warn!("store writer gone; record not persisted");
                    }
                }
                PbxOutput::Recording(m) => match &self.messages {
                    Some(tx) if tx.send(m).is_ok() => {}
                    _ => warn!("recording service gone; a recording was not stored"),
                },
                PbxOutput::Media(op) => match &mut self.media {
                    Some(m) => m.apply(op),
                    None => debug!("media command without a media driver"),
                },
            }
        }
    }

    async fn transmit(&mut self, peer: Peer, data: Vec<u8>) {
        match peer.transport {
            Transport::Udp => {
                // try_send_to first: the common case needs no await point
                match self.udp.try_send_to(&data, peer.addr) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if let Err(e) = self.udp.send_to(&data, peer.addr).await {
                            debug!(peer = %peer.addr, error = %e, "UDP send failed");
                        }
                    }
                    Err(e) => debug!(peer = %peer.addr, error = %e, "UDP send failed"),
                }
            }
            Transport::Tcp => {
                let tx = match self.tcp_conns.get(&peer.addr) {
                    Some(tx) => tx.clone(),
                    None => {
                        let tx = tcp::connect(peer.addr, self.tcp_events.clone());
                        self.tcp_conns.insert(peer.addr, tx.clone());
                        tx
                    }
                };
                if tx.try_send(data).is_err() {
                    warn!(peer = %peer.addr, "TCP connection backlog full; message dropped");
                }
            }
            other => warn!(transport = %other, "transport not available yet; message dropped"),
        }
    }

    fn snapshot(&self) -> Snapshot {
        let p = self.pbx.stats();
        let e = self.pbx.endpoint_stats();
        fn sorted<S>(m: &HashMap<&'static str, u64, S>) -> Vec<(String, u64)> {
            let mut v: Vec<(String, u64)> = m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
            v.sort();
            v
        }
        fn sorted_u16<S>(m: &HashMap<u16, u64, S>) -> Vec<(u16, u64)> {
            let mut v: Vec<(u16, u64)> = m.iter().map(|(k, v)| (*k, *v)).collect();
            v.sort();
            v
        }
        let mut parse: Vec<(String, u64)> = e.parse_errors.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        for (k, v) in &p.rejected {
            if !e.parse_errors.contains_key(k) {
                parse.push(((*k).to_owned(), *v));
            }
        }
        parse.sort();
        let mut outcomes: Vec<(String, u64)> = p.calls_by_outcome.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        outcomes.sort();
        Snapshot {
            registrations: self.pbx.registrations(),
            active_calls: self.pbx.active_calls(),
            calls_by_outcome: outcomes,
            requests_in: sorted(&e.requests_in),
            responses_out: sorted_u16(&e.responses_out),
            responses_in: sorted_u16(&e.responses_in),
            requests_out: sorted(&e.requests_out),
            parse_errors: parse,
            auth_failures: p.auth_failures,
            auth_blocked: p.auth_blocked,
            retransmissions: e.retransmissions,
            tcp_connections: self.tcp_conns.len(),
            trunks_registered: self.pbx.trunks_registered(),
            draining: self.draining,
            media_calls: self.media.as_ref().map_or(0, MediaDriver::calls),
        }
    }
}

/// Anchored media for the loop: svar's RTP address and the media timeout.
#[derive(Debug)]
pub struct MediaSetup {
    /// Address RTP ports are bound on.
    pub ip: std::net::IpAddr,
    /// No RTP from an answered leg for this long ends the call.
    pub timeout: Duration,
    /// The threads calls' media run on (not the SIP loop's own thread).
    pub threads: MediaThreads,
    /// What they report.
    pub events: mpsc::UnboundedReceiver<pbx::MediaEvent>,
    /// The most RTP and RTCP sockets held open at once (ended calls' sockets are kept
    /// bound for reuse up to this).
    pub max_sockets: usize,
    /// Where recorded messages go (to be stored and become obligations).
    pub messages: mpsc::UnboundedSender<pbx::ivr_setup::Recording>,
}

/// Run SIP until a drain completes. Returns the engine (for tests and final numbers).
pub async fn run(
    pbx: Pbx,
    sockets: SipSockets,
    persist: std::sync::mpsc::Sender<Persist>,
    control: mpsc::Receiver<Control>,
    media: Option<MediaSetup>,
) -> Pbx {
    let mut control = Some(control);
    let (tcp_events, mut tcp_rx) = mpsc::unbounded_channel();
    let messages = media.as_ref().map(|m| m.messages.clone());
    let (media, mut media_rx) = match media {
        Some(m) => (Some(MediaDriver::new(m.ip, m.timeout, m.threads, m.max_sockets)), m.events),
        // no media: a closed receiver, whose select branch never matches
        None => (None, mpsc::unbounded_channel().1),
    };
    let mut lp = Loop {
        pbx,
        udp: sockets.udp,
        tcp_conns: HashMap::new(),
        tcp_events,
        persist,
        media,
        messages,
        draining: false,
    };
    let tcp_listener = sockets.tcp;
    let mut buf = vec![0u8; 65_536];
    // kick the engine once so it arms its own timers (trunk registration, housekeeping)
    lp.pbx.handle_input(Input::Timeout(Instant::now()), wall_ms());
    lp.flush().await;
    // One timer entry for the loop's life, moved only when the engine's next deadline
    // moves: registering a new sleep every turn cost a timer-wheel insert and removal per
    // datagram.
    let sleep = tokio::time::sleep(Duration::from_secs(1));
    tokio::pin!(sleep);
    loop {
        let deadline = match lp.pbx.poll_timeout() {
            Some(d) => tokio::time::Instant::from_std(d),
            None if sleep.deadline() > tokio::time::Instant::now() => sleep.deadline(),
            None => tokio::time::Instant::now() + Duration::from_secs(1),
        };
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        tokio::select! {
            r = lp.udp.recv_from(&mut buf) => {
                match r {
                    Ok((n, from)) => {
                        let now = Instant::now();
                        let wall = wall_ms();
                        lp.pbx.handle_input(Input::Datagram { now, peer: Peer::udp(from), data: &buf[..n] }, wall);
                        // drain what else is queued on the socket before yielding
                        for _ in 0..63 {
                            match lp.udp.try_recv_from(&mut buf) {
                                Ok((n, from)) => lp.pbx.handle_input(Input::Datagram { now: Instant::now(), peer: Peer::udp(from), data: &buf[..n] }, wall),
                                Err(_) => break,
                            }
                        }
                    }
                    Err(e) => debug!(error = %e, "UDP receive error"),
                }
            }
            accepted = async {
                match &tcp_listener {
                    Some(l) => l.accept().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Ok((stream, peer)) = accepted {
                    let tx = tcp::spawn(stream, peer, lp.tcp_events.clone());
                    lp.tcp_conns.insert(peer, tx);
                }
            }
            Some(ev) = tcp_rx.recv() => {
                match ev {
                    TcpEvent::Up(peer, tx) => { lp.tcp_conns.insert(peer, tx); }
                    TcpEvent::Message(peer, message) => {
                        let peer = Peer { transport: Transport::Tcp, addr: peer };
                        lp.pbx.handle_input(Input::Message { now: Instant::now(), peer, message }, wall_ms());
                    }
                    TcpEvent::Closed(peer) => {
                        lp.tcp_conns.remove(&peer);
                    }
                }
            }
            Some(ev) = media_rx.recv() => {
                lp.pbx.handle_media(ev, Instant::now(), wall_ms());
            }
            () = &mut sleep => {
                lp.pbx.handle_input(Input::Timeout(Instant::now()), wall_ms());
            }
            c = async {
                match control.as_mut() {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                match c {
                    Some(Control::Snapshot(reply)) => { let _ = reply.send(lp.snapshot()); }
                    Some(Control::Drain { grace }) => {
                        lp.draining = true;
                        lp.pbx.begin_drain(Instant::now(), grace);
                    }
                    None => {
                        control = None;
                        if !lp.draining {
                            lp.draining = true;
                            lp.pbx.begin_drain(Instant::now(), Duration::from_secs(0));
                        }
                    }
                }
            }
        }
        lp.flush().await;
        if lp.draining && lp.pbx.is_idle() {
            info!("SIP drained");
            break;
        }
    }
    lp.pbx
}
