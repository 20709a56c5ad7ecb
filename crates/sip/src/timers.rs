//! Transaction timers as data (RFC 3261 §17, Table 4 in Appendix A; RFC 6026 §8.4).

use std::time::Duration;

/// The base intervals. T1 is the RTT estimate, T2 the maximum non-INVITE retransmit
/// interval, T4 how long the network may hold a message (RFC 3261 §17.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval, default 4 s.
    pub t2: Duration,
    /// Maximum message lifetime, default 5 s.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J, L, M.
    #[must_use]
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}

/// Every transaction timer by its RFC name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TsxTimer {
    /// INVITE client retransmit (§17.1.1.2).
    A,
    /// INVITE client timeout.
    B,
    /// INVITE client wait for response retransmits in Completed.
    D,
    /// Non-INVITE client retransmit (§17.1.2.2).
    E,
    /// Non-INVITE client timeout.
    F,
    /// INVITE server final-response retransmit (§17.2.1).
    G,
    /// INVITE server wait for ACK.
    H,
    /// INVITE server wait for ACK retransmits in Confirmed.
    I,
    /// Non-INVITE server wait for request retransmits (§17.2.2).
    J,
    /// Non-INVITE client wait for response retransmits.
    K,
    /// INVITE server in Accepted: absorb INVITE retransmits (RFC 6026 §7.1).
    L,
    /// INVITE client in Accepted: accept 2xx retransmits (RFC 6026 §7.2).
    M,
    /// UAS core 2xx retransmission until ACK (RFC 3261 §13.3.1.4).
    Retransmit2xx,
}

impl TsxTimer {
    /// A timer that re-sends a message (the rest end a state or the transaction).
    #[must_use]
    pub fn retransmits(self) -> bool {
        matches!(self, Self::A | Self::E | Self::G | Self::Retransmit2xx)
    }
}
