//! The RTP port pool: a call's block of four ports, two RTP/RTCP pairs (RTP on the even
//! port, RTCP on the next odd one, RFC 3550 §11): leg A's pair at the block's first port,
//! leg B's two above. Blocks, not single pairs, so the sockets of a block always serve
//! one call together and can stay together (on one media thread, in its epoll set)
//! between calls.
//!
//! Which block a call gets: the one released longest ago, once it has rested for
//! [`QUARANTINE`]; a block never used yet only while none has rested that long. So a
//! port is not reused while stray packets of its last call may still arrive (they stop
//! within a round trip of the BYE, and the relay latches onto the first source it
//! hears), and the blocks in rotation are as few as the call rate needs: about
//! rate × (hold time + quarantine), whose sockets the media driver keeps bound between
//! calls. Taking the whole range round-robin instead bound fresh sockets for every call
//! until the range had gone round once (7,500 calls with a 30,000-port range: a quarter of
//! a 30-second benchmark at 1,000 calls/s paid four `socket`, `bind` and `ioctl` each;
//! BENCHMARKS.md, session 11). Only when every block is busy or resting is a resting one
//! taken early, rather than refusing the call.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// How long a released block rests before another call gets it.
pub const QUARANTINE: Duration = Duration::from_secs(2);

/// How long a block whose ports could not be bound stays out of rotation: another
/// program holds one of them (the range may overlap the kernel's ephemeral ports), and
/// handing the block out again two seconds later failed the same way, one call in every
/// round of the blocks in rotation.
pub const SET_ASIDE: Duration = Duration::from_secs(600);

/// No free port pair, or a port given back that was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Every block is in use.
    #[error("all {0} RTP port blocks are in use")]
    Exhausted(usize),
    /// A release of a port the pool did not hand out (a double release is a bug).
    #[error("port {0} was not in use")]
    NotInUse(u16),
}

/// Ports in one block.
pub const BLOCK: u16 = 4;

/// The pool.
#[derive(Debug)]
pub struct PortPool {
    /// Blocks never handed out, lowest first.
    unused: VecDeque<u16>,
    /// Released blocks, longest ago first, with when.
    resting: VecDeque<(u16, Instant)>,
    /// Blocks whose ports could not be bound, oldest first, with when.
    aside: VecDeque<(u16, Instant)>,
    used: HashSet<u16>,
}

impl PortPool {
    /// Blocks of four ports from `first` to `last` (inclusive; `first` is rounded up to
    /// even).
    #[must_use]
    pub fn new(first: u16, last: u16) -> Self {
        let start = u32::from(first + first % 2);
        let unused = (start..u32::from(last).saturating_sub(2))
            .step_by(BLOCK.into())
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        Self { unused, resting: VecDeque::new(), aside: VecDeque::new(), used: HashSet::new() }
    }

    /// Take a block at `now`; returns its first port: leg A's RTP port (leg A's RTCP is
    /// one above, leg B's pair two and three above).
    ///
    /// # Errors
    /// None free.
    pub fn take(&mut self, now: Instant) -> Result<u16, PortError> {
        // a block set aside long enough is tried again, after the ones never used
        while let Some(&(port, at)) = self.aside.front()
            && now.saturating_duration_since(at) >= SET_ASIDE
        {
            self.aside.pop_front();
            self.unused.push_back(port);
        }
        let rested = self.resting.front().is_some_and(|&(_, at)| now.saturating_duration_since(at) >= QUARANTINE);
        let port = if rested {
            self.resting.pop_front().map(|(p, _)| p)
        } else {
            // nothing has rested long enough: a new block, else the one resting longest
            self.unused.pop_front().or_else(|| self.resting.pop_front().map(|(p, _)| p))
        };
        let port = port.ok_or(PortError::Exhausted(self.used.len()))?;
        self.used.insert(port);
        Ok(port)
    }

    /// Give a block back at `now` by its first port; it rests for [`QUARANTINE`].
    ///
    /// # Errors
    /// The port was not in use.
    pub fn release(&mut self, port: u16, now: Instant) -> Result<(), PortError> {
        if !self.used.remove(&port) {
            return Err(PortError::NotInUse(port));
        }
        self.resting.push_back((port, now));
        Ok(())
    }

    /// Take a block out of rotation at `now` by its first port, for [`SET_ASIDE`]: its
    /// ports could not be bound.
    ///
    /// # Errors
    /// The port was not in use.
    pub fn set_aside(&mut self, port: u16, now: Instant) -> Result<(), PortError> {
        if !self.used.remove(&port) {
            return Err(PortError::NotInUse(port));
        }
        self.aside.push_back((port, now));
        Ok(())
    }

    /// Blocks set aside.
    #[must_use]
    pub fn set_aside_count(&self) -> usize {
        self.aside.len()
    }

    /// Blocks in use.
    #[must_use]
    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    /// Blocks free.
    #[must_use]
    pub fn available(&self) -> usize {
        self.unused.len() + self.resting.len()
    }
}
