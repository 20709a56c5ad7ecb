//! The media driver: one task per call owning its [`media::relay::Bridge`] and the two
//! UDP sockets of its legs. Datagrams go into the bridge as they arrive; a 20 ms
//! interval drives its frame clock; commands from call control change what a leg hears
//! or close the call, and the ports go back to the pool when the task ends, whatever
//! ended it.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use media::ports::PortPool;
use media::relay::{Bridge, Feed, Leg, LegConfig, Output};
use rtp::telephone_event::KeyEvent;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, warn};

/// What a call's media tells call control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key on a leg.
    Key {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
        /// The key event.
        event: KeyEvent,
    },
    /// A leg sent nothing for the media timeout: the call is dead.
    Timeout {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
    },
    /// A leg finished hearing a prompt.
    PlaybackDone {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
    },
}

/// Commands to one call's media.
#[derive(Debug)]
pub enum MediaCommand {
    /// Change what a leg hears.
    Feed(Leg, Feed),
    /// End the call's media (also when the handle is dropped).
    Close,
}

/// Call control's handle on one call's media.
#[derive(Debug)]
pub struct CallMedia {
    /// svar's RTP port for leg A (the caller's side) and leg B.
    pub ports: (u16, u16),
    commands: mpsc::UnboundedSender<MediaCommand>,
    task: tokio::task::JoinHandle<()>,
}

impl CallMedia {
    /// Send a command (ignored once the media has ended).
    pub fn command(&self, c: MediaCommand) {
        let _ = self.commands.send(c);
    }

    /// Close and wait until the ports are back in the pool.
    pub async fn close(self) {
        let _ = self.commands.send(MediaCommand::Close);
        let _ = self.task.await;
    }
}

/// Opens media for calls on one address from one port pool.
#[derive(Debug, Clone)]
pub struct MediaDriver {
    ip: IpAddr,
    pool: Arc<Mutex<PortPool>>,
    events: mpsc::UnboundedSender<MediaEvent>,
    timeout: Duration,
}

/// Media could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// No free ports.
    #[error(transparent)]
    Ports(#[from] media::ports::PortError),
    /// A socket could not be bound.
    #[error("cannot bind RTP port {port}: {error}")]
    Bind {
        /// The port.
        port: u16,
        /// Why.
        error: std::io::Error,
    },
}

impl MediaDriver {
    /// A driver for `ip`, taking ports from `pool`, reporting to `events`.
    #[must_use]
    pub fn new(ip: IpAddr, pool: PortPool, events: mpsc::UnboundedSender<MediaEvent>, timeout: Duration) -> Self {
        Self { ip, pool: Arc::new(Mutex::new(pool)), events, timeout }
    }

    /// Port pairs in use.
    #[must_use]
    pub fn in_use(&self) -> usize {
        self.pool.lock().map_or(0, |p| p.in_use())
    }

    fn take(&self) -> Result<u16, MediaError> {
        Ok(self.pool.lock().map_err(|_| media::ports::PortError::Exhausted(0))?.take()?)
    }

    fn give_back(pool: &Mutex<PortPool>, port: u16) {
        if let Ok(mut p) = pool.lock()
            && let Err(e) = p.release(port)
        {
            warn!(port, error = %e, "RTP port release");
        }
    }

    async fn bind(&self, port: u16) -> Result<UdpSocket, MediaError> {
        UdpSocket::bind(SocketAddr::new(self.ip, port)).await.map_err(|error| MediaError::Bind { port, error })
    }

    /// Open a call's media: two ports, a bridge, a task.
    ///
    /// # Errors
    /// No free ports, or a port cannot be bound (it goes back to the pool).
    pub async fn open(&self, call: u64, a: LegConfig, b: LegConfig) -> Result<CallMedia, MediaError> {
        let pa = self.take()?;
        let pb = match self.take() {
            Ok(p) => p,
            Err(e) => {
                Self::give_back(&self.pool, pa);
                return Err(e);
            }
        };
        let sockets = match (self.bind(pa).await, self.bind(pb).await) {
            (Ok(sa), Ok(sb)) => (sa, sb),
            (Err(e), _) | (_, Err(e)) => {
                Self::give_back(&self.pool, pa);
                Self::give_back(&self.pool, pb);
                return Err(e);
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let pool = self.pool.clone();
        let events = self.events.clone();
        let bridge = Bridge::new(a, b, self.timeout, std::time::Instant::now());
        let task = tokio::spawn(async move {
            run_call(call, bridge, sockets, rx, events).await;
            Self::give_back(&pool, pa);
            Self::give_back(&pool, pb);
        });
        Ok(CallMedia { ports: (pa, pb), commands: tx, task })
    }
}

async fn run_call(
    call: u64,
    mut bridge: Bridge,
    (sa, sb): (UdpSocket, UdpSocket),
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    events: mpsc::UnboundedSender<MediaEvent>,
) {
    let mut frames = tokio::time::interval_at(Instant::now() + Duration::from_millis(20), Duration::from_millis(20));
    frames.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let (mut buf_a, mut buf_b) = (vec![0u8; 2048], vec![0u8; 2048]);
    loop {
        tokio::select! {
            r = sa.recv_from(&mut buf_a) => if let Ok((n, from)) = r {
                bridge.packet(Leg::A, from, &buf_a[..n], std::time::Instant::now());
            },
            r = sb.recv_from(&mut buf_b) => if let Ok((n, from)) = r {
                bridge.packet(Leg::B, from, &buf_b[..n], std::time::Instant::now());
            },
            _ = frames.tick() => bridge.tick(std::time::Instant::now()),
            c = commands.recv() => match c {
                Some(MediaCommand::Feed(leg, feed)) => bridge.set_feed(leg, feed),
                Some(MediaCommand::Close) | None => break,
            },
        }
        for o in bridge.drain() {
            match o {
                Output::Send { leg, to, data } => {
                    let socket = if leg == Leg::A { &sa } else { &sb };
                    if let Err(e) = socket.try_send_to(&data, to) {
                        debug!(call, error = %e, "RTP send failed");
                    }
                }
                Output::Key { leg, event } => {
                    let _ = events.send(MediaEvent::Key { call, leg, event });
                }
                Output::MediaTimeout { leg } => {
                    let _ = events.send(MediaEvent::Timeout { call, leg });
                }
                Output::PlaybackDone { leg } => {
                    let _ = events.send(MediaEvent::PlaybackDone { call, leg });
                }
                Output::Latched { leg, to } => debug!(call, ?leg, %to, "RTP latched"),
            }
        }
    }
}
