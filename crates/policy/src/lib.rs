//! The municipality's rules in code: the organisation and its coverage routing (P1, P2),
//! and the obligation ledger of promises P3 and P5,
//! where every call that did not reach a conversation becomes exactly one obligation,
//! tracked until someone has called the citizen back.
//!
//! Pure: time comes in as `jiff::Timestamp`, deadlines are computed by the caller with the
//! `calendar` crate, and nothing is stored here; the ledger's transitions are the audit
//! trail the store writes.

pub mod ical;
pub mod notify;
pub mod obligation;
pub mod org;
pub mod presence;
pub mod route;

pub use obligation::{
    AuditEntry, Escalation, Ledger, LedgerError, NewObligation, Obligation, ObligationId, Owner, Source, State,
};
