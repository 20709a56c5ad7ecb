//! The RTP port pool: even ports for RTP with RTCP on the next odd port (RFC 3550 §11),
//! least recently used first so a port is not reused while stray packets of its last
//! call may still arrive.

use std::collections::{HashSet, VecDeque};

/// No free port pair, or a port given back that was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Every pair is in use.
    #[error("all {0} RTP port pairs are in use")]
    Exhausted(usize),
    /// A release of a port the pool did not hand out (a double release is a bug).
    #[error("port {0} was not in use")]
    NotInUse(u16),
}

/// The pool.
#[derive(Debug)]
pub struct PortPool {
    free: VecDeque<u16>,
    used: HashSet<u16>,
}

impl PortPool {
    /// Pairs from `first` to `last` (inclusive; `first` is rounded up to even).
    #[must_use]
    pub fn new(first: u16, last: u16) -> Self {
        let start = first + first % 2;
        let free = (start..last).step_by(2).collect();
        Self { free, used: HashSet::new() }
    }

    /// Take a pair; returns the RTP port (RTCP is one above).
    ///
    /// # Errors
    /// None free.
    pub fn take(&mut self) -> Result<u16, PortError> {
        let port = self.free.pop_front().ok_or(PortError::Exhausted(self.used.len()))?;
        self.used.insert(port);
        Ok(port)
    }

    /// Give a pair back (at the end of the queue).
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

    /// Pairs in use.
    #[must_use]
    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    /// Pairs free.
    #[must_use]
    pub fn available(&self) -> usize {
        self.free.len()
    }
}
