//! The engine's inputs, events and observable states.

use std::time::Duration;

use crate::config::{AgentId, Exit, QueueId, SkillId};

/// A caller's contact with the queue, numbered by the driver (one per call). The same
/// contact may arrive again at another queue after an exit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ContactId(pub u64);

/// What the caller needs: a skill at a level (1–9), relaxed with waiting per the queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SkillNeed {
    /// The skill.
    pub skill: SkillId,
    /// The level wanted at first.
    pub level: u8,
}

/// The colleague who knows the case, tried alone for `wait` before the whole queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Preferred {
    /// The agent.
    pub agent: AgentId,
    /// How long only that agent is offered the call.
    pub wait: Duration,
}

/// A caller entering a queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Arrival {
    /// The contact.
    pub contact: ContactId,
    /// The queue.
    pub queue: QueueId,
    /// Priority; the queue's default when `None`. Higher is served first.
    pub priority: Option<u8>,
    /// A skill requirement.
    pub skill: Option<SkillNeed>,
    /// A preferred agent.
    pub preferred: Option<Preferred>,
}

impl Arrival {
    /// A plain arrival: the queue's priority, no skill, no preferred agent.
    #[must_use]
    pub fn new(contact: ContactId, queue: QueueId) -> Self {
        Self { contact, queue, priority: None, skill: None, preferred: None }
    }
}

/// Why an agent is paused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PauseReason {
    /// A break.
    Break,
    /// Lunch.
    Lunch,
    /// A meeting.
    Meeting,
    /// Other work (case handling, training).
    OtherWork,
    /// Made not ready by the engine after missing this many offers in a row.
    MissedOffers {
        /// Offers missed.
        missed: u32,
    },
}

/// One input to the engine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Input {
    /// A caller joins a queue.
    Arrive(Arrival),
    /// A waiting caller hung up.
    Abandon(ContactId),
    /// A waiting caller asked to be called back; they keep their place and hang up.
    RequestCallback(ContactId),
    /// An agent logs in to their queues.
    Login(AgentId),
    /// An agent logs out (after the current call, if on one).
    Logout(AgentId),
    /// An agent pauses (after the current call, if on one).
    Pause(AgentId, PauseReason),
    /// A paused agent is ready again.
    Resume(AgentId),
    /// The agent answered the offer (for a callback: accepted to call the citizen).
    Accept(AgentId, ContactId),
    /// The agent rejected the offer (or their phone was busy); counts as missed.
    Decline(AgentId, ContactId),
    /// The agent's conversation ended; wrap-up starts.
    Hangup(AgentId),
    /// Time passed; run the timers that are due.
    Timeout,
}

/// Why a caller left a queue without an agent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExitReason {
    /// Waited the queue's maximum.
    MaxWait,
    /// No agent of the queue was logged in.
    NoAgents,
    /// The queue was full.
    QueueFull,
}

/// Why an offer to an agent was withdrawn.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WithdrawReason {
    /// Not accepted in the queue's offer timeout (counts as missed).
    Timeout,
    /// Declined by the agent (counts as missed).
    Declined,
    /// Another agent accepted first (ring-all).
    TakenByOther,
    /// The caller hung up, asked for a callback or left the queue.
    CallerLeft,
    /// The agent logged out or paused.
    AgentLeft,
}

/// An agent's state as the supervisor sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AgentStatus {
    /// Not logged in.
    LoggedOut,
    /// Ready for a call.
    Available,
    /// Being offered a call (ringing).
    Offered(ContactId),
    /// In a conversation.
    OnCall(ContactId),
    /// Wrapping up after a call.
    WrapUp,
    /// Paused, with the reason.
    Paused(PauseReason),
}

/// What the engine tells its driver.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Event {
    /// Announce a waiting caller's place: on arrival and every `announce_every`.
    Position {
        /// The caller.
        contact: ContactId,
        /// 1 for the next caller to be served.
        position: usize,
        /// Estimated time until an agent answers.
        estimated_wait: Duration,
    },
    /// Ring the agent (for a callback: ask the agent to call the citizen).
    Offer {
        /// The caller.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// True when the caller asked for a callback and has hung up.
        callback: bool,
    },
    /// Stop ringing the agent.
    OfferWithdrawn {
        /// The caller.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// Why.
        reason: WithdrawReason,
    },
    /// The caller is connected to the agent; they leave the queue answered.
    Answered {
        /// The caller.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
        /// Time in the queue.
        waited: Duration,
    },
    /// A caller asked to be called back (an obligation for the ledger); they stay in line.
    CallbackRequested {
        /// The caller.
        contact: ContactId,
        /// The queue.
        queue: QueueId,
        /// Time waited when asking.
        waited: Duration,
    },
    /// An agent took the callback; the caller leaves the queue called back.
    CalledBack {
        /// The caller.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
        /// Time from the original arrival until the agent took it.
        waited: Duration,
    },
    /// The caller hung up while waiting (an obligation for the ledger).
    Abandoned {
        /// The caller.
        contact: ContactId,
        /// The queue.
        queue: QueueId,
        /// Time waited.
        waited: Duration,
        /// Sooner than the queue's short-abandon threshold.
        short: bool,
    },
    /// The caller leaves without an agent, to `target`.
    Exited {
        /// The caller.
        contact: ContactId,
        /// The queue.
        queue: QueueId,
        /// Why.
        reason: ExitReason,
        /// Where to.
        target: Exit,
        /// Time waited.
        waited: Duration,
    },
    /// The preferred agent did not take the call in time; the whole queue may now.
    PreferredExpired {
        /// The caller.
        contact: ContactId,
        /// The preferred agent.
        agent: AgentId,
    },
    /// An agent's state changed.
    AgentState {
        /// The agent.
        agent: AgentId,
        /// The new state.
        status: AgentStatus,
    },
}

/// An input the engine refused; the engine's state is unchanged.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum AcdError {
    /// No such queue.
    #[error("unknown queue {0:?}")]
    UnknownQueue(QueueId),
    /// No such agent.
    #[error("unknown agent {0:?}")]
    UnknownAgent(AgentId),
    /// The contact is already waiting.
    #[error("contact {0:?} is already in a queue")]
    DuplicateContact(ContactId),
    /// The contact is not waiting (or is a callback, which has no caller on the line).
    #[error("contact {0:?} is not waiting on the line")]
    NotWaiting(ContactId),
    /// The agent is not being offered this contact.
    #[error("agent {agent:?} has no offer for {contact:?}")]
    NotOffered {
        /// The agent.
        agent: AgentId,
        /// The contact.
        contact: ContactId,
    },
    /// The input does not fit the agent's state.
    #[error("agent {agent:?} cannot do that while {status:?}")]
    AgentState {
        /// The agent.
        agent: AgentId,
        /// The state.
        status: AgentStatus,
    },
}

/// Counters per queue (DOMAIN.md §5 formulas are computed from these).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct QueueStats {
    /// Callers who entered (including those turned away at once).
    pub offered: u64,
    /// Answered by an agent.
    pub answered: u64,
    /// Answered within the service-level target.
    pub answered_within_target: u64,
    /// Hung up while waiting.
    pub abandoned: u64,
    /// Of those, sooner than the short-abandon threshold.
    pub short_abandoned: u64,
    /// Left to an exit target.
    pub exited: u64,
    /// Asked for a callback.
    pub callbacks_requested: u64,
    /// Callbacks taken by an agent.
    pub called_back: u64,
    /// In the queue now: waiting live, being offered, or waiting callbacks.
    pub waiting: u64,
    /// Sum of waits of answered callers, in microseconds (for ASA).
    pub answered_wait_micros: u64,
    /// Longest wait of an answered caller, in microseconds.
    pub longest_answered_wait_micros: u64,
}

impl QueueStats {
    /// `offered = answered + abandoned + exited + called_back + waiting`: every caller
    /// is accounted for exactly once.
    #[must_use]
    pub fn adds_up(&self) -> bool {
        self.offered == self.answered + self.abandoned + self.exited + self.called_back + self.waiting
    }
}
