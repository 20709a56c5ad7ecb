//! The municipal calendar of svar (DOMAIN.md §1–2): Danish public holidays for any year,
//! the municipality's closing days (whole or part-day), opening hours per department with
//! date overrides, working-day arithmetic and the callback deadline ("senest inden for to
//! hverdage").
//!
//! Pure: no clock, no files. Instants are `jiff::Timestamp`s given by the caller; calendar
//! arithmetic happens on local dates in Europe/Copenhagen (the time zone database is
//! bundled, so results do not depend on the machine).
//!
//! ```
//! use calendar::{Calendar, Department, DeadlineRule};
//! let cal = Calendar::danish_default();
//! let sb = Department::switchboard_default();
//! // Friday 12:00 → day 0 Friday → deadline end of Tuesday (DOMAIN.md §2)
//! let at: jiff::Timestamp = "2025-03-07T11:00:00Z".parse().unwrap();
//! let d = cal.deadline(at, &sb, &DeadlineRule::default());
//! assert_eq!(d.day0.to_string(), "2025-03-07");
//! assert_eq!(d.deadline.to_string(), "2025-03-11T23:59:59+01:00[Europe/Copenhagen]");
//! ```

mod calendar;
pub mod danish;
mod holidays;
mod hours;

pub use calendar::{Calendar, Deadline, DeadlineRule, Openness};
pub use holidays::{ClosingRule, DateRule, DayKind, Holiday, easter, public_holidays};
pub use hours::{Department, HoursError, Interval, WeeklyHours};

/// The time zone of Danish municipalities.
pub const ZONE: &str = "Europe/Copenhagen";
