//! Call records: one per call, written when the call ends (and never lost: the server
//! batches them into the store off the SIP path and flushes on shutdown).

/// Which way the call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// User to user.
    Internal,
    /// From a trunk.
    Inbound,
    /// To a trunk.
    Outbound,
}

impl Direction {
    /// Stable name for storage.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Someone answered.
    Answered,
    /// Callee busy (486/600).
    Busy,
    /// Rang out (ring timeout, 408, 480 after ringing).
    NoAnswer,
    /// Callee has no registered phone or is unreachable.
    Unavailable,
    /// No such user or number.
    NotFound,
    /// The caller hung up before an answer.
    Cancelled,
    /// Refused by policy (toll-fraud rule, trunk-to-trunk).
    Forbidden,
    /// Declined by the callee (603).
    Declined,
    /// Any other failure.
    Failed,
    /// Refused while the server was draining.
    Draining,
}

impl Outcome {
    /// Stable name for storage and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Unavailable => "unavailable",
            Self::NotFound => "not_found",
            Self::Cancelled => "cancelled",
            Self::Forbidden => "forbidden",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::Draining => "draining",
        }
    }

    /// From a final failure status of the callee side (RFC 3261 §21).
    #[must_use]
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Answered,
            486 | 600 => Self::Busy,
            408 | 480 => Self::NoAnswer,
            404 | 484 | 604 => Self::NotFound,
            403 => Self::Forbidden,
            603 => Self::Declined,
            487 => Self::Cancelled,
            503 => Self::Unavailable,
            _ => Self::Failed,
        }
    }
}

/// Who ended an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The calling side.
    Caller,
    /// The called side.
    Callee,
    /// svar (drain deadline, ACK timeout, media failure).
    System,
    /// svar, because an answered leg sent no RTP for the media timeout (a dead call).
    MediaTimeout,
}

impl Party {
    /// Stable name for storage.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Callee => "callee",
            Self::System => "system",
            Self::MediaTimeout => "media_timeout",
        }
    }
}

/// One call's record. Numbers are stored in full (callbacks need them); logs never
/// print them unmasked.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// svar's call id (also the SIP Call-ID of the caller's leg).
    pub call_id: String,
    /// Direction.
    pub direction: Direction,
    /// Calling user or number.
    pub caller: String,
    /// Called user or number as dialled.
    pub callee: String,
    /// Trunk used, if any.
    pub trunk: Option<String>,
    /// Unix ms when the INVITE arrived.
    pub started_ms: i64,
    /// Unix ms of the answer.
    pub answered_ms: Option<i64>,
    /// Unix ms of the end.
    pub ended_ms: i64,
    /// Outcome.
    pub outcome: Outcome,
    /// Final status sent to the caller.
    pub status: u16,
    /// Who hung up an answered call.
    pub hangup_by: Option<Party>,
    /// The call's path through svar (IVR menus, keys, prompts, where it went), one step
    /// per line as `+<ms since the call began> <step>`; `None` for a plain call.
    pub flow: Option<String>,
}
