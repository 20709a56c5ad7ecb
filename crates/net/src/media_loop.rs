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
    RecordConversation,
    DiscardConversation,
    Close,
    /// Several commands from one turn of the SIP loop: one wakeup, not one each.
    Batch(Vec<Self>),
}

/// A call opened in this turn of the SIP loop, started at [`MediaDriver::commit`] with
/// the commands that came with it already applied.
#[derive(Debug)]
struct Starting {
    sockets: Vec<std::net::UdpSocket>,
    bridge: Bridge,
    commands: mpsc::UnboundedReceiver<Command>,
}

fn apply_to(bridge: &mut Bridge, c: Command) -> bool {
    match c {
        Command::Stream(leg, st) => bridge.set_stream(leg, st, std::time::Instant::now()),
        Command::Feed(leg, feed) => bridge.set_feed(leg, feed),
        Command::ListenInband(leg) => bridge.listen_inband(leg, true),
        Command::Record(leg, limits) => bridge.record(leg, limits),
        Command::RecordConversation => bridge.record_conversation(),
        Command::DiscardConversation => bridge.discard_conversation(),
        Command::Close => return false,
        Command::Batch(cs) => {
            for c in cs {
                if !apply_to(bridge, c) {
                    return false;
                }
            }
        }
    }
    true
}

/// Runs every call's media on one address.
#[derive(Debug)]
pub struct MediaDriver {
    ip: IpAddr,
    timeout: Duration,
    events: mpsc::UnboundedSender<MediaEvent>,
    calls: HashMap<u64, mpsc::UnboundedSender<Command>>,
    runtimes: Vec<tokio::runtime::Handle>,
    /// Commands of this turn, per call, sent at [`MediaDriver::commit`].
    pending: HashMap<u64, Vec<Command>>,
    starting: HashMap<u64, Starting>,
}

fn bind(ip: IpAddr, port: u16) -> std::io::Result<std::net::UdpSocket> {
    let s = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl MediaDriver {
    /// A driver for `ip` with the media timeout, reporting to `events`; calls' tasks run
    /// on `runtimes`, a call on one of them by its id (its sockets register with that
    /// runtime's reactor, so its packets wake it there and nowhere else).
    #[must_use]
    pub fn new(
        ip: IpAddr,
        timeout: Duration,
        events: mpsc::UnboundedSender<MediaEvent>,
        runtimes: Vec<tokio::runtime::Handle>,
    ) -> Self {
        Self { ip, timeout, events, calls: HashMap::new(), runtimes, pending: HashMap::new(), starting: HashMap::new() }
    }

    /// Calls with media open.
    #[must_use]
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Take one of call control's commands; they reach the calls at
    /// [`MediaDriver::commit`].
    pub fn apply(&mut self, op: MediaOp) {
        match op {
            MediaOp::Open { call, ports, a, b } => self.open(call, ports, a, b),
            MediaOp::Stream { call, leg, stream } => self.send(call, Command::Stream(leg, stream)),
            MediaOp::Feed { call, leg, feed } => self.send(call, Command::Feed(leg, feed)),
            MediaOp::ListenInband { call, leg } => self.send(call, Command::ListenInband(leg)),
            MediaOp::Record { call, leg, limits } => self.send(call, Command::Record(leg, limits)),
            MediaOp::RecordConversation { call } => self.send(call, Command::RecordConversation),
            MediaOp::DiscardConversation { call } => self.send(call, Command::DiscardConversation),
            MediaOp::Close { call } => self.send(call, Command::Close),
        }
    }

    fn send(&mut self, call: u64, c: Command) {
        if self.calls.contains_key(&call) {
            self.pending.entry(call).or_default().push(c);
        }
    }

    /// Deliver this turn's commands: each call gets one message (one wakeup) however many
    /// commands it has, and calls opened in this turn start with theirs already applied.
    pub fn commit(&mut self) {
        let pending: Vec<(u64, Vec<Command>)> = self.pending.drain().collect();
        for (call, cmds) in pending {
            let closing = cmds.iter().any(|c| matches!(c, Command::Close));
            if let Some(mut start) = self.starting.remove(&call) {
                let mut open = true;
                for c in cmds {
                    open = open && apply_to(&mut start.bridge, c);
                }
                if open {
                    self.spawn(call, start);
                }
            } else if let Some(tx) = self.calls.get(&call) {
                let msg = if cmds.len() == 1 { cmds.into_iter().next() } else { Some(Command::Batch(cmds)) };
                if let Some(m) = msg {
                    let _ = tx.send(m);
                }
            }
            if closing {
                self.calls.remove(&call);
            }
        }
        for (call, start) in std::mem::take(&mut self.starting) {
            self.spawn(call, start);
        }
    }

    fn spawn(&self, call: u64, start: Starting) {
        let Starting { sockets, bridge, commands } = start;
        let events = self.events.clone();
        let Some(runtime) = self.runtimes.get(call as usize % self.runtimes.len().max(1)) else {
            let _ = events.send(MediaEvent::Failed { call, error: "no media runtime".into() });
            return;
        };
        runtime.spawn(async move {
            let registered: std::io::Result<Vec<UdpSocket>> = sockets.into_iter().map(UdpSocket::from_std).collect();
            match registered {
                Ok(s) => run_call(call, bridge, s, commands, events).await,
                Err(e) => {
                    let error = format!("cannot register RTP sockets: {e}");
                    let _ = events.send(MediaEvent::Failed { call, error });
                }
            }
        });
    }

    fn open(&mut self, call: u64, (pa, pb): (u16, u16), a: LegConfig, b: LegConfig) {
        // RTP on the even port, RTCP on the odd one above (RFC 3550 §11)
        let bound: std::io::Result<Vec<std::net::UdpSocket>> =
            [pa, pb, pa + 1, pb + 1].into_iter().map(|p| bind(self.ip, p)).collect();
        let sockets = match bound {
            Ok(s) => s,
            Err(e) => {
                let error = format!("cannot bind RTP ports {pa}/{pb}: {e}");
                let _ = self.events.send(MediaEvent::Failed { call, error });
                return;
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let now = std::time::Instant::now();
        let mut bridge = Bridge::new(a, b, self.timeout, now);
        let unix_us =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        bridge.set_wall_clock(now, unix_us);
        self.starting.insert(call, Starting { sockets, bridge, commands: rx });
        self.calls.insert(call, tx);
    }
}

/// A call's four sockets: RTP and RTCP for leg A and leg B.
struct Sockets {
    rtp: [UdpSocket; 2],
    rtcp: [UdpSocket; 2],
}

async fn run_call(
    call: u64,
    mut bridge: Bridge,
    sockets: Vec<UdpSocket>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
) {
    let mut it = sockets.into_iter();
    let (Some(ra), Some(rb), Some(ca), Some(cb)) = (it.next(), it.next(), it.next(), it.next()) else { return };
    let s = Sockets { rtp: [ra, rb], rtcp: [ca, cb] };
    let (mut buf_a, mut buf_b) = (vec![0u8; 2048], vec![0u8; 2048]);
    let (mut buf_ca, mut buf_cb) = (vec![0u8; 1500], vec![0u8; 1500]);
    // One timer for the call, moved only when the bridge's deadline moves (not a new
    // timer per packet).
    let far = || tokio::time::Instant::now() + Duration::from_secs(3600);
    let mut armed = bridge.poll_timeout();
    let sleep = tokio::time::sleep_until(armed.map_or_else(far, Into::into));
    tokio::pin!(sleep);
    loop {
        let deadline = bridge.poll_timeout();
        if deadline != armed {
            armed = deadline;
            sleep.as_mut().reset(deadline.map_or_else(far, Into::into));
        }
        tokio::select! {
            r = s.rtp[0].recv_from(&mut buf_a) => if let Ok((n, from)) = r {
                bridge.packet(Leg::A, from, &buf_a[..n], std::time::Instant::now());
            },
            r = s.rtp[1].recv_from(&mut buf_b) => if let Ok((n, from)) = r {
                bridge.packet(Leg::B, from, &buf_b[..n], std::time::Instant::now());
            },
            r = s.rtcp[0].recv_from(&mut buf_ca) => if let Ok((n, from)) = r {
                bridge.rtcp_packet(Leg::A, from, &buf_ca[..n], std::time::Instant::now());
            },
            r = s.rtcp[1].recv_from(&mut buf_cb) => if let Ok((n, from)) = r {
                bridge.rtcp_packet(Leg::B, from, &buf_cb[..n], std::time::Instant::now());
            },
            () = &mut sleep => {
                bridge.tick(std::time::Instant::now());
                // a fired timer must be re-armed even if the deadline did not move
                armed = None;
            },
            c = commands.recv() => {
                if !c.is_some_and(|c| apply_to(&mut bridge, c)) {
                    bridge.stop_recording();
                    report(call, &mut bridge, &s, &events);
                    break;
                }
            },
        }
        report(call, &mut bridge, &s, &events);
    }
}

fn report(call: u64, bridge: &mut Bridge, s: &Sockets, events: &mpsc::UnboundedSender<MediaEvent>) {
    let index = |leg: Leg| usize::from(leg == Leg::B);
    for o in bridge.outputs() {
        let event = match o {
            Output::Send { leg, to, data } => {
                if let Err(e) = s.rtp[index(leg)].try_send_to(&data, to) {
                    debug!(call, error = %e, "RTP send failed");
                }
                continue;
            }
            Output::SendRtcp { leg, to, data } => {
                if let Err(e) = s.rtcp[index(leg)].try_send_to(&data, to) {
                    debug!(call, error = %e, "RTCP send failed");
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
            Output::ConversationRecorded { length, wav } => MediaEvent::ConversationRecorded { call, length, wav },
        };
        let _ = events.send(event);
    }
}
