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

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use media::relay::{Bridge, LegConfig};
use pbx::{MediaEvent, MediaOp};
use tokio::sync::mpsc;

use crate::media_thread::{self, Command, Message, ThreadHandle};

/// The media threads, started before the SIP loop so that a machine that cannot start
/// them refuses to serve instead of carrying calls without audio.
#[derive(Debug)]
pub struct MediaThreads {
    threads: Vec<ThreadHandle>,
    /// For what fails before a call reaches its thread (a port that will not bind).
    events: mpsc::UnboundedSender<MediaEvent>,
}

impl MediaThreads {
    /// Start `count` threads (at least one); their events arrive on the receiver.
    ///
    /// # Errors
    /// The kernel refused an epoll set, an eventfd or a thread.
    pub fn start(count: usize) -> std::io::Result<(Self, mpsc::UnboundedReceiver<MediaEvent>)> {
        let (events, rx) = mpsc::unbounded_channel();
        let threads = (0..count.max(1))
            .map(|i| media_thread::spawn(format!("svar-media-{i}"), events.clone()))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok((Self { threads, events }, rx))
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
}

fn bind(ip: IpAddr, port: u16) -> std::io::Result<std::net::UdpSocket> {
    let s = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// A call's four sockets in the order of the media thread's socket index: RTP on the
/// even ports, RTCP on the odd ones above (RFC 3550 §11).
fn bind_call(ip: IpAddr, pa: u16, pb: u16) -> std::io::Result<[std::net::UdpSocket; 4]> {
    Ok([bind(ip, pa)?, bind(ip, pb)?, bind(ip, pa + 1)?, bind(ip, pb + 1)?])
}

impl MediaDriver {
    /// A driver for `ip` with the media timeout, running calls on `threads`.
    #[must_use]
    pub fn new(ip: IpAddr, timeout: Duration, threads: MediaThreads) -> Self {
        let pending = threads.threads.iter().map(|_| Vec::new()).collect();
        Self { ip, timeout, threads, calls: HashSet::new(), pending }
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

    /// A call opened in this same turn never reaches its thread: its sockets close here
    /// and its ports are free at once.
    fn close(&mut self, call: u64) {
        if !self.calls.remove(&call) {
            return;
        }
        let thread = self.thread_of(call);
        let queue = &mut self.pending[thread];
        if queue.iter().any(|m| matches!(m, Message::Start { call: c, .. } if *c == call)) {
            queue.retain(
                |m| !matches!(m, Message::Start { call: c, .. } | Message::Commands { call: c, .. } if *c == call),
            );
        } else {
            queue.push(Message::Commands { call, commands: vec![Command::Close] });
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
        let bound = bind_call(self.ip, pa, pb);
        let sockets = match bound {
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
