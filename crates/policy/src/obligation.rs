//! The obligation ledger.
//!
//! ```text
//!            start            attempt (not reached)
//!   Open ──────────▶ InProgress ──────────────▶ Attempted(n) ──start──▶ InProgress
//!     │                  │  attempt (reached)          │
//!     │                  └──────────▶ Completed ◀──────┘ complete
//!     └──── cancel (with a reason) from any open state ──▶ Cancelled
//! ```
//!
//! Completed and Cancelled are final. A new call from a number that already has an open
//! obligation is folded into it (counted, audited), never doubled. Escalation: when 75 %
//! of the window from creation to deadline has passed without contact, the owner's team
//! lead sees it; at the deadline it goes to the switchboard supervisor.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

/// Identifies an obligation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObligationId(pub u64);

/// Who must call back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// An employee (by extension or id).
    Employee(String),
    /// A team.
    Team(String),
    /// A department.
    Department(String),
}

/// Why the call became an obligation (DOMAIN.md, issue 4 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Nobody answered.
    NoAnswer,
    /// The callee was busy.
    Busy,
    /// The caller gave up in a queue.
    Abandoned,
    /// Called outside opening hours.
    AfterHours,
    /// The caller recorded a message.
    MessageRecorded,
    /// The switchboard took a message.
    SwitchboardMessage,
    /// The caller asked for a callback in a queue.
    CallbackRequested,
}

/// Where an obligation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Waiting for someone to take it.
    Open,
    /// Someone is on it.
    InProgress,
    /// Called back n times without reaching the citizen.
    Attempted(u32),
    /// The citizen was reached.
    Completed,
    /// Closed without a callback, with a reason (e.g. the citizen called again and was helped).
    Cancelled(String),
}

impl State {
    /// Final states take no more transitions.
    #[must_use]
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled(_))
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Attempted(_) => "attempted",
            Self::Completed => "completed",
            Self::Cancelled(_) => "cancelled",
        }
    }
}

/// Who sees an overdue obligation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Escalation {
    /// Only the owner.
    None,
    /// 75 % of the window passed: the owner's team lead and team.
    TeamLead,
    /// Deadline passed: the switchboard supervisor.
    Supervisor,
}

/// One obligation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obligation {
    /// Id.
    pub id: ObligationId,
    /// The citizen's number (personal data: never log it unmasked).
    pub caller: String,
    /// Who must call back.
    pub owner: Owner,
    /// Why.
    pub source: Source,
    /// Topic, if known (IVR choice, message subject).
    pub topic: Option<String>,
    /// Case reference in the case system, if any.
    pub case_ref: Option<String>,
    /// When it was created.
    pub created: Timestamp,
    /// When the callback must have happened (from the calendar's deadline rule).
    pub deadline: Timestamp,
    /// State.
    pub state: State,
    /// Further calls from the same number folded into this one.
    pub repeat_calls: u32,
    /// Callback attempts so far.
    pub attempts: u32,
    /// Escalation level reached.
    pub escalation: Escalation,
}

/// One line of the audit trail: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When.
    pub at: Timestamp,
    /// The obligation.
    pub id: ObligationId,
    /// Who (a user id, or `svar` for automatic steps).
    pub by: String,
    /// What: created, folded, started, attempted, completed, cancelled, reassigned,
    /// escalated.
    pub action: &'static str,
    /// State before.
    pub from: &'static str,
    /// State after.
    pub to: &'static str,
    /// Details (new owner, reason, attempt number).
    pub detail: String,
}

/// A refused command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// No such obligation.
    #[error("obligation {0:?} does not exist")]
    NotFound(ObligationId),
    /// The transition is not on the machine.
    #[error("obligation {id:?} cannot go from {from} by {action}")]
    InvalidTransition {
        /// The obligation.
        id: ObligationId,
        /// Its state.
        from: &'static str,
        /// The refused action.
        action: &'static str,
    },
    /// A cancellation needs a reason.
    #[error("a cancellation needs a reason")]
    NoReason,
}

/// All obligations, with their audit trail.
#[derive(Debug, Default)]
pub struct Ledger {
    next: u64,
    items: BTreeMap<ObligationId, Obligation>,
    /// The open obligation of each number: folding a repeat call must not scan the ledger.
    open_by_caller: HashMap<String, ObligationId>,
    audit: Vec<AuditEntry>,
}

/// What a new call needs to become an obligation.
#[derive(Debug, Clone)]
pub struct NewObligation {
    /// The citizen's number.
    pub caller: String,
    /// Owner.
    pub owner: Owner,
    /// Why.
    pub source: Source,
    /// Topic.
    pub topic: Option<String>,
    /// The case it concerns, in the case system.
    pub case_ref: Option<String>,
    /// When the call ended.
    pub at: Timestamp,
    /// Its deadline.
    pub deadline: Timestamp,
}

impl Ledger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger holding obligations loaded from the store (after a restart). New ids
    /// continue after the highest one.
    #[must_use]
    pub fn restore(obligations: impl IntoIterator<Item = Obligation>) -> Self {
        let items: BTreeMap<ObligationId, Obligation> = obligations.into_iter().map(|o| (o.id, o)).collect();
        let next = items.keys().next_back().map_or(0, |id| id.0);
        let open_by_caller = items.values().filter(|o| !o.state.is_final()).map(|o| (o.caller.clone(), o.id)).collect();
        Self { next, items, open_by_caller, audit: Vec::new() }
    }

    /// Take the audit lines written since the last call (to persist them).
    pub fn drain_audit(&mut self) -> Vec<AuditEntry> {
        std::mem::take(&mut self.audit)
    }

    /// A missed call: a new obligation, or folded into the open one from the same number.
    /// Returns the id and whether it was new.
    pub fn record(&mut self, n: NewObligation, by: &str) -> (ObligationId, bool) {
        if let Some(o) = self.open_by_caller.get(&n.caller).and_then(|id| self.items.get_mut(id)) {
            o.repeat_calls += 1;
            let (id, st, repeats) = (o.id, o.state.name(), o.repeat_calls);
            self.log(n.at, id, by, "folded", (st, st), format!("repeat call {repeats}"));
            return (id, false);
        }
        self.next += 1;
        let id = ObligationId(self.next);
        self.open_by_caller.insert(n.caller.clone(), id);
        self.items.insert(
            id,
            Obligation {
                id,
                caller: n.caller,
                owner: n.owner,
                source: n.source,
                topic: n.topic,
                case_ref: n.case_ref,
                created: n.at,
                deadline: n.deadline,
                state: State::Open,
                repeat_calls: 0,
                attempts: 0,
                escalation: Escalation::None,
            },
        );
        self.log(n.at, id, by, "created", ("none", "open"), format!("{:?}", n.source));
        (id, true)
    }

    fn log(
        &mut self,
        at: Timestamp,
        id: ObligationId,
        by: &str,
        action: &'static str,
        states: (&'static str, &'static str),
        detail: String,
    ) {
        self.audit.push(AuditEntry { at, id, by: by.to_owned(), action, from: states.0, to: states.1, detail });
    }

    fn transition(
        &mut self,
        id: ObligationId,
        at: Timestamp,
        by: &str,
        action: &'static str,
        next: impl FnOnce(&State) -> Option<State>,
        detail: String,
    ) -> Result<(), LedgerError> {
        let o = self.items.get_mut(&id).ok_or(LedgerError::NotFound(id))?;
        let from = o.state.name();
        let to = next(&o.state).ok_or(LedgerError::InvalidTransition { id, from, action })?;
        o.state = to;
        if o.state.is_final() {
            self.open_by_caller.remove(&o.caller);
        }
        let to = o.state.name();
        self.log(at, id, by, action, (from, to), detail);
        Ok(())
    }

    /// Someone looked at the obligation (DOMAIN.md §3: every read of a message is
    /// audited). The state does not change.
    ///
    /// # Errors
    /// An unknown id.
    pub fn read(&mut self, id: ObligationId, at: Timestamp, by: &str) -> Result<(), LedgerError> {
        let state = self.items.get(&id).ok_or(LedgerError::NotFound(id))?.state.name();
        self.log(at, id, by, "read", (state, state), String::new());
        Ok(())
    }

    /// Someone takes the obligation (Open or Attempted → InProgress).
    pub fn start(&mut self, id: ObligationId, at: Timestamp, by: &str) -> Result<(), LedgerError> {
        self.transition(
            id,
            at,
            by,
            "started",
            |s| matches!(s, State::Open | State::Attempted(_)).then_some(State::InProgress),
            String::new(),
        )
    }

    /// A callback attempt (InProgress → Completed if reached, else Attempted(n + 1)).
    pub fn attempt(&mut self, id: ObligationId, at: Timestamp, by: &str, reached: bool) -> Result<(), LedgerError> {
        let tries = self.items.get(&id).map_or(0, |o| o.attempts) + 1;
        self.transition(
            id,
            at,
            by,
            "attempted",
            |s| match s {
                State::InProgress if reached => Some(State::Completed),
                State::InProgress => Some(State::Attempted(tries)),
                _ => None,
            },
            format!("attempt {tries} {}", if reached { "reached" } else { "not reached" }),
        )?;
        if let Some(o) = self.items.get_mut(&id) {
            o.attempts = tries;
        }
        Ok(())
    }

    /// Close as done (InProgress or Attempted → Completed).
    pub fn complete(&mut self, id: ObligationId, at: Timestamp, by: &str) -> Result<(), LedgerError> {
        self.transition(
            id,
            at,
            by,
            "completed",
            |s| matches!(s, State::InProgress | State::Attempted(_)).then_some(State::Completed),
            String::new(),
        )
    }

    /// Close without a callback, with a reason (any open state → Cancelled).
    pub fn cancel(&mut self, id: ObligationId, at: Timestamp, by: &str, reason: &str) -> Result<(), LedgerError> {
        if reason.trim().is_empty() {
            return Err(LedgerError::NoReason);
        }
        let r = reason.to_owned();
        self.transition(id, at, by, "cancelled", |s| (!s.is_final()).then_some(State::Cancelled(r)), reason.to_owned())
    }

    /// Give an obligation to someone else (not for closed ones).
    pub fn reassign(&mut self, id: ObligationId, to: Owner, at: Timestamp, by: &str) -> Result<(), LedgerError> {
        let o = self.items.get_mut(&id).ok_or(LedgerError::NotFound(id))?;
        if o.state.is_final() {
            return Err(LedgerError::InvalidTransition { id, from: o.state.name(), action: "reassigned" });
        }
        let st = o.state.name();
        let detail = format!("{:?} -> {:?}", o.owner, to);
        o.owner = to;
        self.log(at, id, by, "reassigned", (st, st), detail);
        Ok(())
    }

    /// An employee is ill or on holiday: their open obligations go to the backup
    /// colleague, or to the team when there is none (P3). Returns the moved ids.
    pub fn owner_absent(
        &mut self,
        employee: &str,
        backup: Option<&str>,
        team: &str,
        at: Timestamp,
    ) -> Vec<ObligationId> {
        let ids: Vec<ObligationId> = self
            .items
            .values()
            .filter(|o| !o.state.is_final() && o.owner == Owner::Employee(employee.to_owned()))
            .map(|o| o.id)
            .collect();
        let to = match backup {
            Some(b) => Owner::Employee(b.to_owned()),
            None => Owner::Team(team.to_owned()),
        };
        for id in &ids {
            let _ = self.reassign(*id, to.clone(), at, "svar");
        }
        ids
    }

    /// Raise escalation levels due at `now`; returns what changed.
    pub fn escalate(&mut self, now: Timestamp) -> Vec<(ObligationId, Escalation)> {
        let mut changed = Vec::new();
        for o in self.items.values_mut() {
            if o.state.is_final() {
                continue;
            }
            let window = o.deadline.as_second() - o.created.as_second();
            let elapsed = now.as_second() - o.created.as_second();
            let level = if now >= o.deadline {
                Escalation::Supervisor
            } else if window > 0 && elapsed * 4 >= window * 3 {
                Escalation::TeamLead
            } else {
                Escalation::None
            };
            if level > o.escalation {
                o.escalation = level;
                changed.push((o.id, level));
            }
        }
        for (id, level) in &changed {
            let st = self.items.get(id).map_or("open", |o| o.state.name());
            self.log(now, *id, "svar", "escalated", (st, st), format!("{level:?}"));
        }
        changed
    }

    /// One obligation.
    #[must_use]
    pub fn get(&self, id: ObligationId) -> Option<&Obligation> {
        self.items.get(&id)
    }

    /// Every obligation.
    pub fn all(&self) -> impl Iterator<Item = &Obligation> {
        self.items.values()
    }

    /// Open obligations of an owner, most urgent (earliest deadline) first.
    #[must_use]
    pub fn open_for(&self, owner: &Owner) -> Vec<&Obligation> {
        let mut v: Vec<&Obligation> =
            self.items.values().filter(|o| &o.owner == owner && !o.state.is_final()).collect();
        v.sort_by_key(|o| (o.deadline, o.id));
        v
    }

    /// The audit trail, oldest first.
    #[must_use]
    pub fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }
}
