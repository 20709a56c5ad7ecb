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
//! An ended call's sockets come back to the driver still bound and wait for the next
//! call given their ports: creating, binding and closing four sockets per call was about
//! a tenth of svar's CPU per call (BENCHMARKS.md, Session 6). What the phones of the old
//! call sent after it ended is read and dropped before the socket is reused, at a point
//! where no peer of the new call can know the port yet.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use media::relay::{Bridge, LegConfig};
use pbx::{MediaEvent, MediaOp};
use tokio::sync::mpsc;

use crate::media_thread::{self, CallSockets, Command, Message, Returned, ThreadHandle};

/// The media threads, started before the SIP loop so that a machine that cannot start
/// them refuses to serve instead of carrying calls without audio.
#[derive(Debug)]
pub struct MediaThreads {
    threads: Vec<ThreadHandle>,
    /// For what fails before a call reaches its thread (a port that will not bind).
    events: mpsc::UnboundedSender<MediaEvent>,
    /// What became of ended calls' sockets, from the threads.
    returned: std::sync::mpsc::Receiver<Returned>,
}

impl MediaThreads {
    /// Start `count` threads (at least one); their events arrive on the receiver.
    ///
    /// # Errors
    /// The kernel refused an epoll set, an eventfd or a thread.
    pub fn start(count: usize) -> std::io::Result<(Self, mpsc::UnboundedReceiver<MediaEvent>)> {
        let (events, rx) = mpsc::unbounded_channel();
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
    /// Calls with media open.
    calls: HashSet<u64>,
    /// This turn's messages, per thread, sent at [`MediaDriver::commit`].
    pending: Vec<Vec<Message>>,
    /// Bound sockets of ended calls by port, for the next call given that port.
    spare: HashMap<u16, UdpSocket>,
    /// The most sockets held open at once (in calls, on their way back, and spare): an
    /// ended call's sockets close instead of waiting when more are open, and a spare one
    /// closes before a new one is bound at the limit.
    max_sockets: usize,
    /// Sockets open now.
    open: usize,
}

fn bind(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Read and drop what a parked socket holds (non-blocking: ends when it is empty).
fn drain(s: &UdpSocket) {
    let mut buf = [0u8; 1];
    while s.recv(&mut buf).is_ok() {}
}

impl MediaDriver {
    /// A driver for `ip` with the media timeout, running calls on `threads` and holding
    /// at most `max_sockets` sockets (in calls and spare; the process's open-files limit
    /// less what the rest of svar needs).
    #[must_use]
    pub fn new(ip: IpAddr, timeout: Duration, threads: MediaThreads, max_sockets: usize) -> Self {
        let pending = threads.threads.iter().map(|_| Vec::new()).collect();
        Self { ip, timeout, threads, calls: HashSet::new(), pending, spare: HashMap::new(), max_sockets, open: 0 }
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
            MediaOp::Close { call } => self.close(call),
        }
    }

    fn thread_of(&self, call: u64) -> usize {
        (call % self.pending.len() as u64) as usize
    }

    fn send(&mut self, call: u64, c: Command) {
        if !self.calls.contains(&call) {
            return;
        }
        let thread = self.thread_of(call);
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

    /// A call opened in this same turn never reaches its thread: its sockets are spare
    /// again at once.
    fn close(&mut self, call: u64) {
        if !self.calls.remove(&call) {
            return;
        }
        let thread = self.thread_of(call);
        let queue = &mut self.pending[thread];
        let Some(start) = queue.iter().position(|m| matches!(m, Message::Start { call: c, .. } if *c == call)) else {
            queue.push(Message::Commands { call, commands: vec![Command::Close] });
            return;
        };
        if let Message::Start { sockets, .. } = queue.remove(start) {
            self.keep(sockets);
        }
        self.pending[thread].retain(|m| !matches!(m, Message::Commands { call: c, .. } if *c == call));
    }

    /// Keep an ended call's sockets for reuse, or close them when more than the limit are
    /// open.
    fn keep(&mut self, s: CallSockets) {
        if self.open > self.max_sockets {
            self.open -= s.sockets.len();
        } else {
            self.spare.extend(s.ports.into_iter().zip(s.sockets));
        }
    }

    /// Take what the threads sent back.
    fn take_returned(&mut self) {
        while let Ok(r) = self.threads.returned.try_recv() {
            match r {
                Returned::Parked(s) => self.keep(s),
                Returned::Closed => self.open = self.open.saturating_sub(4),
            }
        }
    }

    /// A socket bound to `port`: a spare one emptied of the last call's packets, or a new
    /// one (at the limit, after closing some other spare one).
    fn socket(&mut self, port: u16) -> std::io::Result<UdpSocket> {
        if let Some(s) = self.spare.remove(&port) {
            drain(&s);
            return Ok(s);
        }
        if self.open >= self.max_sockets
            && let Some(&other) = self.spare.keys().next()
        {
            self.spare.remove(&other);
            self.open -= 1;
        }
        let s = bind(self.ip, port)?;
        self.open += 1;
        Ok(s)
    }

    /// A call's four sockets in the order of the media thread's socket index: RTP on the
    /// even ports, RTCP on the odd ones above (RFC 3550 §11). On failure, each port that
    /// would not bind and why; the sockets that did stay spare.
    fn call_sockets(&mut self, pa: u16, pb: u16) -> Result<CallSockets, String> {
        self.take_returned();
        let ports = [pa, pb, pa + 1, pb + 1];
        match ports.map(|port| self.socket(port)) {
            [Ok(a), Ok(b), Ok(c), Ok(d)] => Ok(CallSockets { ports, sockets: [a, b, c, d] }),
            results => {
                let mut failed = Vec::new();
                for (port, r) in ports.into_iter().zip(results) {
                    match r {
                        Ok(s) => {
                            self.spare.insert(port, s);
                        }
                        Err(e) => failed.push(format!("port {port}: {e}")),
                    }
                }
                Err(failed.join("; "))
            }
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

    fn open(&mut self, call: u64, (pa, pb): (u16, u16), a: LegConfig, b: LegConfig) {
        let sockets = match self.call_sockets(pa, pb) {
            Ok(s) => s,
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
        let thread = self.thread_of(call);
        self.pending[thread].push(Message::Start { call, sockets, bridge });
        self.calls.insert(call);
    }
}
