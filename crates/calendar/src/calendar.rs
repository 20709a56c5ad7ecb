//! Working days, opening state and the callback deadline.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime as Zoned};

use crate::holidays::{ClosingRule, DayKind, Holiday, public_holidays};
use crate::hours::{Department, Interval};

/// The deadline rule's settings (DOMAIN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineRule {
    /// The receipt day counts as day 1 (one working day earlier). Default false.
    pub count_receipt_day: bool,
    /// Closing days (not public holidays) count as working days. Default false.
    pub closing_days_count_as_working: bool,
    /// Working days after day 0. Default 2 ("senest inden for to hverdage").
    pub working_days: u8,
}

impl Default for DeadlineRule {
    fn default() -> Self {
        Self { count_receipt_day: false, closing_days_count_as_working: false, working_days: 2 }
    }
}

/// A computed deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// Day 0 of the rule.
    pub day0: Date,
    /// The last working day.
    pub due_date: Date,
    /// End of that day, 23:59:59 local.
    pub deadline: Zoned,
}

/// Open now, or closed until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Openness {
    /// Open; closes at this instant.
    Open {
        /// When the current interval ends.
        until: Zoned,
    },
    /// Closed; opens at this instant (None: no opening within the search horizon).
    Closed {
        /// Next opening.
        until: Option<Zoned>,
    },
}

/// The municipality's calendar: holidays, closing days and the time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    closing: Vec<ClosingRule>,
    /// Holidays and closing days by date for [`TABLE_YEARS`], built once: a deadline
    /// looks at several days and must not recompute Easter for each.
    table: std::collections::BTreeMap<Date, Vec<Holiday>>,
}

/// Years kept in the precomputed table; others are computed on demand.
const TABLE_YEARS: std::ops::RangeInclusive<i16> = 1990..=2100;

/// How far ahead to look for the next opening or working day (a year is plenty; guards
/// against a department configured never to open).
const HORIZON_DAYS: i32 = 400;

impl Calendar {
    /// Europe/Copenhagen with the default closing days.
    #[must_use]
    pub fn danish_default() -> Self {
        Self::new(ClosingRule::defaults())
    }

    /// Europe/Copenhagen with these closing days.
    #[must_use]
    pub fn new(closing: Vec<ClosingRule>) -> Self {
        // The bundled tz database always has Europe/Copenhagen; UTC+1 is a safe fallback.
        let tz = TimeZone::get(crate::ZONE).unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(1)));
        let mut cal = Self { tz, closing, table: std::collections::BTreeMap::new() };
        let mut table = std::collections::BTreeMap::new();
        for year in TABLE_YEARS {
            for h in cal.holidays(year) {
                table.entry(h.date).or_insert_with(Vec::new).push(h);
            }
        }
        cal.table = table;
        cal
    }

    /// The time zone.
    #[must_use]
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// Holidays and closing days of a year, sorted by date then kind (a date can be both:
    /// 2028-06-05 is 2. pinsedag and grundlovsdag).
    #[must_use]
    pub fn holidays(&self, year: i16) -> Vec<Holiday> {
        let mut v = public_holidays(year);
        for r in &self.closing {
            if let Some(date) = r.rule.in_year(year) {
                v.push(Holiday { date, name_da: r.name_da.clone(), kind: DayKind::Closed, closed_from: r.from });
            }
        }
        v.sort_by_key(|h| (h.date, h.kind));
        v
    }

    fn days_of(&self, date: Date) -> std::borrow::Cow<'_, [Holiday]> {
        if TABLE_YEARS.contains(&date.year()) {
            return std::borrow::Cow::Borrowed(self.table.get(&date).map_or(&[][..], Vec::as_slice));
        }
        std::borrow::Cow::Owned(self.holidays(date.year()).into_iter().filter(|h| h.date == date).collect())
    }

    /// A hverdag: Monday–Friday, not a public holiday, not a (whole-day) closing day.
    #[must_use]
    pub fn is_working_day(&self, date: Date, rule: &DeadlineRule) -> bool {
        if date.weekday().to_monday_one_offset() > 5 {
            return false;
        }
        self.days_of(date).iter().all(|h| match h.kind {
            DayKind::Public => false,
            // a part-day closure leaves a working day
            DayKind::Closed => rule.closing_days_count_as_working || h.closed_from.is_some(),
        })
    }

    /// The first working day strictly after `date`.
    #[must_use]
    pub fn next_working_day(&self, date: Date, rule: &DeadlineRule) -> Date {
        let mut d = date;
        for _ in 0..HORIZON_DAYS {
            d = d.tomorrow().unwrap_or(d);
            if self.is_working_day(d, rule) {
                return d;
            }
        }
        d
    }

    /// A department's actual intervals on a date: schedule or override, minus public
    /// holidays and closing days (a part-day closure cuts the day at its time).
    #[must_use]
    pub fn hours_on(&self, dept: &Department, date: Date) -> Vec<Interval> {
        let explicit = dept.overrides.contains_key(&date);
        let mut v: Vec<Interval> = dept.scheduled(date).to_vec();
        for h in self.days_of(date).iter() {
            match (h.kind, h.closed_from) {
                // an explicit override for the date wins over holidays (e.g. an election day)
                _ if explicit => {}
                (DayKind::Public, _) | (DayKind::Closed, None) => v.clear(),
                (DayKind::Closed, Some(from)) => {
                    v.retain(|i| i.start < from);
                    for i in &mut v {
                        i.end = i.end.min(from);
                    }
                }
            }
        }
        v
    }

    /// Is the department open at `at`?
    #[must_use]
    pub fn openness(&self, dept: &Department, at: Timestamp) -> Openness {
        let local = at.to_zoned_datetime(self.tz.clone());
        let date = local.date();
        let time = local.time();
        for i in self.hours_on(dept, date) {
            if i.start <= time && time < i.end {
                return Openness::Open { until: self.at(date, i.end) };
            }
        }
        // next opening: later today, or on a following day
        if let Some(i) = self.hours_on(dept, date).into_iter().find(|i| i.start > time) {
            return Openness::Closed { until: Some(self.at(date, i.start)) };
        }
        let mut d = date;
        for _ in 0..HORIZON_DAYS {
            d = d.tomorrow().unwrap_or(d);
            if let Some(i) = self.hours_on(dept, d).first() {
                return Openness::Closed { until: Some(self.at(d, i.start)) };
            }
        }
        Openness::Closed { until: None }
    }

    fn at(&self, date: Date, time: Time) -> Zoned {
        // Time::MAX stands for 24:00; a gap at a DST change resolves forward (jiff's
        // "compatible" disambiguation).
        date.to_datetime(time)
            .to_zoned_datetime(self.tz.clone())
            .unwrap_or_else(|_| Timestamp::UNIX_EPOCH.to_zoned_datetime(self.tz.clone()))
    }

    /// The callback deadline for a message received at `received` by `dept`
    /// (DOMAIN.md §2).
    #[must_use]
    pub fn deadline(&self, received: Timestamp, dept: &Department, rule: &DeadlineRule) -> Deadline {
        let local = received.to_zoned_datetime(self.tz.clone());
        let date = local.date();
        // Day 0: the receipt date if it is a working day and the message came before the
        // department's closing time (before opening counts too); else the next working day.
        let closing = self.hours_on(dept, date).last().map(|i| i.end);
        let before_close = closing.is_some_and(|c| local.time() < c);
        let day0 =
            if self.is_working_day(date, rule) && before_close { date } else { self.next_working_day(date, rule) };
        let steps = if rule.count_receipt_day { rule.working_days.saturating_sub(1) } else { rule.working_days };
        let mut due = day0;
        for _ in 0..steps {
            due = self.next_working_day(due, rule);
        }
        let deadline = self.at(due, Time::constant(23, 59, 59, 0));
        Deadline { day0, due_date: due, deadline }
    }

    /// The closing-day rules.
    #[must_use]
    pub fn closing_rules(&self) -> &[ClosingRule] {
        &self.closing
    }
}
