//! Obligations as stored: one row per obligation (updated in place) and an append-only
//! audit table. A write returns only after its transaction committed: what the ledger was
//! told is saved survives a crash.

use std::future::Future;

use jiff::Timestamp;
use policy::notify::Notification;
use policy::{AuditEntry, Escalation, Obligation, ObligationId, Owner, Source, State};

use crate::StoreError;

/// Persistence of the obligation ledger.
pub trait ObligationStore: Send + Sync + 'static {
    /// Insert or update obligations, append audit lines and insert or update
    /// notifications, in one transaction.
    fn save_obligations(
        &self,
        obligations: &[Obligation],
        audit: &[AuditEntry],
        notifications: &[Notification],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every notification (to rebuild the outbox at start).
    fn load_notifications(&self) -> impl Future<Output = Result<Vec<Notification>, StoreError>> + Send;
    /// Every obligation (to rebuild the ledger at start).
    fn load_obligations(&self) -> impl Future<Output = Result<Vec<Obligation>, StoreError>> + Send;
    /// An owner's open obligations, most urgent first.
    fn open_obligations_for(
        &self,
        owner: &Owner,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Obligation>, StoreError>> + Send;
    /// The audit trail of one obligation, oldest first.
    fn audit_of(&self, id: ObligationId) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}

/// One obligation as a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObligationRow {
    /// Id.
    pub id: i64,
    /// Citizen's number.
    pub caller: String,
    /// `employee`, `team` or `department`.
    pub owner_kind: String,
    /// Owner's id.
    pub owner_id: String,
    /// Source name.
    pub source: String,
    /// Topic.
    pub topic: Option<String>,
    /// Case reference.
    pub case_ref: Option<String>,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub deadline_ms: i64,
    /// State name.
    pub state: String,
    /// Cancellation reason.
    pub cancel_reason: Option<String>,
    /// Repeat calls folded in.
    pub repeat_calls: i64,
    /// Attempts.
    pub attempts: i64,
    /// Escalation name.
    pub escalation: String,
}

fn corrupt(reason: String) -> StoreError {
    StoreError::Corrupt { table: "obligations", reason }
}

/// The owner as (kind, id).
#[must_use]
pub fn owner_parts(o: &Owner) -> (&'static str, &str) {
    match o {
        Owner::Employee(x) => ("employee", x),
        Owner::Team(x) => ("team", x),
        Owner::Department(x) => ("department", x),
    }
}

fn source_name(s: Source) -> &'static str {
    match s {
        Source::NoAnswer => "no_answer",
        Source::Busy => "busy",
        Source::Abandoned => "abandoned",
        Source::AfterHours => "after_hours",
        Source::MessageRecorded => "message_recorded",
        Source::SwitchboardMessage => "switchboard_message",
        Source::CallbackRequested => "callback_requested",
    }
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

impl ObligationRow {
    /// From the ledger's obligation.
    #[must_use]
    pub fn from_obligation(o: &Obligation) -> Self {
        let (kind, who) = owner_parts(&o.owner);
        let (state, reason) = match &o.state {
            State::Open => ("open", None),
            State::InProgress => ("in_progress", None),
            State::Attempted(_) => ("attempted", None),
            State::Completed => ("completed", None),
            State::Cancelled(r) => ("cancelled", Some(r.clone())),
        };
        Self {
            id: o.id.0 as i64,
            caller: o.caller.clone(),
            owner_kind: kind.to_owned(),
            owner_id: who.to_owned(),
            source: source_name(o.source).to_owned(),
            topic: o.topic.clone(),
            case_ref: o.case_ref.clone(),
            created_ms: ms(o.created),
            deadline_ms: ms(o.deadline),
            state: state.to_owned(),
            cancel_reason: reason,
            repeat_calls: i64::from(o.repeat_calls),
            attempts: i64::from(o.attempts),
            escalation: format!("{:?}", o.escalation),
        }
    }

    /// Back to an obligation.
    pub fn into_obligation(self) -> Result<Obligation, StoreError> {
        let owner = match self.owner_kind.as_str() {
            "employee" => Owner::Employee(self.owner_id),
            "team" => Owner::Team(self.owner_id),
            "department" => Owner::Department(self.owner_id),
            k => return Err(corrupt(format!("owner kind {k}"))),
        };
        let source = [
            Source::NoAnswer,
            Source::Busy,
            Source::Abandoned,
            Source::AfterHours,
            Source::MessageRecorded,
            Source::SwitchboardMessage,
            Source::CallbackRequested,
        ]
        .into_iter()
        .find(|s| source_name(*s) == self.source)
        .ok_or_else(|| corrupt(format!("source {}", self.source)))?;
        let attempts = u32::try_from(self.attempts).map_err(|_| corrupt("attempts".into()))?;
        let state = match self.state.as_str() {
            "open" => State::Open,
            "in_progress" => State::InProgress,
            "attempted" => State::Attempted(attempts),
            "completed" => State::Completed,
            "cancelled" => State::Cancelled(self.cancel_reason.unwrap_or_default()),
            s => return Err(corrupt(format!("state {s}"))),
        };
        let escalation = match self.escalation.as_str() {
            "None" => Escalation::None,
            "TeamLead" => Escalation::TeamLead,
            "Supervisor" => Escalation::Supervisor,
            e => return Err(corrupt(format!("escalation {e}"))),
        };
        let ts = |v: i64| Timestamp::from_millisecond(v).map_err(|_| corrupt("timestamp".into()));
        Ok(Obligation {
            id: ObligationId(u64::try_from(self.id).map_err(|_| corrupt("id".into()))?),
            caller: self.caller,
            owner,
            source,
            topic: self.topic,
            case_ref: self.case_ref,
            created: ts(self.created_ms)?,
            deadline: ts(self.deadline_ms)?,
            state,
            repeat_calls: u32::try_from(self.repeat_calls).map_err(|_| corrupt("repeat_calls".into()))?,
            attempts,
            escalation,
        })
    }
}

/// An audit line as stored: (obligation id, unix ms, by, action, from, to, detail).
pub type AuditRow = (i64, i64, String, String, String, String, String);

/// To a row.
#[must_use]
pub fn audit_row(a: &AuditEntry) -> AuditRow {
    (a.id.0 as i64, ms(a.at), a.by.clone(), a.action.to_owned(), a.from.to_owned(), a.to.to_owned(), a.detail.clone())
}

fn intern(s: &str) -> &'static str {
    // the audit's action and state names are a closed set; unknown ones come back as "?"
    const NAMES: [&str; 14] = [
        "none",
        "open",
        "in_progress",
        "attempted",
        "completed",
        "cancelled",
        "created",
        "folded",
        "started",
        "reassigned",
        "escalated",
        "deleted",
        "read",
        "?",
    ];
    NAMES.iter().find(|n| **n == s).copied().unwrap_or("?")
}

/// From a row.
pub fn audit_from_row(r: AuditRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: ObligationId(u64::try_from(r.0).map_err(|_| corrupt("audit id".into()))?),
        at: Timestamp::from_millisecond(r.1).map_err(|_| corrupt("audit time".into()))?,
        by: r.2,
        action: intern(&r.3),
        from: intern(&r.4),
        to: intern(&r.5),
        detail: r.6,
    })
}
