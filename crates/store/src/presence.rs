//! Presence set by hand, as stored: one row per employee while it applies. Schedules come
//! from the configuration and calendar feeds from their source, so only this is stored.

use std::future::Future;

use jiff::Timestamp;
use policy::org::Presence;
use policy::presence::ManualPresence;

use crate::StoreError;

/// Columns, in the order of [`PresenceRow`].
pub const PRESENCE_COLUMNS: &str = "employee, state, reason, until_ms, set_by, set_at_ms";

/// Persistence of presence set by hand.
pub trait PresenceStore: Send + Sync + 'static {
    /// Insert or replace an employee's presence.
    fn save_presence(&self, entry: &ManualPresence) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Remove it.
    fn clear_presence(&self, employee: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every stored presence.
    fn load_presence(&self) -> impl Future<Output = Result<Vec<ManualPresence>, StoreError>> + Send;
}

/// One row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceRow {
    /// Extension.
    pub employee: String,
    /// `available`, `on_call`, `in_meeting`, `away`, `ill`, `holiday`, `off_duty`.
    pub state: String,
    /// Reason.
    pub reason: Option<String>,
    /// Unix ms.
    pub until_ms: Option<i64>,
    /// Who set it.
    pub set_by: String,
    /// Unix ms.
    pub set_at_ms: i64,
}

/// A presence's stable name.
#[must_use]
pub fn presence_name(p: &Presence) -> &'static str {
    match p {
        Presence::Available => "available",
        Presence::OnCall => "on_call",
        Presence::InMeeting => "in_meeting",
        Presence::Away { .. } => "away",
        Presence::Ill { .. } => "ill",
        Presence::Holiday { .. } => "holiday",
        Presence::OffDuty => "off_duty",
    }
}

/// A presence from its name and end.
#[must_use]
pub fn presence_from(name: &str, until: Option<Timestamp>) -> Option<Presence> {
    Some(match name {
        "available" => Presence::Available,
        "on_call" => Presence::OnCall,
        "in_meeting" => Presence::InMeeting,
        "away" => Presence::Away { until },
        "ill" => Presence::Ill { until },
        "holiday" => Presence::Holiday { until },
        "off_duty" => Presence::OffDuty,
        _ => return None,
    })
}

impl PresenceRow {
    /// From the board's entry.
    #[must_use]
    pub fn from_entry(e: &ManualPresence) -> Self {
        Self {
            employee: e.employee.clone(),
            state: presence_name(&e.presence).to_owned(),
            reason: e.reason.clone(),
            until_ms: e.until.map(Timestamp::as_millisecond),
            set_by: e.set_by.clone(),
            set_at_ms: e.set_at.as_millisecond(),
        }
    }

    /// Back to the board's entry.
    ///
    /// # Errors
    /// A row that does not describe a presence.
    pub fn into_entry(self) -> Result<ManualPresence, StoreError> {
        let corrupt = |r: &str| StoreError::Corrupt { table: "presence", reason: r.to_owned() };
        let ts = |ms: i64| Timestamp::from_millisecond(ms).map_err(|_| corrupt("time"));
        let until = self.until_ms.map(ts).transpose()?;
        Ok(ManualPresence {
            presence: presence_from(&self.state, until).ok_or_else(|| corrupt("state"))?,
            employee: self.employee,
            reason: self.reason,
            until,
            set_by: self.set_by,
            set_at: ts(self.set_at_ms)?,
        })
    }
}
