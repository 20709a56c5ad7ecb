//! Storage traits for svar. What it does: names what is stored (registrar bindings, call
//! records) and how rows map to domain types. What it does not do: talk to a database;
//! `store-sqlite` (and later `store-postgres`) implement [`Store`], and one story test is
//! run against each backend.

use std::future::Future;
use std::net::SocketAddr;

use pbx::record::{CallRecord, Direction, Outcome, Party};
use sip::registrar::{Binding, BindingChange};
use sip::{Peer, Transport};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(String),
    /// A stored row no longer parses (schema drift or manual edits).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// Table name.
        table: &'static str,
        /// What did not parse.
        reason: String,
    },
}

/// One registrar binding as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BindingRow {
    /// Address-of-record.
    pub aor: String,
    /// Binding key (instance id or contact URI).
    pub key: String,
    /// Contact URI.
    pub contact: String,
    /// Contact header parameters, `;a=b;c` form.
    pub params: String,
    /// q-value.
    pub q: f64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Call-ID.
    pub call_id: String,
    /// CSeq.
    pub cseq: i64,
    /// Source transport token.
    pub source_transport: String,
    /// Source address.
    pub source_addr: String,
    /// User-Agent.
    pub user_agent: Option<String>,
}

impl BindingRow {
    /// From the registrar's binding.
    #[must_use]
    pub fn from_binding(b: &Binding) -> Self {
        let mut params = String::new();
        sip_msg::text::write_params(&mut params, &b.params);
        Self {
            aor: b.aor.clone(),
            key: b.key().to_owned(),
            contact: b.contact.as_str().to_owned(),
            params,
            q: f64::from(b.q),
            expires_at: b.expires_at,
            call_id: b.call_id.clone(),
            cseq: i64::from(b.cseq),
            source_transport: b.source.transport.via_token().to_owned(),
            source_addr: b.source.addr.to_string(),
            user_agent: b.user_agent.clone(),
        }
    }

    /// Back to a binding.
    pub fn into_binding(self) -> Result<Binding, StoreError> {
        let corrupt = |reason: &str| StoreError::Corrupt { table: "bindings", reason: reason.to_owned() };
        let contact = self.contact.parse().map_err(|_| corrupt("contact"))?;
        let params = match self.params.strip_prefix(';') {
            Some(p) => sip_msg::text::parse_params(p).ok_or_else(|| corrupt("params"))?,
            None => Vec::new(),
        };
        let addr: SocketAddr = self.source_addr.parse().map_err(|_| corrupt("source_addr"))?;
        let transport = Transport::from_token(&self.source_transport).ok_or_else(|| corrupt("source_transport"))?;
        Ok(Binding {
            aor: self.aor,
            contact,
            params,
            q: self.q as f32,
            expires_at: self.expires_at,
            call_id: self.call_id,
            cseq: u32::try_from(self.cseq).map_err(|_| corrupt("cseq"))?,
            source: Peer { transport, addr },
            user_agent: self.user_agent,
        })
    }
}

/// The changes of a batch that the store must apply: the last change of each binding
/// (address-of-record and key), in the order the bindings first appear.
fn last_changes(changes: &[BindingChange]) -> Vec<&BindingChange> {
    fn key(c: &BindingChange) -> (&str, &str) {
        match c {
            BindingChange::Upsert(b) => (b.aor.as_str(), b.key()),
            BindingChange::Remove { aor, key } => (aor.as_str(), key.as_str()),
        }
    }
    let mut last: std::collections::HashMap<(&str, &str), usize> =
        std::collections::HashMap::with_capacity(changes.len());
    let mut order: Vec<(&str, &str)> = Vec::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        let k = key(c);
        if last.insert(k, i).is_none() {
            order.push(k);
        }
    }
    order.iter().filter_map(|k| last.get(k).map(|&i| &changes[i])).collect()
}

/// The last change of each binding in a batch (in the order the bindings first appear), as
/// rows to upsert and (address-of-record, key) pairs to delete.
#[must_use]
pub fn coalesce_bindings(changes: &[BindingChange]) -> (Vec<BindingRow>, Vec<(&str, &str)>) {
    let mut upserts = Vec::with_capacity(changes.len());
    let mut removes = Vec::new();
    for c in last_changes(changes) {
        match c {
            BindingChange::Upsert(b) => upserts.push(BindingRow::from_binding(b)),
            BindingChange::Remove { aor, key } => removes.push((aor.as_str(), key.as_str())),
        }
    }
    (upserts, removes)
}

/// Where the store writer puts a batch: registrar changes and call records, written
/// together or not at all. Blocking: the writer runs on a thread of its own, off the SIP
/// path.
pub trait RecordSink: Send + 'static {
    /// Apply the binding changes (in order; the last change of a binding wins) and append
    /// the call records, in one transaction.
    fn write(&mut self, bindings: &[BindingChange], records: &[CallRecord]) -> Result<(), StoreError>;
}

/// Parse stored enum names back.
pub fn parse_direction(s: &str) -> Result<Direction, StoreError> {
    Ok(match s {
        "internal" => Direction::Internal,
        "inbound" => Direction::Inbound,
        "outbound" => Direction::Outbound,
        _ => {
            return Err(StoreError::Corrupt { table: "call_records", reason: format!("direction {s}") });
        }
    })
}

/// Parse a stored outcome.
pub fn parse_outcome(s: &str) -> Result<Outcome, StoreError> {
    Ok(match s {
        "answered" => Outcome::Answered,
        "busy" => Outcome::Busy,
        "no_answer" => Outcome::NoAnswer,
        "unavailable" => Outcome::Unavailable,
        "not_found" => Outcome::NotFound,
        "cancelled" => Outcome::Cancelled,
        "forbidden" => Outcome::Forbidden,
        "declined" => Outcome::Declined,
        "failed" => Outcome::Failed,
        "draining" => Outcome::Draining,
        _ => {
            return Err(StoreError::Corrupt { table: "call_records", reason: format!("outcome {s}") });
        }
    })
}

/// Parse a stored party.
pub fn parse_party(s: &str) -> Result<Party, StoreError> {
    Ok(match s {
        "caller" => Party::Caller,
        "callee" => Party::Callee,
        "system" => Party::System,
        "media_timeout" => Party::MediaTimeout,
        _ => {
            return Err(StoreError::Corrupt { table: "call_records", reason: format!("party {s}") });
        }
    })
}

/// What svar stores. Writes take batches: the server collects records off the SIP path
/// and writes them in one transaction.
pub trait Store: Send + Sync + 'static {
    /// Apply registrar changes in order.
    fn apply_bindings(&self, changes: &[BindingChange]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every stored binding (expired ones included; the registrar skips those).
    fn load_bindings(&self) -> impl Future<Output = Result<Vec<Binding>, StoreError>> + Send;
    /// Append call records.
    fn insert_call_records(&self, records: &[CallRecord]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The newest call records, newest first.
    fn recent_call_records(&self, limit: u32) -> impl Future<Output = Result<Vec<CallRecord>, StoreError>> + Send;
}

pub mod notifications;
pub mod obligations;
pub mod organisation;
pub mod presence;
pub mod story;

pub use notifications::{NOTIFICATION_COLUMNS, NotificationRow};
pub use obligations::{ObligationRow, ObligationStore};
pub use organisation::{OrganisationStore, OrganisationVersion};
pub use presence::{PRESENCE_COLUMNS, PresenceRow, PresenceStore};
