//! Notifications about obligations (issue 4 §7): the owner is told by e-mail of a new or
//! reassigned obligation, the citizen gets an SMS receipt with the callback day. An outbox
//! with retries and backoff as data; a notification that cannot be delivered ends as
//! `Failed`, visible, never dropped.
//!
//! Pure: the driver persists what [`Outbox::drain_changed`] returns, sends what
//! [`Outbox::due`] hands out, reports each result, and wakes at [`Outbox::next_wakeup`].
//! Delivery is at least once: a notification handed out but not reported before a
//! restart is sent again.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::obligation::{Obligation, ObligationId, Owner};

/// Identifies a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NotificationId(pub u64);

/// Where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// E-mail to an employee or a team's address.
    Email {
        /// Address.
        to: String,
    },
    /// SMS to the citizen.
    Sms {
        /// Number, E.164.
        to: String,
    },
}

/// Where a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for its next attempt.
    Pending,
    /// Handed to the driver; a result is expected.
    Sending,
    /// Delivered.
    Sent {
        /// When.
        at: Timestamp,
    },
    /// Given up after the last attempt: shown to supervisors, never silently dropped.
    Failed {
        /// When.
        at: Timestamp,
    },
}

impl Delivery {
    /// Stable name for storage.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent { .. } => "sent",
            Self::Failed { .. } => "failed",
        }
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// The obligation it is about.
    pub obligation: ObligationId,
    /// Where to.
    pub channel: Channel,
    /// Subject (e-mail).
    pub subject: String,
    /// Text.
    pub body: String,
    /// When it was made.
    pub created: Timestamp,
    /// State.
    pub delivery: Delivery,
    /// Attempts made.
    pub attempts: u32,
    /// Not before.
    pub next_attempt: Timestamp,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure.
    pub first_delay: Duration,
    /// Each later wait is this many times the previous one...
    pub factor: u32,
    /// ...up to this.
    pub max_delay: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, 2 min, 8 min, 32 min, then hourly; 8 attempts (about 4½ hours).
    fn default() -> Self {
        Self { first_delay: Duration::from_secs(30), factor: 4, max_delay: Duration::from_secs(3600), max_attempts: 8 }
    }
}

impl RetryPolicy {
    fn delay_after(&self, attempts: u32) -> Duration {
        let mut d = self.first_delay;
        for _ in 1..attempts {
            d = (d * self.factor).min(self.max_delay);
        }
        d
    }
}

/// The outbox.
#[derive(Debug, Default)]
pub struct Outbox {
    items: BTreeMap<NotificationId, Notification>,
    next: u64,
    policy: RetryPolicy,
    changed: Vec<NotificationId>,
}

impl Outbox {
    /// An empty outbox.
    #[must_use]
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy, ..Self::default() }
    }

    /// The outbox as stored, after a restart: what was being sent is pending again.
    #[must_use]
    pub fn restore(policy: RetryPolicy, items: impl IntoIterator<Item = Notification>) -> Self {
        let mut items: BTreeMap<NotificationId, Notification> = items.into_iter().map(|n| (n.id, n)).collect();
        for n in items.values_mut() {
            if n.delivery == Delivery::Sending {
                n.delivery = Delivery::Pending;
            }
        }
        let next = items.keys().next_back().map_or(0, |id| id.0);
        Self { items, next, policy, changed: Vec::new() }
    }

    /// Add a notification, due now.
    pub fn enqueue(
        &mut self,
        obligation: ObligationId,
        channel: Channel,
        subject: String,
        body: String,
        now: Timestamp,
    ) -> NotificationId {
        self.next += 1;
        let id = NotificationId(self.next);
        self.items.insert(
            id,
            Notification {
                id,
                obligation,
                channel,
                subject,
                body,
                created: now,
                delivery: Delivery::Pending,
                attempts: 0,
                next_attempt: now,
                last_error: None,
            },
        );
        self.changed.push(id);
        id
    }

    /// Hand out what is due; each is `Sending` until its result is reported.
    pub fn due(&mut self, now: Timestamp) -> Vec<Notification> {
        let mut out = Vec::new();
        for n in self.items.values_mut() {
            if n.delivery == Delivery::Pending && n.next_attempt <= now {
                n.delivery = Delivery::Sending;
                out.push(n.clone());
            }
        }
        out
    }

    /// The notification was delivered.
    pub fn delivered(&mut self, id: NotificationId, now: Timestamp) {
        if let Some(n) = self.items.get_mut(&id) {
            n.attempts += 1;
            n.delivery = Delivery::Sent { at: now };
            n.last_error = None;
            self.changed.push(id);
        }
    }

    /// An attempt failed: retry after the backoff, or give up after the last attempt.
    pub fn attempt_failed(&mut self, id: NotificationId, error: String, now: Timestamp) {
        let policy = self.policy;
        if let Some(n) = self.items.get_mut(&id) {
            n.attempts += 1;
            n.last_error = Some(error);
            if n.attempts >= policy.max_attempts {
                n.delivery = Delivery::Failed { at: now };
            } else {
                n.delivery = Delivery::Pending;
                let delay = jiff::SignedDuration::try_from(policy.delay_after(n.attempts)).unwrap_or_default();
                n.next_attempt = now.checked_add(delay).unwrap_or(now);
            }
            self.changed.push(id);
        }
    }

    /// When something is next due.
    #[must_use]
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.items.values().filter(|n| n.delivery == Delivery::Pending).map(|n| n.next_attempt).min()
    }

    /// Notifications changed since the last call (to persist).
    pub fn drain_changed(&mut self) -> Vec<Notification> {
        let mut ids = std::mem::take(&mut self.changed);
        ids.sort_unstable();
        ids.dedup();
        ids.iter().filter_map(|id| self.items.get(id).cloned()).collect()
    }

    /// Notifications not yet delivered nor given up on.
    #[must_use]
    pub fn pending_count(&self) -> usize {
        self.items.values().filter(|n| matches!(n.delivery, Delivery::Pending | Delivery::Sending)).count()
    }

    /// Notifications given up on.
    pub fn failed(&self) -> impl Iterator<Item = &Notification> {
        self.items.values().filter(|n| matches!(n.delivery, Delivery::Failed { .. }))
    }

    /// A notification by id.
    #[must_use]
    pub fn get(&self, id: NotificationId) -> Option<&Notification> {
        self.items.get(&id)
    }

    /// Every notification about one obligation.
    pub fn about(&self, obligation: ObligationId) -> impl Iterator<Item = &Notification> {
        self.items.values().filter(move |n| n.obligation == obligation)
    }
}

/// The last two digits of a number, for texts that must not carry it whole.
fn tail(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(2)..].iter().collect()
}

/// Whether a caller number can receive an SMS receipt: an international number, not
/// hidden. (Whether it is a mobile is the gateway's business.)
#[must_use]
pub fn can_receive_sms(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|rest| rest.len() >= 8 && rest.bytes().all(|b| b.is_ascii_digit()))
}

/// The citizen's receipt: "Vi har modtaget din besked. Du bliver ringet op senest onsdag
/// 12. marts." The deadline is shown as its local day.
#[must_use]
pub fn receipt_text(municipality: &str, deadline: Timestamp, tz: &TimeZone) -> String {
    let day = calendar::danish::day_and_date(deadline.to_zoned_datetime(tz.clone()).date());
    format!("Vi har modtaget din besked. Du bliver ringet op senest {day}. Venlig hilsen {municipality}")
}

/// The owner's e-mail about an obligation: new or reassigned. The citizen's number is
/// not in it (e-mail is not where personal data belongs); the owner opens svar, where
/// reading it is audited.
#[must_use]
pub fn owner_email(o: &Obligation, reassigned: bool, tz: &TimeZone) -> (String, String) {
    let day = calendar::danish::day_and_date(o.deadline.to_zoned_datetime(tz.clone()).date());
    let who = match &o.owner {
        Owner::Employee(_) => "dig",
        Owner::Team(_) => "dit team",
        Owner::Department(_) => "din afdeling",
    };
    let what = if reassigned { "er givet videre til" } else { "venter på" };
    let subject = format!("Ring tilbage senest {day} (opgave {})", o.id.0);
    let topic = o.topic.as_deref().map(|t| format!("Emne: {t}\n")).unwrap_or_default();
    let body = format!(
        "En borger {what} {who}: ring tilbage senest {day}.\n{topic}Nummeret slutter på {}. Åbn opgave {} i svar for at se det og ringe op.\n",
        tail(&o.caller),
        o.id.0
    );
    (subject, body)
}

/// The e-mail when an obligation escalates: to the team lead at 75 % of its window, to
/// the switchboard supervisor when the deadline has passed.
#[must_use]
pub fn escalation_email(o: &Obligation, level: crate::obligation::Escalation, tz: &TimeZone) -> (String, String) {
    let day = calendar::danish::day_and_date(o.deadline.to_zoned_datetime(tz.clone()).date());
    let (subject, what) = match level {
        crate::obligation::Escalation::Supervisor => (
            format!("Fristen er overskredet: opgave {}", o.id.0),
            format!("Borgeren skulle have været ringet op senest {day}, og det er ikke sket."),
        ),
        _ => (
            format!("Fristen nærmer sig: opgave {}", o.id.0),
            format!("Borgeren skal ringes op senest {day}; tre fjerdedele af tiden er gået."),
        ),
    };
    let body = format!(
        "{what}\nOpgaven ligger hos {}. Nummeret slutter på {}. Åbn opgave {} i svar.\n",
        match &o.owner {
            Owner::Employee(e) => format!("medarbejder {e}"),
            Owner::Team(t) => format!("team {t}"),
            Owner::Department(d) => format!("afdeling {d}"),
        },
        tail(&o.caller),
        o.id.0
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn failures_back_off_then_give_up_visibly() {
        let mut outbox = Outbox::new(RetryPolicy::default());
        let t0 = at("2025-03-10T09:00:00Z");
        let id =
            outbox.enqueue(ObligationId(1), Channel::Sms { to: "+4520304050".into() }, String::new(), "x".into(), t0);
        let mut now = t0;
        let mut waits = Vec::new();
        for attempt in 1..=8 {
            let due = outbox.due(now);
            assert_eq!(due.len(), 1, "attempt {attempt} is due at {now}");
            assert!(outbox.due(now).is_empty(), "never handed out twice");
            outbox.attempt_failed(id, "gateway said 503".into(), now);
            if let Some(next) = outbox.next_wakeup() {
                waits.push(now.duration_until(next).as_secs());
                now = next;
            }
        }
        assert_eq!(waits, vec![30, 120, 480, 1920, 3600, 3600, 3600]);
        let n = outbox.get(id).expect("kept");
        assert!(matches!(n.delivery, Delivery::Failed { .. }));
        assert_eq!(n.last_error.as_deref(), Some("gateway said 503"));
        assert_eq!(outbox.failed().count(), 1);
        assert!(outbox.next_wakeup().is_none());
    }

    #[test]
    fn a_restart_sends_again_what_was_in_flight() {
        let mut outbox = Outbox::new(RetryPolicy::default());
        let t0 = at("2025-03-10T09:00:00Z");
        outbox.enqueue(ObligationId(1), Channel::Email { to: "a@b".into() }, "s".into(), "b".into(), t0);
        let sending = outbox.due(t0);
        let stored: Vec<Notification> = sending.clone();
        let mut again = Outbox::restore(RetryPolicy::default(), stored);
        assert_eq!(again.due(t0).len(), 1);
        let id = again.enqueue(ObligationId(2), Channel::Email { to: "a@b".into() }, "s".into(), "b".into(), t0);
        assert_eq!(id, NotificationId(2), "ids continue");
    }

    #[test]
    fn receipt_names_the_local_day_of_the_deadline() {
        let tz = TimeZone::get("Europe/Copenhagen").expect("tz");
        // 23:59:59 local on Wednesday 12 March is 22:59:59 UTC.
        let text = receipt_text("Egeskov Kommune", at("2025-03-12T22:59:59Z"), &tz);
        assert_eq!(
            text,
            "Vi har modtaget din besked. Du bliver ringet op senest onsdag 12. marts. Venlig hilsen Egeskov Kommune"
        );
        assert!(can_receive_sms("+4520304050"));
        assert!(!can_receive_sms("anonymous"));
        assert!(!can_receive_sms(""));
    }
}
