//! The SIP run loop: sockets in, engine in the middle, datagrams and records out.
//!
//! It runs on a thread of its own around one **level-triggered** epoll set holding the
//! UDP socket and the loop's [`Doorbell`], with no async runtime in between (the media
//! threads' shape, `media_thread.rs`). Why not tokio here (measured, BENCHMARKS.md
//! "Session 11"): tokio's reactor is edge-triggered, so every wakeup ended in a
//! `recvfrom` that returned `EAGAIN` to re-arm readiness, and every turn polled the
//! `select!`'s six branches, its channels and its timer wheel. Level-triggered epoll
//! reports the socket while it holds data: one `recvfrom` per datagram, no `EAGAIN`, and
//! the channels are read only when their senders rang the bell.
//!
//! TCP connections live on the server's tokio runtime (a task per connection frames
//! messages) and hand them over a channel that rings the bell.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pbx::{Pbx, PbxOutput, Persist};
use rustix::event::{PollFd, PollFlags, Timespec, epoll};
use sip::{Input, Peer, Transport};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::media_loop::{MediaDriver, MediaThreads};
use crate::tcp::{self, TcpEvent};
use crate::wake::{self, Doorbell, Notifying};

/// The bound sockets.
#[derive(Debug)]
pub struct SipSockets {
    /// UDP socket, in non-blocking mode.
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
            Transport::Udp => match self.udp.send_to(&data, peer.addr) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // the send buffer is full: wait a little for room, as a blocking socket
                    // would, then try once more
                    let mut fds = [PollFd::new(&self.udp, PollFlags::OUT)];
                    let _ = rustix::event::poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: SEND_WAIT_NS }));
                    if let Err(e) = self.udp.send_to(&data, peer.addr) {
                        debug!(peer = %peer.addr, error = %e, "UDP send failed");
                    }
                }
                Err(e) => debug!(peer = %peer.addr, error = %e, "UDP send failed"),
            },
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

/// The longest a full UDP send buffer is waited for.
const SEND_WAIT_NS: i64 = 100_000_000;
/// epoll data of the UDP socket and of the doorbell.
const UDP: u64 = 0;
const BELL: u64 = 1;
/// The longest the loop sleeps with no timer due.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// What the loop is given besides its engine and sockets.
#[derive(Debug)]
pub struct Wiring {
    /// Where bindings and call records go (the store writer's thread).
    pub persist: std::sync::mpsc::Sender<Persist>,
    /// Numbers and shutdown, from [`wake::control_channel`].
    pub control: mpsc::Receiver<Control>,
    /// The doorbell every channel to the loop rings (the control channel's and the media
    /// threads' included).
    pub doorbell: Doorbell,
    /// Where TCP connections run.
    pub runtime: tokio::runtime::Handle,
}

/// Run SIP until a drain completes; blocks, so run it on a thread of its own. Returns the
/// engine (for tests and final numbers).
///
/// # Errors
/// The kernel refused the epoll set or its entries.
pub fn run(pbx: Pbx, sockets: SipSockets, wiring: Wiring, media: Option<MediaSetup>) -> std::io::Result<Pbx> {
    let Wiring { persist, control, doorbell, runtime } = wiring;
    let mut control = Some(control);
    let (tcp_events, mut tcp_rx) = wake::channel(&doorbell);
    let messages = media.as_ref().map(|m| m.messages.clone());
    let (media, mut media_rx) = match media {
        Some(m) => (Some(MediaDriver::new(m.ip, m.timeout, m.threads, m.max_sockets)), Some(m.events)),
        None => (None, None),
    };
    let poll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    epoll::add(&poll, &sockets.udp, epoll::EventData::new_u64(UDP), epoll::EventFlags::IN)?;
    epoll::add(&poll, &doorbell, epoll::EventData::new_u64(BELL), epoll::EventFlags::IN)?;
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
    let mut ready = Vec::with_capacity(2);
    // kick the engine once so it arms its own timers (trunk registration, housekeeping)
    lp.pbx.handle_input(Input::Timeout(Instant::now()), wall_ms());
    lp.flush();
    loop {
        ready.clear();
        let wait = match lp.pbx.poll_timeout() {
            // epoll_wait counts whole milliseconds: round up, or a timer due in 0.4 ms
            // would spin until it is due
            Some(at) => at.saturating_duration_since(Instant::now()).min(IDLE_WAIT) + Duration::from_micros(999),
            None => IDLE_WAIT,
        };
        let timeout = Timespec::try_from(wait).unwrap_or(Timespec { tv_sec: 1, tv_nsec: 0 });
        match epoll::wait(&poll, rustix::buffer::spare_capacity(&mut ready), Some(&timeout)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                error!(error = %e, "SIP loop: epoll_wait failed; SIP stops");
                return Err(e.into());
            }
        }
        let (mut udp_ready, mut rang) = (false, false);
        for ev in &ready {
            match ev.data.u64() {
                UDP => udp_ready = true,
                _ => rang = true,
            }
        }
        if rang {
            doorbell.clear();
            lp.take_channels(&mut tcp_rx, media_rx.as_mut(), &mut control);
        }
        if udp_ready {
            // one datagram a round: what is left is reported by the next epoll_wait
            match lp.udp.recv_from(&mut buf) {
                Ok((n, from)) => {
                    lp.pbx.handle_input(
                        Input::Datagram { now: Instant::now(), peer: Peer::udp(from), data: &buf[..n] },
                        wall_ms(),
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => debug!(error = %e, "UDP receive error"),
            }
        }
        let now = Instant::now();
        if lp.pbx.poll_timeout().is_some_and(|at| at <= now) {
            lp.pbx.handle_input(Input::Timeout(now), wall_ms());
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
