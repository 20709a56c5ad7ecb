//! Dates and times in Danish text (DOMAIN.md §4): weekday and month names lower case,
//! `onsdag 12. marts`, `kl. 14.30`.

use jiff::civil::{Date, Time, Weekday};

/// The weekday's Danish name.
#[must_use]
pub fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mandag",
        Weekday::Tuesday => "tirsdag",
        Weekday::Wednesday => "onsdag",
        Weekday::Thursday => "torsdag",
        Weekday::Friday => "fredag",
        Weekday::Saturday => "lørdag",
        Weekday::Sunday => "søndag",
    }
}

/// The month's Danish name (1 = januar).
#[must_use]
pub fn month(month: i8) -> &'static str {
    const NAMES: [&str; 12] = [
        "januar",
        "februar",
        "marts",
        "april",
        "maj",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "december",
    ];
    NAMES[(month.clamp(1, 12) - 1) as usize]
}

/// `onsdag 12. marts`: how a citizen is told the day of their callback.
#[must_use]
pub fn day_and_date(date: Date) -> String {
    format!("{} {}. {}", weekday(date.weekday()), date.day(), month(date.month()))
}

/// `kl. 14.30`.
#[must_use]
pub fn clock(time: Time) -> String {
    format!("kl. {:02}.{:02}", time.hour(), time.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn dates_read_as_a_dane_writes_them() {
        assert_eq!(day_and_date(date(2025, 3, 12)), "onsdag 12. marts");
        assert_eq!(day_and_date(date(2025, 6, 5)), "torsdag 5. juni");
        assert_eq!(day_and_date(date(2026, 12, 27)), "søndag 27. december");
        assert_eq!(clock(Time::constant(14, 30, 0, 0)), "kl. 14.30");
        assert_eq!(clock(Time::constant(9, 5, 0, 0)), "kl. 09.05");
    }
}
