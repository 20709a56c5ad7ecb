//! Holidays against an independent Easter computation and the law's changes.

use calendar::{Calendar, DayKind, easter, public_holidays};
use jiff::civil::Date;

/// Gauss's Easter algorithm with its two exceptions: a method independent of the
/// anonymous (Meeus/Jones/Butcher) one the crate uses.
fn gauss_easter(year: i32) -> (i8, i8) {
    let a = year % 19;
    let b = year % 4;
    let c = year % 7;
    let k = year / 100;
    let p = (13 + 8 * k) / 25;
    let q = k / 4;
    let m = (15 - p + k - q) % 30;
    let n = (4 + k - q) % 7;
    let d = (19 * a + m) % 30;
    let e = (2 * b + 4 * c + 6 * d + n) % 7;
    let mut day = 22 + d + e; // in March
    if d == 29 && e == 6 {
        day = 50; // April 19
    } else if d == 28 && e == 6 && (11 * m + 11) % 30 < 19 {
        day = 49; // April 18
    }
    if day > 31 { (4, (day - 31) as i8) } else { (3, day as i8) }
}

#[test]
fn easter_agrees_with_gauss_for_1900_to_2100() {
    for year in 1900..=2100 {
        let (m, d) = gauss_easter(i32::from(year));
        let e = easter(year);
        assert_eq!((e.month(), e.day()), (m, d), "Easter {year}");
        assert_eq!(e.weekday(), jiff::civil::Weekday::Sunday, "Easter {year} is a Sunday");
    }
}

#[test]
fn easter_2024_to_2030_as_listed_in_the_domain_notes() {
    let want = ["2024-03-31", "2025-04-20", "2026-04-05", "2027-03-28", "2028-04-16", "2029-04-01", "2030-04-21"];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(easter(2024 + i as i16).to_string(), *w);
    }
}

fn names(year: i16) -> Vec<(String, String)> {
    public_holidays(year).into_iter().map(|h| (h.date.to_string(), h.name_da)).collect()
}

#[test]
fn store_bededag_is_a_holiday_up_to_2023_only() {
    assert!(names(2023).contains(&("2023-05-05".into(), "store bededag".into())));
    assert!(!names(2024).iter().any(|(_, n)| n == "store bededag"));
    assert_eq!(public_holidays(2023).len(), 11);
    assert_eq!(public_holidays(2024).len(), 10);
}

#[test]
fn the_2025_holidays() {
    let got = names(2025);
    let want = [
        ("2025-01-01", "nytårsdag"),
        ("2025-04-17", "skærtorsdag"),
        ("2025-04-18", "langfredag"),
        ("2025-04-20", "påskedag"),
        ("2025-04-21", "2. påskedag"),
        ("2025-05-29", "kristi himmelfartsdag"),
        ("2025-06-08", "pinsedag"),
        ("2025-06-09", "2. pinsedag"),
        ("2025-12-25", "juledag"),
        ("2025-12-26", "2. juledag"),
    ];
    assert_eq!(got, want.iter().map(|(d, n)| ((*d).to_owned(), (*n).to_owned())).collect::<Vec<_>>());
}

#[test]
fn a_date_can_be_a_holiday_and_a_closing_day_at_once() {
    let cal = Calendar::danish_default();
    let both: Vec<_> = cal.holidays(2028).into_iter().filter(|h| h.date == Date::constant(2028, 6, 5)).collect();
    assert_eq!(both.len(), 2, "2. pinsedag and grundlovsdag: {both:?}");
    assert_eq!(both[0].kind, DayKind::Public);
    assert_eq!(both[1].kind, DayKind::Closed);
}

#[test]
fn a_holiday_on_a_weekend_is_simply_lost() {
    let cal = Calendar::danish_default();
    let rule = calendar::DeadlineRule::default();
    // 1 January 2028 is a Saturday; Monday 3 January is an ordinary working day
    assert!(cal.is_working_day(Date::constant(2028, 1, 3), &rule));
}

#[test]
fn default_closing_days() {
    let cal = Calendar::danish_default();
    let closed: Vec<String> =
        cal.holidays(2025).into_iter().filter(|h| h.kind == DayKind::Closed).map(|h| h.date.to_string()).collect();
    assert_eq!(closed, vec!["2025-05-30", "2025-06-05", "2025-12-24", "2025-12-31"]);
}

#[test]
fn years_outside_the_precomputed_table_still_work() {
    let cal = Calendar::danish_default();
    let rule = calendar::DeadlineRule::default();
    // 1985: Christmas Day on a Wednesday, Store bededag (Easter 7 April + 26 = 3 May) a holiday
    assert!(!cal.is_working_day(Date::constant(1985, 12, 25), &rule));
    assert!(cal.is_working_day(Date::constant(1985, 12, 27), &rule));
    assert!(!cal.is_working_day(Date::constant(1985, 5, 3), &rule));
    // 2150: Easter 12 April (Gauss), so 2. påskedag 13 April is closed
    assert!(!cal.is_working_day(Date::constant(2150, 4, 13), &rule));
    assert!(cal.is_working_day(Date::constant(2150, 4, 14), &rule));
}
