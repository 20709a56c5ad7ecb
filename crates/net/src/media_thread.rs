//! The media threads: each owns an epoll set in **level-triggered** mode and the calls
//! given to it, their sockets, bridges and timers, with no async runtime in between.
//!
//! Why not tokio here (measured, BENCHMARKS.md "Session 5"): tokio's reactor is
//! edge-triggered, so every RTP packet cost a `recvfrom` that read it, a second one that
//! returned `EAGAIN` to re-arm readiness, and a task wake that polled all six branches of
//! the call's `select!`. At 50 packets/s a socket never holds two packets, so that EAGAIN
//! read was a third of the thread's system calls. Level-triggered epoll reports a socket
//! while it holds data: one `recvfrom` per packet, one `sendto`, and one `epoll_wait` for
//! every ready socket of the round.
//!
//! Work from call control arrives on a channel, one message per SIP-loop turn. The thread
//! takes what is queued at the start of every round, before the round's packets, so a
//! relayed call needs no wakeup of its own: its first packets find the call started and
//! its answer's codec set. Only work that has no packet to wait for (svar's own audio, a
//! recording's limits, stopping) writes the thread's eventfd; the rest waits at most
//! [`LAZY`] for the next round. Each wakeup was a context switch on both sides: three
//! per relayed call cost about a tenth of svar's CPU per call (BENCHMARKS.md, Session 5).
//!
//! A thread that has had no call and no timer for [`SETTLE`] has no round to wait for:
//! it sleeps until a packet or its eventfd, and says so in a flag, so the next message
//! to it writes the eventfd whether urgent or not. Its 20 lazy rounds a second cost about
//! 40 µs each (an idle svar spent 0.8 ms of CPU a second on them; BENCHMARKS.md, session
//! 15). Not at once when its last call ends: under short calls a thread is often briefly
//! without any, and waking it for each next call's start cost more than the lazy rounds.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::UdpSocket;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use media::record::RecordLimits;
use media::relay::{Bridge, Feed, Leg, LegStream, Output};
use pbx::MediaEvent;
use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};
use tracing::{debug, error};

use crate::wake::Notifying;

/// A command to one call, applied in order.
#[derive(Debug)]
pub(crate) enum Command {
    Stream(Leg, LegStream),
    Feed(Leg, Feed),
    ListenInband(Leg),
    Record(Leg, RecordLimits),
    RecordConversation,
    DiscardConversation,
    Close,
}

/// What a media thread is told.
#[derive(Debug)]
pub(crate) enum Message {
    /// A new call on the port block `key` (its first port), with the block's sockets when
    /// they are new to the thread; without, the block parked here since its last call
    /// serves.
    Start {
        call: u64,
        key: u16,
        fresh: Option<CallSockets>,
        bridge: Box<Bridge>,
    },
    Commands {
        call: u64,
        commands: Vec<Command>,
    },
    /// Close a parked block's sockets: the driver holds as many open as it may.
    Discard {
        key: u16,
    },
    /// The driver is gone: close every call and end the thread.
    Stop,
}

impl Message {
    /// Work with no packet to wait for: svar's own audio to start, a recording whose
    /// limits run on the clock, or the thread to stop.
    fn is_urgent(&self) -> bool {
        match self {
            Self::Start { .. } | Self::Discard { .. } => false,
            Self::Stop => true,
            Self::Commands { commands, .. } => commands.iter().any(|c| match c {
                Command::Feed(_, feed) => !matches!(feed, Feed::Bridged),
                Command::Record(..) | Command::RecordConversation => true,
                Command::Stream(..) | Command::ListenInband(_) | Command::DiscardConversation | Command::Close => false,
            }),
        }
    }
}

/// A port block's sockets in the order of the epoll data's index: RTP A, RTP B, RTCP A,
/// RTCP B, with the ports they are bound to. Once on a thread they stay there, in its
/// epoll set, between calls: parked when a call ends, for the next call given the block.
/// Leaving and joining the set again was eight `epoll_ctl` per call, 3.6 % of svar's CPU
/// per anchored call (BENCHMARKS.md, Session 9).
#[derive(Debug)]
pub(crate) struct CallSockets {
    pub(crate) ports: [u16; 4],
    pub(crate) sockets: [UdpSocket; 4],
}

/// What the driver is told, for its count of open sockets.
#[derive(Debug)]
pub(crate) enum Returned {
    /// A block's sockets closed on the thread (they could not join its epoll set), or the
    /// parked block a call was given is not there: either way no longer parked or open.
    Closed { key: u16 },
}

/// epoll data of the eventfd; a socket's is `key << 2 | index`.
const WAKE: u64 = u64::MAX;
/// Ready sockets taken per `epoll_wait`.
const BATCH: usize = 512;
/// The longest a round waits, so work sent without a wakeup (a call's start, its close
/// and its ports) is taken within this even on an idle thread.
const LAZY: Duration = Duration::from_millis(50);
/// How long a thread without calls or timers keeps its lazy rounds before it sleeps.
const SETTLE: Duration = Duration::from_secs(1);

/// The driver's side of one media thread.
#[derive(Debug)]
pub(crate) struct ThreadHandle {
    tx: Sender<Vec<Message>>,
    wake: Arc<OwnedFd>,
    /// Set by the thread before it sleeps without a deadline; taken by the sender that
    /// wakes it.
    asleep: Arc<AtomicBool>,
}

impl ThreadHandle {
    /// Hand over one turn's messages, with one wakeup if any of them cannot wait for
    /// the thread's next round or the thread has no next round (it sleeps, idle).
    pub(crate) fn send(&self, messages: Vec<Message>) {
        let urgent = messages.iter().any(Message::is_urgent);
        if self.tx.send(messages).is_err() {
            return;
        }
        // After the send: either the thread's own `swap(true)` comes later and its check
        // of the channel finds these messages, or this swap sees it asleep (both SeqCst
        // read-modify-writes of one flag, so one of the two orders holds).
        let asleep = self.asleep.swap(false, Ordering::SeqCst);
        if (urgent || asleep)
            && let Err(e) = rustix::io::write(&*self.wake, &1u64.to_ne_bytes())
        {
            error!(error = %e, "cannot wake a media thread");
        }
    }
}

/// Start one media thread named `name`, reporting to `events`.
pub(crate) fn spawn(
    name: String,
    events: Notifying<MediaEvent>,
    returned: Sender<Returned>,
) -> std::io::Result<ThreadHandle> {
    let poll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    let wake = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
    epoll::add(&poll, &*wake, epoll::EventData::new_u64(WAKE), epoll::EventFlags::IN)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let asleep = Arc::new(AtomicBool::new(false));
    let thread = Thread {
        poll,
        wake: wake.clone(),
        asleep: asleep.clone(),
        idle_since: None,
        rx,
        events,
        returned,
        calls: HashMap::new(),
        blocks: HashMap::new(),
        timers: BinaryHeap::new(),
    };
    std::thread::Builder::new().name(name).spawn(move || thread.run())?;
    Ok(ThreadHandle { tx, wake, asleep })
}

/// One call on a media thread.
struct CallMedia {
    bridge: Box<Bridge>,
    /// Its port block.
    key: u16,
    /// The earliest time this call has in the timer heap (later entries are stale).
    armed: Option<Instant>,
}

/// A port block on this thread: in a call, or parked.
struct Block {
    sockets: CallSockets,
    call: Option<u64>,
}

struct Thread {
    poll: OwnedFd,
    wake: Arc<OwnedFd>,
    /// See [`ThreadHandle::asleep`].
    asleep: Arc<AtomicBool>,
    /// Since when the thread has had no call and no timer.
    idle_since: Option<Instant>,
    rx: Receiver<Vec<Message>>,
    events: Notifying<MediaEvent>,
    /// Where an ended call's sockets go back to the driver.
    returned: Sender<Returned>,
    calls: HashMap<u64, CallMedia>,
    /// Every block whose sockets are in this thread's epoll set, by first port.
    blocks: HashMap<u16, Block>,
    /// Bridges' deadlines. An entry is live only while it is its call's `armed`: a
    /// deadline that moves later (the media timeout, on every packet) leaves the entry
    /// where it is and the call re-arms when it fires, so packets never touch the heap.
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Thread {
    fn run(mut self) {
        let mut ready = Vec::with_capacity(BATCH);
        let mut buf = [0u8; 2048];
        loop {
            ready.clear();
            let Some(idle) = self.idle_or_busy() else { return };
            let timeout = if idle {
                // until a packet, or the eventfd written by whoever sends work next
                None
            } else {
                let wait =
                    self.timers.peek().map_or(LAZY, |Reverse((at, _))| at.saturating_duration_since(Instant::now()));
                // epoll_wait counts whole milliseconds: round up, or a frame due in 0.4 ms
                // would spin until it is due
                let wait = wait.min(LAZY) + Duration::from_micros(999);
                Some(Timespec::try_from(wait).unwrap_or(Timespec { tv_sec: 0, tv_nsec: 50_000_000 }))
            };
            let waited = epoll::wait(&self.poll, rustix::buffer::spare_capacity(&mut ready), timeout.as_ref());
            if idle {
                // only an idle wait set the flag (a busy round leaves it false)
                self.asleep.store(false, Ordering::SeqCst);
            }
            match waited {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    error!(error = %e, "media thread: epoll_wait failed; its calls' media stop");
                    return;
                }
            }
            if !self.take_messages() {
                return;
            }
            for ev in &ready {
                let data = ev.data.u64();
                if data == WAKE {
                    let mut counter = [0u8; 8];
                    let _ = rustix::io::read(&*self.wake, &mut counter);
                } else {
                    self.readable((data >> 2) as u16, (data & 3) as usize, &mut buf);
                }
            }
            self.fire_timers();
        }
    }

    /// One datagram from a ready socket: level-triggered, so what is left is reported
    /// again by the next `epoll_wait` and no read ends in EAGAIN. A parked block's
    /// datagrams (what the phones of its last call still send) are read and dropped.
    fn readable(&mut self, key: u16, index: usize, buf: &mut [u8]) {
        // a block discarded earlier in this round: its sockets are gone
        let Some(block) = self.blocks.get(&key) else { return };
        let (n, from) = match block.sockets.sockets[index].recv_from(buf) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => {
                debug!(key, error = %e, "RTP receive error");
                return;
            }
        };
        let Some(call) = block.call else { return };
        let Some(c) = self.calls.get_mut(&call) else { return };
        let now = Instant::now();
        let leg = if index & 1 == 0 { Leg::A } else { Leg::B };
        if index < 2 {
            c.bridge.packet(leg, from, &buf[..n], now);
        } else {
            c.bridge.rtcp_packet(leg, from, &buf[..n], now);
        }
        self.settle(call);
    }

    /// Run every bridge whose deadline has come.
    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, call))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(c) = self.calls.get_mut(&call) else { continue };
            if c.armed != Some(at) {
                continue;
            }
            c.armed = None;
            if c.bridge.poll_timeout().is_some_and(|d| d <= now) {
                c.bridge.tick(now);
            }
            self.settle(call);
        }
    }

    /// Send and report what the call's bridge produced, and keep its timer.
    fn settle(&mut self, call: u64) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        report(call, c, self.blocks.get(&c.key).map(|b| &b.sockets), &self.events);
        if let Some(d) = c.bridge.poll_timeout()
            && c.armed.is_none_or(|a| d < a)
        {
            c.armed = Some(d);
            self.timers.push(Reverse((d, call)));
        }
    }

    /// Before a wait: a thread with no call and no timer for [`SETTLE`] marks itself
    /// asleep, then takes what was sent before the mark (a sender after it wakes the
    /// thread); given work, it is awake again. `Some(true)`: idle, wait without a
    /// deadline; `None`: stop.
    fn idle_or_busy(&mut self) -> Option<bool> {
        let idle = |t: &Self| t.calls.is_empty() && t.timers.is_empty();
        if !idle(self) {
            self.idle_since = None;
            return Some(false);
        }
        let now = Instant::now();
        if now.saturating_duration_since(*self.idle_since.get_or_insert(now)) < SETTLE {
            return Some(false);
        }
        self.asleep.swap(true, Ordering::SeqCst);
        if !self.take_messages() {
            return None;
        }
        if idle(self) {
            return Some(true);
        }
        self.asleep.store(false, Ordering::SeqCst);
        self.idle_since = None;
        Some(false)
    }

    /// Take every queued message. `false`: stop the thread.
    fn take_messages(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(batch) => {
                    for m in batch {
                        if !self.take(m) {
                            return false;
                        }
                    }
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => {
                    self.close_all();
                    return false;
                }
            }
        }
    }

    fn take(&mut self, m: Message) -> bool {
        match m {
            Message::Start { call, key, fresh, bridge } => self.start(call, key, fresh, bridge),
            Message::Discard { key } => {
                // dropping the sockets closes them, which takes them out of the epoll set
                if self.blocks.get(&key).is_some_and(|b| b.call.is_none()) {
                    self.blocks.remove(&key);
                }
            }
            Message::Commands { call, commands } => {
                let Some(c) = self.calls.get_mut(&call) else { return true };
                let open = commands.into_iter().all(|cmd| apply_to(&mut c.bridge, cmd));
                if open {
                    self.settle(call);
                } else {
                    self.close(call);
                }
            }
            Message::Stop => {
                self.close_all();
                return false;
            }
        }
        true
    }

    fn start(&mut self, call: u64, key: u16, fresh: Option<CallSockets>, bridge: Box<Bridge>) {
        match fresh {
            Some(sockets) => {
                for (i, s) in sockets.sockets.iter().enumerate() {
                    let data = epoll::EventData::new_u64(u64::from(key) << 2 | i as u64);
                    if let Err(e) = epoll::add(&self.poll, s, data, epoll::EventFlags::IN) {
                        self.refuse(call, key, format!("cannot register RTP sockets: {e}"));
                        // closing the sockets takes them out of the epoll set
                        drop(sockets);
                        return;
                    }
                }
                // a block of the same ports still here would be a driver's mistake: the
                // new sockets could not have been bound
                self.blocks.insert(key, Block { sockets, call: Some(call) });
            }
            None => match self.blocks.get_mut(&key) {
                Some(b) if b.call.is_none() => {
                    // No drain here: a parked block's sockets stayed in the epoll set, so
                    // what the last call's phones sent was read and dropped as it came,
                    // and the next call's peers learn the ports only from the SDP that
                    // leaves after this.
                    b.call = Some(call);
                }
                _ => {
                    self.refuse(call, key, format!("the parked RTP sockets of ports {key}.. are not there"));
                    return;
                }
            },
        }
        self.calls.insert(call, CallMedia { bridge, key, armed: None });
        self.settle(call);
    }

    /// A call whose media cannot start here: reported, and its block counted out.
    fn refuse(&self, call: u64, key: u16, error: String) {
        let _ = self.events.send(MediaEvent::Failed { call, error });
        let _ = self.returned.send(Returned::Closed { key });
    }

    /// End a call's media: what it was recording is reported, and its sockets stay in the
    /// epoll set, parked for the next call given its block.
    fn close(&mut self, call: u64) {
        if let Some(c) = self.end(call)
            && let Some(b) = self.blocks.get_mut(&c.key)
        {
            b.call = None;
        }
    }

    fn end(&mut self, call: u64) -> Option<CallMedia> {
        let mut c = self.calls.remove(&call)?;
        c.bridge.stop_recording();
        let key = c.key;
        report(call, &mut c, self.blocks.get(&key).map(|b| &b.sockets), &self.events);
        Some(c)
    }

    /// Shutdown: every call ends and its sockets close.
    fn close_all(&mut self) {
        let calls: Vec<u64> = self.calls.keys().copied().collect();
        for call in calls {
            self.end(call);
        }
    }
}

/// Apply one command; `false` when it closes the call.
fn apply_to(bridge: &mut Bridge, c: Command) -> bool {
    match c {
        Command::Stream(leg, st) => bridge.set_stream(leg, st, Instant::now()),
        Command::Feed(leg, feed) => bridge.set_feed(leg, feed),
        Command::ListenInband(leg) => bridge.listen_inband(leg, true),
        Command::Record(leg, limits) => bridge.record(leg, limits),
        Command::RecordConversation => bridge.record_conversation(),
        Command::DiscardConversation => bridge.discard_conversation(),
        Command::Close => return false,
    }
    true
}

fn report(call: u64, c: &mut CallMedia, sockets: Option<&CallSockets>, events: &Notifying<MediaEvent>) {
    let index = |leg: Leg| usize::from(leg == Leg::B);
    let send = |i: usize, data: &[u8], to| match sockets.map(|s| s.sockets[i].send_to(data, to)) {
        Some(Ok(_)) => {}
        Some(Err(e)) => debug!(call, error = %e, "RTP/RTCP send failed"),
        None => debug!(call, "RTP/RTCP send without sockets"),
    };
    for o in c.bridge.outputs() {
        let event = match o {
            Output::Send { leg, to, data } => {
                send(index(leg), &data, to);
                continue;
            }
            Output::SendRtcp { leg, to, data } => {
                send(2 + index(leg), &data, to);
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
