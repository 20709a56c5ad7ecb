//! The RTP port pool: a call's block of four ports, two RTP/RTCP pairs (RTP on the even
//! port, RTCP on the next odd one, RFC 3550 §11): leg A's pair at the block's first port,
//! leg B's two above. Blocks, not single pairs, so the sockets of a block always serve
//! one call together and can stay together (on one media thread, in its epoll set)
//! between calls. Least recently used first, so a port is not reused while stray packets
//! of its last call may still arrive.

use std::collections::{HashSet, VecDeque};

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
    free: VecDeque<u16>,
    used: HashSet<u16>,
}

impl PortPool {
    /// Blocks of four ports from `first` to `last` (inclusive; `first` is rounded up to
    /// even).
    #[must_use]
    pub fn new(first: u16, last: u16) -> Self {
        let start = u32::from(first + first % 2);
        let free = (start..u32::from(last).saturating_sub(2))
            .step_by(BLOCK.into())
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        Self { free, used: HashSet::new() }
    }

    /// Take a block; returns its first port: leg A's RTP port (leg A's RTCP is one above,
    /// leg B's pair two and three above).
    ///
    /// # Errors
    /// None free.
    pub fn take(&mut self) -> Result<u16, PortError> {
        let port = self.free.pop_front().ok_or(PortError::Exhausted(self.used.len()))?;
        self.used.insert(port);
        Ok(port)
    }

    /// Give a block back (at the end of the queue) by its first port.
    ///
    /// # Errors
    /// The port was not in use.
    pub fn release(&mut self, port: u16) -> Result<(), PortError> {
        if !self.used.remove(&port) {
            return Err(PortError::NotInUse(port));
        }
        self.free.push_back(port);
        Ok(())
    }

    /// Blocks in use.
    #[must_use]
    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    /// Blocks free.
    #[must_use]
    pub fn available(&self) -> usize {
        self.free.len()
    }
}
