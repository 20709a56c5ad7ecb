//! Notifications as stored: one row each, updated in place as attempts are made. They
//! are written in the same transaction as the obligation they are about.

use jiff::Timestamp;
use policy::ObligationId;
use policy::notify::{Channel, Delivery, Notification, NotificationId};

use crate::StoreError;

/// Columns, in the order of [`NotificationRow`].
pub const NOTIFICATION_COLUMNS: &str = "id, obligation_id, channel, address, subject, body, created_ms, state, attempts, next_attempt_ms, last_error, done_ms";

/// One notification as a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    /// Id.
    pub id: i64,
    /// Obligation.
    pub obligation_id: i64,
    /// `email` or `sms`.
    pub channel: String,
    /// Address or number.
    pub address: String,
    /// Subject.
    pub subject: String,
    /// Text.
    pub body: String,
    /// Unix ms.
    pub created_ms: i64,
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
    /// Attempts.
    pub attempts: i64,
    /// Unix ms.
    pub next_attempt_ms: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was sent or given up, Unix ms.
    pub done_ms: Option<i64>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt { table: "notifications", reason: what.to_owned() }
}

impl NotificationRow {
    /// From the outbox.
    #[must_use]
    pub fn from_notification(n: &Notification) -> Self {
        let (channel, address) = match &n.channel {
            Channel::Email { to } => ("email", to.clone()),
            Channel::Sms { to } => ("sms", to.clone()),
        };
        let done_ms = match n.delivery {
            Delivery::Sent { at } | Delivery::Failed { at } => Some(at.as_millisecond()),
            Delivery::Pending | Delivery::Sending => None,
        };
        Self {
            id: n.id.0 as i64,
            obligation_id: n.obligation.0 as i64,
            channel: channel.to_owned(),
            address,
            subject: n.subject.clone(),
            body: n.body.clone(),
            created_ms: n.created.as_millisecond(),
            state: n.delivery.name().to_owned(),
            attempts: i64::from(n.attempts),
            next_attempt_ms: n.next_attempt.as_millisecond(),
            last_error: n.last_error.clone(),
            done_ms,
        }
    }

    /// Back to the outbox's type.
    ///
    /// # Errors
    /// A row that does not describe a notification.
    pub fn into_notification(self) -> Result<Notification, StoreError> {
        let ts = |ms: i64| Timestamp::from_millisecond(ms).map_err(|_| corrupt("time"));
        let channel = match self.channel.as_str() {
            "email" => Channel::Email { to: self.address },
            "sms" => Channel::Sms { to: self.address },
            _ => return Err(corrupt("channel")),
        };
        let done = self.done_ms.map(ts).transpose()?;
        let delivery = match (self.state.as_str(), done) {
            ("pending", _) => Delivery::Pending,
            ("sending", _) => Delivery::Sending,
            ("sent", Some(at)) => Delivery::Sent { at },
            ("failed", Some(at)) => Delivery::Failed { at },
            _ => return Err(corrupt("state")),
        };
        Ok(Notification {
            id: NotificationId(u64::try_from(self.id).map_err(|_| corrupt("id"))?),
            obligation: ObligationId(u64::try_from(self.obligation_id).map_err(|_| corrupt("obligation"))?),
            channel,
            subject: self.subject,
            body: self.body,
            created: ts(self.created_ms)?,
            delivery,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt("attempts"))?,
            next_attempt: ts(self.next_attempt_ms)?,
            last_error: self.last_error,
        })
    }
}
