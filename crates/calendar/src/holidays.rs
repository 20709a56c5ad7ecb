//! Danish public holidays (helligdage) and the municipality's closing days (DOMAIN.md §1).

use jiff::civil::{Date, Time};

/// Easter Sunday in the Gregorian calendar: the anonymous algorithm (Meeus/Jones/Butcher),
/// integer arithmetic only.
#[must_use]
pub fn easter(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::constant(year, month as i8, day as i8)
}

/// What a day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DayKind {
    /// A public holiday by law.
    Public,
    /// A closing day of the municipality (custom, configurable), from `from` if part-day.
    Closed,
}

impl DayKind {
    /// `public` or `closed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Closed => "closed",
        }
    }
}

/// One holiday or closing day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// The date.
    pub date: Date,
    /// Danish name, lower case as in running text ("2. påskedag").
    pub name_da: String,
    /// Public holiday or closing day.
    pub kind: DayKind,
    /// For a part-day closure: closed from this time (e.g. 1 May from 12:00).
    pub closed_from: Option<Time>,
}

/// When a closing day falls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateRule {
    /// Every year on this month and day.
    Fixed {
        /// Month 1–12.
        month: i8,
        /// Day of month.
        day: i8,
    },
    /// Days after Easter Sunday (negative: before).
    EasterOffset(i32),
}

impl DateRule {
    /// The date in a year, if it exists (29 February).
    #[must_use]
    pub fn in_year(&self, year: i16) -> Option<Date> {
        match self {
            Self::Fixed { month, day } => Date::new(year, *month, *day).ok(),
            Self::EasterOffset(n) => easter(year).checked_add(jiff::Span::new().days(i64::from(*n))).ok(),
        }
    }
}

/// A closing day of the municipality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosingRule {
    /// Name in Danish.
    pub name_da: String,
    /// When.
    pub rule: DateRule,
    /// Closed from this time only (part-day), or the whole day.
    pub from: Option<Time>,
}

impl ClosingRule {
    /// The customary closing days of DOMAIN.md §1 (product defaults, configurable).
    #[must_use]
    pub fn defaults() -> Vec<Self> {
        let fixed = |name: &str, month, day| Self {
            name_da: name.to_owned(),
            rule: DateRule::Fixed { month, day },
            from: None,
        };
        vec![
            fixed("grundlovsdag", 6, 5),
            fixed("juleaftensdag", 12, 24),
            fixed("nytårsaftensdag", 12, 31),
            Self {
                name_da: "fredag efter kristi himmelfartsdag".to_owned(),
                rule: DateRule::EasterOffset(40),
                from: None,
            },
        ]
    }
}

/// The public holidays of a year, in date order.
#[must_use]
pub fn public_holidays(year: i16) -> Vec<Holiday> {
    let e = easter(year);
    let rel = |days: i64| e.checked_add(jiff::Span::new().days(days)).ok();
    let mut v: Vec<(Option<Date>, &str)> = vec![
        (Date::new(year, 1, 1).ok(), "nytårsdag"),
        (rel(-3), "skærtorsdag"),
        (rel(-2), "langfredag"),
        (Some(e), "påskedag"),
        (rel(1), "2. påskedag"),
        (rel(39), "kristi himmelfartsdag"),
        (rel(49), "pinsedag"),
        (rel(50), "2. pinsedag"),
        (Date::new(year, 12, 25).ok(), "juledag"),
        (Date::new(year, 12, 26).ok(), "2. juledag"),
    ];
    // Store bededag was abolished from 2024 (lov nr. 214 af 6. marts 2023).
    if year <= 2023 {
        v.push((rel(26), "store bededag"));
    }
    let mut out: Vec<Holiday> = v
        .into_iter()
        .filter_map(|(d, name)| {
            d.map(|date| Holiday { date, name_da: name.to_owned(), kind: DayKind::Public, closed_from: None })
        })
        .collect();
    out.sort_by_key(|h| h.date);
    out
}
