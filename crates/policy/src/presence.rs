//! Who is at work, from three sources (issue 4 §3): set by hand (with a reason and a
//! return time), by a working-hours schedule, and from an iCalendar feed. A presence set
//! by hand wins while it lasts; then an absence or meeting in the feed; then the
//! schedule (outside working hours: off duty); otherwise available.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use calendar::WeeklyHours;

use crate::ical::{self, Event};
use crate::org::Presence;

/// Where a status came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceSource {
    /// Set by hand (the employee, a colleague, the switchboard).
    Manual,
    /// The employee's calendar feed.
    Calendar,
    /// The working-hours schedule.
    Schedule,
    /// Nothing says otherwise.
    Default,
}

/// A presence set by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualPresence {
    /// Employee (extension).
    pub employee: String,
    /// The presence.
    pub presence: Presence,
    /// Why, in words ("kursus", "tandlæge").
    pub reason: Option<String>,
    /// Until when; open-ended when `None`.
    pub until: Option<Timestamp>,
    /// Who set it.
    pub set_by: String,
    /// When.
    pub set_at: Timestamp,
}

/// An employee's presence now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The presence.
    pub presence: Presence,
    /// Reason, if one was given or the calendar event has a summary.
    pub reason: Option<String>,
    /// When they are back, if known.
    pub back_at: Option<Timestamp>,
    /// Which source decided.
    pub source: PresenceSource,
}

/// Everyone's presence sources.
#[derive(Debug, Clone)]
pub struct PresenceBoard {
    tz: TimeZone,
    manual: HashMap<String, ManualPresence>,
    feeds: HashMap<String, Vec<Event>>,
    schedules: HashMap<String, WeeklyHours>,
}

impl PresenceBoard {
    /// An empty board in the municipality's time zone.
    #[must_use]
    pub fn new(tz: TimeZone) -> Self {
        Self { tz, manual: HashMap::new(), feeds: HashMap::new(), schedules: HashMap::new() }
    }

    /// Set a presence by hand (replaces the previous one).
    pub fn set_manual(&mut self, entry: ManualPresence) {
        self.manual.insert(entry.employee.clone(), entry);
    }

    /// Clear what was set by hand.
    pub fn clear_manual(&mut self, employee: &str) -> Option<ManualPresence> {
        self.manual.remove(employee)
    }

    /// The presence set by hand, if any.
    #[must_use]
    pub fn manual(&self, employee: &str) -> Option<&ManualPresence> {
        self.manual.get(employee)
    }

    /// Replace an employee's calendar feed.
    pub fn set_feed(&mut self, employee: &str, events: Vec<Event>) {
        self.feeds.insert(employee.to_owned(), events);
    }

    /// Set an employee's working hours.
    pub fn set_schedule(&mut self, employee: &str, hours: WeeklyHours) {
        self.schedules.insert(employee.to_owned(), hours);
    }

    /// The employee's presence at `now`.
    #[must_use]
    pub fn status(&self, employee: &str, now: Timestamp) -> Status {
        if let Some(m) = self.manual.get(employee)
            && m.set_at <= now
            && m.until.is_none_or(|u| now < u)
        {
            let presence = with_until(m.presence.clone(), m.until);
            return Status { back_at: m.until, presence, reason: m.reason.clone(), source: PresenceSource::Manual };
        }
        if let Some(events) = self.feeds.get(employee) {
            let presence = ical::presence_at(events, now);
            if presence != Presence::Available {
                let reason = events.iter().find(|e| e.covering(now).is_some()).map(|e| e.summary.clone());
                return Status {
                    back_at: presence.back_at(),
                    presence,
                    reason: reason.filter(|r| !r.is_empty()),
                    source: PresenceSource::Calendar,
                };
            }
        }
        if let Some(hours) = self.schedules.get(employee) {
            let local = now.to_zoned_datetime(self.tz.clone());
            let t = local.time();
            let at_work = hours.on(local.date().weekday()).iter().any(|i| i.start <= t && t < i.end);
            if !at_work {
                return Status {
                    presence: Presence::OffDuty,
                    reason: None,
                    back_at: self.next_start(hours, now),
                    source: PresenceSource::Schedule,
                };
            }
        }
        Status { presence: Presence::Available, reason: None, back_at: None, source: PresenceSource::Default }
    }

    /// The next start of working hours after `now`, within two weeks.
    fn next_start(&self, hours: &WeeklyHours, now: Timestamp) -> Option<Timestamp> {
        let local = now.to_zoned_datetime(self.tz.clone());
        let mut date = local.date();
        for _ in 0..14 {
            for i in hours.on(date.weekday()) {
                let start = date.to_datetime(i.start).to_zoned_datetime(self.tz.clone()).ok()?.timestamp();
                if start > now {
                    return Some(start);
                }
            }
            date = date.checked_add(Span::new().days(1)).ok()?;
        }
        None
    }

    /// "tilbage mandag 10. marts", or "tilbage kl. 13.00" the same day; for the referral
    /// prompt and the console.
    #[must_use]
    pub fn back_text(&self, status: &Status, now: Timestamp) -> Option<String> {
        let back = status.back_at?.to_zoned_datetime(self.tz.clone());
        let today = now.to_zoned_datetime(self.tz.clone()).date();
        Some(if back.date() == today {
            format!("tilbage {}", calendar::danish::clock(back.time()))
        } else {
            format!("tilbage {}", calendar::danish::day_and_date(back.date()))
        })
    }
}

fn with_until(p: Presence, until: Option<Timestamp>) -> Presence {
    match p {
        Presence::Away { .. } => Presence::Away { until },
        Presence::Ill { .. } => Presence::Ill { until },
        Presence::Holiday { .. } => Presence::Holiday { until },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calendar::Interval;
    use jiff::civil::Weekday;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn board() -> PresenceBoard {
        let tz = TimeZone::get("Europe/Copenhagen").expect("tz");
        let mut b = PresenceBoard::new(tz);
        let day = Interval::parse("08:00-16:00").expect("hours");
        let mut hours = WeeklyHours::default();
        for d in [Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday] {
            hours = hours.with(d, vec![day]);
        }
        b.set_schedule("1001", hours);
        b
    }

    #[test]
    fn schedule_makes_evenings_and_weekends_off_duty_with_the_next_start() {
        let b = board();
        // Friday 7 March 2025, 17:00 local.
        let s = b.status("1001", at("2025-03-07T16:00:00Z"));
        assert_eq!((s.presence.clone(), s.source), (Presence::OffDuty, PresenceSource::Schedule));
        assert_eq!(s.back_at, Some(at("2025-03-10T07:00:00Z")));
        assert_eq!(b.back_text(&s, at("2025-03-07T16:00:00Z")).as_deref(), Some("tilbage mandag 10. marts"));
        assert_eq!(b.status("1001", at("2025-03-10T09:00:00Z")).presence, Presence::Available);
        assert_eq!(b.status("1099", at("2025-03-08T09:00:00Z")).source, PresenceSource::Default);
    }

    #[test]
    fn set_by_hand_wins_until_its_end_with_its_reason() {
        let mut b = board();
        b.set_manual(ManualPresence {
            employee: "1001".into(),
            presence: Presence::Away { until: None },
            reason: Some("tandlæge".into()),
            until: Some(at("2025-03-10T12:00:00Z")),
            set_by: "1000".into(),
            set_at: at("2025-03-10T09:00:00Z"),
        });
        let s = b.status("1001", at("2025-03-10T10:00:00Z"));
        assert_eq!(s.presence, Presence::Away { until: Some(at("2025-03-10T12:00:00Z")) });
        assert_eq!(s.reason.as_deref(), Some("tandlæge"));
        assert_eq!(s.source, PresenceSource::Manual);
        assert_eq!(b.back_text(&s, at("2025-03-10T10:00:00Z")).as_deref(), Some("tilbage kl. 13.00"));
        assert_eq!(b.status("1001", at("2025-03-10T12:00:00Z")).presence, Presence::Available, "it ends by itself");
    }

    #[test]
    fn a_calendar_absence_beats_the_schedule_and_a_meeting_is_not_an_absence() {
        let mut b = board();
        let tz = TimeZone::get("Europe/Copenhagen").expect("tz");
        let feed = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20250310\r\nDTEND;VALUE=DATE:20250312\r\nSUMMARY:Ferie\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;TZID=Europe/Copenhagen:20250312T100000\r\nDTEND;TZID=Europe/Copenhagen:20250312T110000\r\nSUMMARY:Teammøde\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        b.set_feed("1001", ical::parse(feed, &tz).expect("feed"));
        let s = b.status("1001", at("2025-03-11T09:00:00Z"));
        assert!(s.presence.is_absent(), "{s:?}");
        assert_eq!(s.source, PresenceSource::Calendar);
        assert_eq!(s.reason.as_deref(), Some("Ferie"));
        assert_eq!(b.back_text(&s, at("2025-03-11T09:00:00Z")).as_deref(), Some("tilbage onsdag 12. marts"));
        let m = b.status("1001", at("2025-03-12T09:30:00Z"));
        assert_eq!(m.presence, Presence::InMeeting);
        assert!(!m.presence.is_absent());
    }
}
