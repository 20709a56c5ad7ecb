//! The SIP run loop: sockets in, engine in the middle, datagrams and records out.
//!
//! It runs on a thread of its own, asleep in a **blocking `recvfrom`** on the UDP socket,
//! as Kamailio's UDP worker is, with no async runtime and no epoll in between. Why
//! (measured, BENCHMARKS.md "Session 11"): tokio's reactor is edge-triggered, so every
//! wakeup ended in a `recvfrom` that returned `EAGAIN` to re-arm readiness, and every turn
//! polled a `select!` over six branches, three channels and the timer wheel; an epoll
//! loop still paid an `epoll_wait` next to each `recvfrom`. Here a datagram costs one
//! `recvfrom` and its `sendto`s. The engine's next deadline is the socket's receive
//! timeout (`SO_RCVTIMEO`), set again only when it would wake the loop too late; the
//! rest of the server wakes the loop with a [`Doorbell`] ring, a datagram from the
//! bell's own socket, and the loop then reads its channels.
//!
//! TCP connections live on the server's tokio runtime (a task per connection frames
//! messages) and hand them over a channel that rings the bell.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pbx::{Pbx, PbxOutput, Persist};
use sip::{Input, Peer, Transport};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::media_loop::{MediaDriver, MediaThreads};
use crate::tcp::{self, TcpEvent};
use crate::wake::{self, Doorbell, Notifying};

/// The bound sockets.
#[derive(Debug)]
pub struct SipSockets {
    /// UDP socket (the loop makes it blocking).
    pub udp: UdpSocket,
    /// TCP listener on the same address (on the server's runtime).
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
    tcp_events: Notifying<TcpEvent>,
    runtime: tokio::runtime::Handle,
    persist: std::sync::mpsc::Sender<Persist>,
    media: Option<MediaDriver>,
    messages: Option<mpsc::UnboundedSender<pbx::ivr_setup::Recording>>,
    draining: bool,
}

impl Loop {
    fn flush(&mut self) {
        self.drain_outputs();
        if let Some(m) = &mut self.media {
            m.commit();
        }
    }

    fn drain_outputs(&mut self) {
        while let Some(o) = self.pbx.poll_output() {
            match o {
                PbxOutput::Transmit { peer, data } => self.transmit(peer, data),
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

    fn transmit(&mut self, peer: Peer, data: Vec<u8>) {
        match peer.transport {
            // a blocking socket: a full send buffer waits for room rather than drop
            Transport::Udp => {
                if let Err(e) = self.udp.send_to(&data, peer.addr) {
                    debug!(peer = %peer.addr, error = %e, "UDP send failed");
                }
            }
            Transport::Tcp => {
                let tx = match self.tcp_conns.get(&peer.addr) {
                    Some(tx) => tx.clone(),
                    None => {
                        let tx = tcp::connect(&self.runtime, peer.addr, self.tcp_events.clone());
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

/// The longest the loop sleeps with no timer due.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// How late past the engine's deadline the loop may wake: the socket's receive timeout
/// counts from each `recvfrom`, so it is set again only when it would overshoot by more
/// (about a hundred `setsockopt` a second under load instead of one per datagram). RFC
/// 3261's timers are hundreds of milliseconds and up.
const SLACK: Duration = Duration::from_millis(5);

/// What the loop is given besides its engine and sockets.
#[derive(Debug)]
pub struct Wiring {
    /// Where bindings and call records go (the store writer's thread).
    pub persist: std::sync::mpsc::Sender<Persist>,
    /// Numbers and shutdown, from [`wake::control_channel`].
    pub control: mpsc::Receiver<Control>,
    /// The doorbell every channel to the loop rings (the control channel's and the media
    /// threads' included), made for this loop's UDP socket.
    pub doorbell: Doorbell,
    /// Where TCP connections run.
    pub runtime: tokio::runtime::Handle,
}

/// Run SIP until a drain completes; blocks, so run it on a thread of its own. Returns the
/// engine (for tests and final numbers).
///
/// # Errors
/// The UDP socket could not be made blocking or given a receive timeout.
pub fn run(pbx: Pbx, sockets: SipSockets, wiring: Wiring, media: Option<MediaSetup>) -> std::io::Result<Pbx> {
    let Wiring { persist, control, doorbell, runtime } = wiring;
    let mut control = Some(control);
    let (tcp_events, mut tcp_rx) = wake::channel(&doorbell);
    let messages = media.as_ref().map(|m| m.messages.clone());
    let (media, mut media_rx) = match media {
        Some(m) => (Some(MediaDriver::new(m.ip, m.timeout, m.threads, m.max_sockets)), Some(m.events)),
        None => (None, None),
    };
    sockets.udp.set_nonblocking(false)?;
    let accept = sockets.tcp.map(|l| runtime.spawn(tcp::accept(l, tcp_events.clone())));
    let mut lp = Loop {
        pbx,
        udp: sockets.udp,
        tcp_conns: HashMap::new(),
        tcp_events,
        runtime,
        persist,
        media,
        messages,
        draining: false,
    };
    let mut buf = vec![0u8; 65_536];
    // the socket's receive timeout as last set
    let mut timeout = Duration::ZERO;
    // kick the engine once so it arms its own timers (trunk registration, housekeeping)
    lp.pbx.handle_input(Input::Timeout(Instant::now()), wall_ms());
    lp.flush();
    loop {
        let mut now = Instant::now();
        let mut next = lp.pbx.poll_timeout();
        if next.is_some_and(|at| at <= now) {
            lp.pbx.handle_input(Input::Timeout(now), wall_ms());
            lp.flush();
            (now, next) = (Instant::now(), lp.pbx.poll_timeout());
        }
        // a deadline still past (the engine did not move it) waits the shortest timeout,
        // so datagrams are read between its turns rather than starved
        let wait = next.map_or(IDLE_WAIT, |at| at.saturating_duration_since(now).min(IDLE_WAIT));
        // too late by more than SLACK, or more than twice too early: set again (a zero
        // timeout would mean none, hence at least a millisecond)
        if timeout > wait + SLACK || timeout < wait / 2 {
            timeout = wait.max(Duration::from_millis(1));
            lp.udp.set_read_timeout(Some(timeout))?;
        }
        match lp.udp.recv_from(&mut buf) {
            Ok((_, from)) if doorbell.rang(from) => {
                lp.take_channels(&mut tcp_rx, media_rx.as_mut(), &mut control);
            }
            Ok((n, from)) => {
                lp.pbx.handle_input(
                    Input::Datagram { now: Instant::now(), peer: Peer::udp(from), data: &buf[..n] },
                    wall_ms(),
                );
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => debug!(error = %e, "UDP receive error"),
        }
        lp.flush();
        if lp.draining && lp.pbx.is_idle() {
            info!("SIP drained");
            break;
        }
    }
    if let Some(a) = accept {
        a.abort();
    }
    Ok(lp.pbx)
}

impl Loop {
    /// Everything queued on the loop's channels (the doorbell rang).
    fn take_channels(
        &mut self,
        tcp_rx: &mut mpsc::UnboundedReceiver<TcpEvent>,
        media_rx: Option<&mut mpsc::UnboundedReceiver<pbx::MediaEvent>>,
        control: &mut Option<mpsc::Receiver<Control>>,
    ) {
        while let Ok(ev) = tcp_rx.try_recv() {
            match ev {
                TcpEvent::Up(peer, tx) => {
                    self.tcp_conns.insert(peer, tx);
                }
                TcpEvent::Message(peer, message) => {
                    let peer = Peer { transport: Transport::Tcp, addr: peer };
                    self.pbx.handle_input(Input::Message { now: Instant::now(), peer, message }, wall_ms());
                }
                TcpEvent::Closed(peer) => {
                    self.tcp_conns.remove(&peer);
                }
            }
        }
        if let Some(rx) = media_rx {
            while let Ok(ev) = rx.try_recv() {
                self.pbx.handle_media(ev, Instant::now(), wall_ms());
            }
        }
        while let Some(rx) = control.as_mut() {
            match rx.try_recv() {
                Ok(Control::Snapshot(reply)) => {
                    let _ = reply.send(self.snapshot());
                }
                Ok(Control::Drain { grace }) => {
                    self.draining = true;
                    self.pbx.begin_drain(Instant::now(), grace);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    *control = None;
                    if !self.draining {
                        self.draining = true;
                        self.pbx.begin_drain(Instant::now(), Duration::from_secs(0));
                    }
                }
            }
        }
    }
}
