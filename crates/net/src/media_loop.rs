//! The media driver: call control ([`pbx::Pbx`]) decides everything and owns the port
//! pool; the driver applies its [`MediaOp`]s without an await (the SIP loop calls
//! [`MediaDriver::apply`] inline, no thread hop) and hands each turn's work to the media
//! threads ([`MediaThreads`], `net/src/media_thread.rs`), which own the calls' sockets and
//! bridges and report keys, the media timeout, finished prompts and recordings back as
//! [`MediaEvent`]s.
//!
//! A call lives on one media thread, chosen by its id; its bridge wakes for packets,
//! commands, and its own deadline (the next 20 ms frame only while a leg hears svar's
//! audio, else the earliest media timeout), so a bridged call costs nothing between
//! packets.
//!
//! A call's ports are a block of four from the pool (`media::ports`), and the block
//! decides the call's thread. The block's sockets are bound once and then stay on that
//! thread, in its epoll set, between calls: parked when a call ends, for the next call
//! given the block. Creating, binding and closing four sockets per call was about a tenth
//! of svar's CPU per call (BENCHMARKS.md, Session 6), and taking them out of the epoll
//! set and in again eight `epoll_ctl` per call (Session 9). While parked, the block's
//! sockets stay in the thread's epoll set, so what the phones of its last call still
//! send is read and dropped as it comes, before any peer of the next call can know the
//! ports.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use media::relay::{Bridge, LegConfig};
use pbx::{MediaEvent, MediaOp};
use tokio::sync::mpsc;
use tracing::debug;

use crate::media_thread::{self, CallSockets, Command, Message, Returned, ThreadHandle};
use crate::wake::{self, Doorbell, Notifying};

/// The media threads, started before the SIP loop so that a machine that cannot start
/// them refuses to serve instead of carrying calls without audio.
#[derive(Debug)]
pub struct MediaThreads {
    threads: Vec<ThreadHandle>,
    /// For what fails before a call reaches its thread (a port that will not bind).
    events: Notifying<MediaEvent>,
    /// What became of ended calls' sockets, from the threads.
    returned: std::sync::mpsc::Receiver<Returned>,
}

impl MediaThreads {
    /// Start `count` threads (at least one); their events arrive on the receiver, and
    /// each rings `bell` (the SIP loop's).
    ///
    /// # Errors
    /// The kernel refused an epoll set, an eventfd or a thread.
    pub fn start(count: usize, bell: &Doorbell) -> std::io::Result<(Self, mpsc::UnboundedReceiver<MediaEvent>)> {
        let (events, rx) = wake::channel(bell);
        let (returned_tx, returned) = std::sync::mpsc::channel();
        let threads = (0..count.max(1))
            .map(|i| media_thread::spawn(format!("svar-media-{i}"), events.clone(), returned_tx.clone()))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok((Self { threads, events, returned }, rx))
    }
}

impl Drop for MediaThreads {
    fn drop(&mut self) {
        for t in &self.threads {
            t.send(vec![Message::Stop]);
        }
    }
}

/// Runs every call's media on one address.
#[derive(Debug)]
pub struct MediaDriver {
    ip: IpAddr,
    timeout: Duration,
    threads: MediaThreads,
    /// Calls with media open: their ports.
    calls: HashMap<u64, (u16, u16)>,
    /// This turn's messages, per thread, sent at [`MediaDriver::commit`].
    pending: Vec<Vec<Message>>,
    /// Blocks parked on their thread, by first port, with leg B's port.
    parked: HashMap<u16, u16>,
    /// Blocks bound here whose call closed before reaching its thread, for the next call
    /// given the block.
    fresh: HashMap<u16, CallSockets>,
    /// The most sockets held open at once (in calls, parked and fresh): an ended call's
    /// block closes instead of parking when more are open, and a parked block closes
    /// before a new one is bound at the limit.
    max_sockets: usize,
    /// Sockets open now (a discarded block counts out when the discard is sent).
    open: usize,
}

/// Sockets in a block.
const BLOCK_SOCKETS: usize = 4;

fn bind(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl MediaDriver {
    /// A driver for `ip` with the media timeout, running calls on `threads` and holding
    /// at most `max_sockets` sockets (in calls and parked; the process's open-files limit
    /// less what the rest of svar needs).
    #[must_use]
    pub fn new(ip: IpAddr, timeout: Duration, threads: MediaThreads, max_sockets: usize) -> Self {
        let pending = threads.threads.iter().map(|_| Vec::new()).collect();
        Self {
            ip,
            timeout,
            threads,
            calls: HashMap::new(),
            pending,
            parked: HashMap::new(),
            fresh: HashMap::new(),
            max_sockets,
            open: 0,
        }
    }

    /// Calls with media open.
    #[must_use]
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Take one of call control's commands; they reach the calls at
    /// [`MediaDriver::commit`].
    pub fn apply(&mut self, op: MediaOp) {
        self.take_returned();
        match op {
            MediaOp::Open { call, ports, a, b } => self.open(call, ports, a, b),
            MediaOp::Stream { call, leg, stream } => self.send(call, Command::Stream(leg, stream)),
            MediaOp::Feed { call, leg, feed } => self.send(call, Command::Feed(leg, feed)),
            MediaOp::ListenInband { call, leg } => self.send(call, Command::ListenInband(leg)),
            MediaOp::Record { call, leg, limits } => self.send(call, Command::Record(leg, limits)),
            MediaOp::RecordConversation { call } => self.send(call, Command::RecordConversation),
            MediaOp::DiscardConversation { call } => self.send(call, Command::DiscardConversation),
            MediaOp::Close { call } => self.close(call),
        }
    }

    /// The thread of a port block (by its first port): a block's sockets always live on
    /// the same thread.
    fn thread_of(&self, key: u16) -> usize {
        usize::from(key / media::ports::BLOCK) % self.pending.len()
    }

    fn send(&mut self, call: u64, c: Command) {
        let Some(&(key, _)) = self.calls.get(&call) else { return };
        let thread = self.thread_of(key);
        let queue = &mut self.pending[thread];
        // consecutive commands to one call travel together
        if let Some(Message::Commands { call: last, commands }) = queue.last_mut()
            && *last == call
        {
            commands.push(c);
            return;
        }
        queue.push(Message::Commands { call, commands: vec![c] });
    }

    /// The call's block parks on its thread, or closes when more sockets are open than
    /// the limit. A call opened in this same turn never reaches its thread.
    fn close(&mut self, call: u64) {
        let Some((key, pb)) = self.calls.remove(&call) else { return };
        let thread = self.thread_of(key);
        let queue = &mut self.pending[thread];
        if let Some(start) = queue.iter().position(|m| matches!(m, Message::Start { call: c, .. } if *c == call)) {
            if let Message::Start { fresh, .. } = queue.remove(start) {
                match fresh {
                    Some(sockets) if self.open <= self.max_sockets => {
                        self.fresh.insert(key, sockets);
                    }
                    // over the limit: the sockets close here
                    Some(_) => self.open = self.open.saturating_sub(BLOCK_SOCKETS),
                    // it never left its parking place
                    None => {
                        self.parked.insert(key, pb);
                    }
                }
            }
            self.pending[thread].retain(|m| !matches!(m, Message::Commands { call: c, .. } if *c == call));
            return;
        }
        queue.push(Message::Commands { call, commands: vec![Command::Close] });
        if self.open > self.max_sockets {
            queue.push(Message::Discard { key });
            self.open = self.open.saturating_sub(BLOCK_SOCKETS);
        } else {
            self.parked.insert(key, pb);
        }
    }

    /// Take what the threads reported: a block closed there is neither open nor parked,
    /// and the call that was to use it (told `Failed`) must not park it when it closes.
    fn take_returned(&mut self) {
        while let Ok(Returned::Closed { key }) = self.threads.returned.try_recv() {
            self.parked.remove(&key);
            self.calls.retain(|_, (k, _)| *k != key);
            self.open = self.open.saturating_sub(BLOCK_SOCKETS);
        }
    }

    /// A block's four sockets in the order of the media thread's socket index: RTP on
    /// the even ports, RTCP on the odd ones above (RFC 3550 §11). At the limit a parked
    /// block closes first. On failure, each port that would not bind and why (the ones
    /// that did close again).
    fn bind_block(&mut self, pa: u16, pb: u16) -> Result<CallSockets, String> {
        while self.open + BLOCK_SOCKETS > self.max_sockets {
            let Some(&other) = self.parked.keys().next() else { break };
            self.parked.remove(&other);
            let thread = self.thread_of(other);
            self.pending[thread].push(Message::Discard { key: other });
            self.open = self.open.saturating_sub(BLOCK_SOCKETS);
        }
        let ports = [pa, pb, pa + 1, pb + 1];
        match ports.map(|port| bind(self.ip, port)) {
            [Ok(a), Ok(b), Ok(c), Ok(d)] => {
                self.open += BLOCK_SOCKETS;
                Ok(CallSockets { ports, sockets: [a, b, c, d] })
            }
            results => Err(ports
                .into_iter()
                .zip(results)
                .filter_map(|(port, r)| r.err().map(|e| format!("port {port}: {e}")))
                .collect::<Vec<_>>()
                .join("; ")),
        }
    }

    /// Deliver this turn's work: one message per media thread however many calls and
    /// commands it has (and a wakeup only for work that cannot wait for its next round).
    pub fn commit(&mut self) {
        for (i, queue) in self.pending.iter_mut().enumerate() {
            if !queue.is_empty() {
                self.threads.threads[i].send(std::mem::take(queue));
            }
        }
    }

    /// The sockets a new call on ports `pa`/`pb` takes: none to send when its block is
    /// parked on its thread (no system call here), else the block bound for a call that
    /// closed before reaching its thread, else a block bound now.
    fn block(&mut self, pa: u16, pb: u16) -> Result<Option<CallSockets>, String> {
        match self.parked.remove(&pa) {
            Some(parked_b) if parked_b == pb => return Ok(None),
            Some(other_b) => {
                // the pool's blocks always pair the same ports: a driver given other pairs
                // lets the parked block go (its ports cannot bind until then)
                let thread = self.thread_of(pa);
                self.pending[thread].push(Message::Discard { key: pa });
                self.open = self.open.saturating_sub(BLOCK_SOCKETS);
                debug!(pa, pb, other_b, "RTP ports paired otherwise than their parked block");
            }
            None => {}
        }
        match self.fresh.remove(&pa) {
            Some(s) if s.ports[1] == pb => return Ok(Some(s)),
            // paired otherwise: these sockets close here
            Some(_) => self.open = self.open.saturating_sub(BLOCK_SOCKETS),
            None => {}
        }
        self.bind_block(pa, pb).map(Some)
    }

    fn open(&mut self, call: u64, (pa, pb): (u16, u16), a: LegConfig, b: LegConfig) {
        let fresh = match self.block(pa, pb) {
            Ok(fresh) => fresh,
            Err(e) => {
                let error = format!("cannot bind RTP ports {pa}/{pb}: {e}");
                let _ = self.threads.events.send(MediaEvent::Failed { call, error });
                return;
            }
        };
        let now = std::time::Instant::now();
        let mut bridge = Box::new(Bridge::new(a, b, self.timeout, now));
        let unix_us =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        bridge.set_wall_clock(now, unix_us);
        let thread = self.thread_of(pa);
        self.pending[thread].push(Message::Start { call, key: pa, fresh, bridge });
        self.calls.insert(call, (pa, pb));
    }
}
