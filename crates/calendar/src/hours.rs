//! Opening hours: a weekly schedule per department, with date overrides (23 December,
//! election days). The closing time is exclusive.

use std::collections::BTreeMap;

use jiff::civil::{Date, Time, Weekday};

/// Why an opening-hours spec is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    /// Not `HH:MM-HH:MM`.
    #[error("{0:?} is not an interval like 09:00-15:00")]
    Syntax(String),
    /// End not after start.
    #[error("{0:?}: the closing time must come after the opening time")]
    Empty(String),
    /// Intervals overlap or are out of order.
    #[error("intervals must be in order and must not overlap: {0:?}")]
    Overlap(String),
}

/// One open interval of a day: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// Opening time.
    pub start: Time,
    /// Closing time (exclusive).
    pub end: Time,
}

impl Interval {
    /// Parse `09:00-15:00`.
    pub fn parse(s: &str) -> Result<Self, HoursError> {
        let (a, b) = s.split_once('-').ok_or_else(|| HoursError::Syntax(s.to_owned()))?;
        let t = |x: &str| -> Result<Time, HoursError> {
            let (h, m) = x.trim().split_once(':').ok_or_else(|| HoursError::Syntax(s.to_owned()))?;
            let h: i8 = h.parse().map_err(|_| HoursError::Syntax(s.to_owned()))?;
            let m: i8 = m.parse().map_err(|_| HoursError::Syntax(s.to_owned()))?;
            if h == 24 && m == 0 {
                return Ok(Time::MAX);
            }
            Time::new(h, m, 0, 0).map_err(|_| HoursError::Syntax(s.to_owned()))
        };
        let (start, end) = (t(a)?, t(b)?);
        if end <= start {
            return Err(HoursError::Empty(s.to_owned()));
        }
        Ok(Self { start, end })
    }

    /// Parse a day's list, e.g. `09:00-12:00,13:00-15:00`; empty means closed.
    pub fn parse_day(s: &str) -> Result<Vec<Self>, HoursError> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("closed") || s.eq_ignore_ascii_case("lukket") {
            return Ok(Vec::new());
        }
        let v: Vec<Self> = s.split(',').map(Self::parse).collect::<Result<_, _>>()?;
        if v.windows(2).any(|w| w[1].start < w[0].end) {
            return Err(HoursError::Overlap(s.to_owned()));
        }
        Ok(v)
    }
}

/// Monday..Sunday intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours {
    days: [Vec<Interval>; 7],
}

impl WeeklyHours {
    /// Set one weekday's intervals.
    #[must_use]
    pub fn with(mut self, day: Weekday, intervals: Vec<Interval>) -> Self {
        self.days[day.to_monday_zero_offset() as usize] = intervals;
        self
    }

    /// A weekday's intervals.
    #[must_use]
    pub fn on(&self, day: Weekday) -> &[Interval] {
        &self.days[day.to_monday_zero_offset() as usize]
    }
}

/// A department's phone hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Id used in config and on the command line (`omstillingen`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Weekly schedule.
    pub weekly: WeeklyHours,
    /// Dates with other hours (empty list: closed all day).
    pub overrides: BTreeMap<Date, Vec<Interval>>,
}

impl Department {
    /// The demo switchboard of DOMAIN.md §1: Mon–Wed 09–15, Thu 09–17, Fri 09–13.
    #[must_use]
    pub fn switchboard_default() -> Self {
        let iv = |a: i8, b: i8| vec![Interval { start: Time::constant(a, 0, 0, 0), end: Time::constant(b, 0, 0, 0) }];
        Self {
            id: "omstillingen".into(),
            name: "Omstillingen".into(),
            weekly: WeeklyHours::default()
                .with(Weekday::Monday, iv(9, 15))
                .with(Weekday::Tuesday, iv(9, 15))
                .with(Weekday::Wednesday, iv(9, 15))
                .with(Weekday::Thursday, iv(9, 17))
                .with(Weekday::Friday, iv(9, 13)),
            overrides: BTreeMap::new(),
        }
    }

    /// Scheduled intervals for a date, before holidays and closing days are applied.
    #[must_use]
    pub fn scheduled(&self, date: Date) -> &[Interval] {
        match self.overrides.get(&date) {
            Some(v) => v,
            None => self.weekly.on(date.weekday()),
        }
    }
}
