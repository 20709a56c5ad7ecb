//! The media driver: one task per call owning its [`media::relay::Bridge`] and the two
//! UDP sockets of its legs. Call control ([`pbx::Pbx`]) decides everything and owns the
//! port pool; the driver applies its [`MediaOp`]s without an await (the SIP loop calls
//! [`MediaDriver::apply`] inline, no thread hop), and reports keys, the media timeout,
//! finished prompts and recordings back as [`MediaEvent`]s.
//!
//! A call's task wakes for packets, for commands, and for the bridge's own deadline
//! (the next 20 ms frame only while a leg hears svar's audio, else the earliest media
//! timeout), so a bridged call costs nothing between packets.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use media::record::RecordLimits;
use media::relay::{Bridge, Feed, Leg, LegConfig, LegStream, Output};
use pbx::{MediaEvent, MediaOp};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

/// Commands to one call's task.
#[derive(Debug)]
enum Command {
    Stream(Leg, LegStream),
    Feed(Leg, Feed),
    ListenInband(Leg),
    Record(Leg, RecordLimits),
    Close,
}

/// Runs every call's media on one address.
#[derive(Debug)]
pub struct MediaDriver {
    ip: IpAddr,
    timeout: Duration,
    events: mpsc::UnboundedSender<MediaEvent>,
    calls: HashMap<u64, mpsc::UnboundedSender<Command>>,
    runtime: tokio::runtime::Handle,
}

fn bind(ip: IpAddr, port: u16) -> std::io::Result<std::net::UdpSocket> {
    let s = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl MediaDriver {
    /// A driver for `ip` with the media timeout, reporting to `events`; calls' tasks run
    /// on `runtime` (their sockets register with its reactor, so packets wake them there).
    #[must_use]
    pub fn new(
        ip: IpAddr,
        timeout: Duration,
        events: mpsc::UnboundedSender<MediaEvent>,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self { ip, timeout, events, calls: HashMap::new(), runtime }
    }

    /// Calls with media open.
    #[must_use]
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Apply one of call control's commands.
    pub fn apply(&mut self, op: MediaOp) {
        match op {
            MediaOp::Open { call, ports, a, b } => self.open(call, ports, a, b),
            MediaOp::Stream { call, leg, stream } => self.send(call, Command::Stream(leg, stream)),
            MediaOp::Feed { call, leg, feed } => self.send(call, Command::Feed(leg, feed)),
            MediaOp::ListenInband { call, leg } => self.send(call, Command::ListenInband(leg)),
            MediaOp::Record { call, leg, limits } => self.send(call, Command::Record(leg, limits)),
            MediaOp::Close { call } => {
                if let Some(tx) = self.calls.remove(&call) {
                    let _ = tx.send(Command::Close);
                }
            }
        }
    }

    fn send(&self, call: u64, c: Command) {
        if let Some(tx) = self.calls.get(&call) {
            let _ = tx.send(c);
        }
    }

    fn open(&mut self, call: u64, (pa, pb): (u16, u16), a: LegConfig, b: LegConfig) {
        let sockets = match (bind(self.ip, pa), bind(self.ip, pb)) {
            (Ok(sa), Ok(sb)) => (sa, sb),
            (Err(e), _) | (_, Err(e)) => {
                let _ = self
                    .events
                    .send(MediaEvent::Failed { call, error: format!("cannot bind RTP ports {pa}/{pb}: {e}") });
                return;
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let bridge = Bridge::new(a, b, self.timeout, std::time::Instant::now());
        let events = self.events.clone();
        self.runtime.spawn(async move {
            match (UdpSocket::from_std(sockets.0), UdpSocket::from_std(sockets.1)) {
                (Ok(sa), Ok(sb)) => run_call(call, bridge, (sa, sb), rx, events).await,
                (Err(e), _) | (_, Err(e)) => {
                    let _ =
                        events.send(MediaEvent::Failed { call, error: format!("cannot register RTP sockets: {e}") });
                }
            }
        });
        self.calls.insert(call, tx);
    }
}

async fn run_call(
    call: u64,
    mut bridge: Bridge,
    (sa, sb): (UdpSocket, UdpSocket),
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
) {
    let (mut buf_a, mut buf_b) = (vec![0u8; 2048], vec![0u8; 2048]);
    loop {
        let deadline = bridge.poll_timeout();
        let wake = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = sa.recv_from(&mut buf_a) => if let Ok((n, from)) = r {
                bridge.packet(Leg::A, from, &buf_a[..n], std::time::Instant::now());
            },
            r = sb.recv_from(&mut buf_b) => if let Ok((n, from)) = r {
                bridge.packet(Leg::B, from, &buf_b[..n], std::time::Instant::now());
            },
            () = wake => bridge.tick(std::time::Instant::now()),
            c = commands.recv() => match c {
                Some(Command::Stream(leg, s)) => bridge.set_stream(leg, s, std::time::Instant::now()),
                Some(Command::Feed(leg, feed)) => bridge.set_feed(leg, feed),
                Some(Command::ListenInband(leg)) => bridge.listen_inband(leg, true),
                Some(Command::Record(leg, limits)) => bridge.record(leg, limits),
                Some(Command::Close) | None => {
                    bridge.stop_recording();
                    report(call, &mut bridge, &sa, &sb, &events);
                    break;
                }
            },
        }
        report(call, &mut bridge, &sa, &sb, &events);
    }
}

fn report(call: u64, bridge: &mut Bridge, sa: &UdpSocket, sb: &UdpSocket, events: &mpsc::UnboundedSender<MediaEvent>) {
    for o in bridge.drain() {
        let event = match o {
            Output::Send { leg, to, data } => {
                let socket = if leg == Leg::A { sa } else { sb };
                if let Err(e) = socket.try_send_to(&data, to) {
                    debug!(call, error = %e, "RTP send failed");
                }
                continue;
            }
            Output::Latched { leg, to } => {
                debug!(call, ?leg, %to, "RTP latched");
                continue;
            }
            Output::Key { leg, event } => MediaEvent::Key { call, leg, event },
            Output::MediaTimeout { leg } => MediaEvent::Timeout { call, leg },
            Output::PlaybackDone { leg } => MediaEvent::PlaybackDone { call, leg },
            Output::Recorded { leg, ended, length, wav } => MediaEvent::Recorded { call, leg, ended, length, wav },
        };
        let _ = events.send(event);
    }
}
