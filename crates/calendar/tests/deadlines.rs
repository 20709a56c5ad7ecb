//! The callback deadline rule of DOMAIN.md §2, case by case. Expected dates are worked out
//! by hand from the 2023–2026 calendars, not computed by the code under test.

use calendar::{Calendar, ClosingRule, DateRule, DeadlineRule, Department, Interval, Openness};
use jiff::Timestamp;
use jiff::civil::{Date, Time};

fn ts(local: &str) -> Timestamp {
    // local Copenhagen time, e.g. "2025-03-07T12:00"
    let dt: jiff::civil::DateTime = local.parse().expect("datetime");
    dt.to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz")).expect("zoned").timestamp()
}

fn check(cal: &Calendar, dept: &Department, rule: &DeadlineRule, received: &str, day0: &str, due: &str) {
    let d = cal.deadline(ts(received), dept, rule);
    assert_eq!((d.day0.to_string(), d.due_date.to_string()), (day0.to_owned(), due.to_owned()), "received {received}");
    assert_eq!(d.deadline.time(), Time::constant(23, 59, 59, 0));
}

fn std_case(received: &str, day0: &str, due: &str) {
    check(
        &Calendar::danish_default(),
        &Department::switchboard_default(),
        &DeadlineRule::default(),
        received,
        day0,
        due,
    );
}

#[test]
fn fridays_and_closing_times() {
    std_case("2025-03-07T12:00", "2025-03-07", "2025-03-11"); // Friday noon → Tuesday
    std_case("2025-03-07T16:30", "2025-03-10", "2025-03-12"); // Friday after close → Wednesday
    std_case("2025-03-07T12:59", "2025-03-07", "2025-03-11");
    std_case("2025-03-07T13:00", "2025-03-10", "2025-03-12"); // closing time is exclusive
    std_case("2025-03-10T08:00", "2025-03-10", "2025-03-12"); // before opening counts as the day
    std_case("2025-03-13T16:59", "2025-03-13", "2025-03-17"); // Thursday open until 17
    std_case("2025-03-13T17:00", "2025-03-14", "2025-03-18");
}

#[test]
fn weekends() {
    std_case("2025-03-08T10:00", "2025-03-10", "2025-03-12");
    std_case("2025-03-09T23:59", "2025-03-10", "2025-03-12");
}

#[test]
fn easter() {
    std_case("2025-04-16T10:00", "2025-04-16", "2025-04-23"); // skærtorsdag..2. påskedag skipped
    std_case("2025-04-16T16:00", "2025-04-22", "2025-04-24");
    std_case("2025-04-17T10:00", "2025-04-22", "2025-04-24"); // on skærtorsdag itself
    std_case("2025-04-21T10:00", "2025-04-22", "2025-04-24"); // on 2. påskedag
}

#[test]
fn ascension_and_the_friday_after() {
    std_case("2025-05-27T10:00", "2025-05-27", "2025-06-02");
    std_case("2025-05-28T14:00", "2025-05-28", "2025-06-03");
    let rule = DeadlineRule { closing_days_count_as_working: true, ..DeadlineRule::default() };
    check(
        &Calendar::danish_default(),
        &Department::switchboard_default(),
        &rule,
        "2025-05-27T10:00",
        "2025-05-27",
        "2025-05-30",
    );
}

#[test]
fn grundlovsdag_and_whitsun() {
    std_case("2025-06-04T10:00", "2025-06-04", "2025-06-10");
}

#[test]
fn christmas_and_new_year() {
    std_case("2025-12-22T10:00", "2025-12-22", "2025-12-29");
    std_case("2025-12-23T14:00", "2025-12-23", "2025-12-30");
    std_case("2025-12-30T10:00", "2025-12-30", "2026-01-05");
    // on juleaftensdag (closed): day 0 is Monday 29th; 31st and 1 January are skipped
    std_case("2025-12-24T10:00", "2025-12-29", "2026-01-02");
}

#[test]
fn count_receipt_day_is_one_working_day_earlier() {
    let rule = DeadlineRule { count_receipt_day: true, ..DeadlineRule::default() };
    let (cal, sb) = (Calendar::danish_default(), Department::switchboard_default());
    check(&cal, &sb, &rule, "2025-03-07T12:00", "2025-03-07", "2025-03-10");
    check(&cal, &sb, &rule, "2025-03-07T16:30", "2025-03-10", "2025-03-11");
}

#[test]
fn store_bededag_before_and_after_2024() {
    std_case("2023-05-04T10:00", "2023-05-04", "2023-05-09"); // Friday 5 May 2023 was a holiday
    std_case("2024-04-25T10:00", "2024-04-25", "2024-04-29"); // 26 April 2024 is a working day
}

#[test]
fn daylight_saving_changes() {
    let cal = Calendar::danish_default();
    let sb = Department::switchboard_default();
    let rule = DeadlineRule::default();
    // spring: received in CET, deadline in CEST
    let d = cal.deadline(ts("2025-03-28T12:00"), &sb, &rule);
    assert_eq!(d.deadline.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(), "2025-04-01T23:59:59+02:00");
    // autumn: received in CEST, deadline in CET
    let d = cal.deadline(ts("2025-10-24T12:00"), &sb, &rule);
    assert_eq!(d.deadline.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(), "2025-10-28T23:59:59+01:00");
    // summer
    std_case("2025-06-13T12:30", "2025-06-13", "2025-06-17");
}

#[test]
fn calendar_arithmetic_is_on_the_local_date_not_utc() {
    let cal = Calendar::danish_default();
    let sb = Department::switchboard_default();
    let rule = DeadlineRule::default();
    // Thursday 23:30 UTC is Friday 00:30 in Copenhagen: day 0 is Friday
    let d = cal.deadline("2025-03-13T23:30:00Z".parse().expect("ts"), &sb, &rule);
    assert_eq!((d.day0.to_string(), d.due_date.to_string()), ("2025-03-14".into(), "2025-03-18".into()));
    let d = cal.deadline("2025-03-07T11:59:59Z".parse().expect("ts"), &sb, &rule);
    assert_eq!(d.day0.to_string(), "2025-03-07");
    let d = cal.deadline("2025-03-07T12:00:00Z".parse().expect("ts"), &sb, &rule);
    assert_eq!(d.day0.to_string(), "2025-03-10");
}

fn may_day_half_closed() -> Calendar {
    let mut rules = ClosingRule::defaults();
    rules.push(ClosingRule {
        name_da: "1. maj".into(),
        rule: DateRule::Fixed { month: 5, day: 1 },
        from: Some(Time::constant(12, 0, 0, 0)),
    });
    Calendar::new(rules)
}

#[test]
fn part_day_closure_cuts_the_closing_time() {
    let (cal, sb, rule) = (may_day_half_closed(), Department::switchboard_default(), DeadlineRule::default());
    check(&cal, &sb, &rule, "2025-05-01T11:00", "2025-05-01", "2025-05-05");
    check(&cal, &sb, &rule, "2025-05-01T12:30", "2025-05-02", "2025-05-06");
    // without the rule, 1 May is an ordinary Thursday (open until 17)
    std_case("2025-05-01T12:30", "2025-05-01", "2025-05-05");
    // the part-day closure keeps 1 May a working day
    assert!(cal.is_working_day(Date::constant(2025, 5, 1), &rule));
}

#[test]
fn a_date_override_closes_or_changes_a_day() {
    let cal = Calendar::danish_default();
    let mut sb = Department::switchboard_default();
    sb.overrides.insert(Date::constant(2025, 3, 7), vec![]); // closed (an election day)
    sb.overrides.insert(Date::constant(2025, 12, 23), vec![Interval::parse("09:00-12:00").expect("iv")]);
    let rule = DeadlineRule::default();
    check(&cal, &sb, &rule, "2025-03-07T10:00", "2025-03-10", "2025-03-12");
    check(&cal, &sb, &rule, "2025-12-23T11:00", "2025-12-23", "2025-12-30");
    check(&cal, &sb, &rule, "2025-12-23T12:00", "2025-12-29", "2026-01-02");
}

#[test]
fn openness_says_until_when() {
    let cal = Calendar::danish_default();
    let sb = Department::switchboard_default();
    let fmt = |z: &jiff::ZonedDateTime| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    match cal.openness(&sb, ts("2025-03-07T12:00")) {
        Openness::Open { until } => assert_eq!(fmt(&until), "2025-03-07T13:00:00+01:00"),
        other => panic!("{other:?}"),
    }
    match cal.openness(&sb, ts("2025-03-07T14:00")) {
        Openness::Closed { until: Some(t) } => assert_eq!(fmt(&t), "2025-03-10T09:00:00+01:00"),
        other => panic!("{other:?}"),
    }
    match cal.openness(&sb, ts("2025-04-16T16:00")) {
        Openness::Closed { until: Some(t) } => assert_eq!(fmt(&t), "2025-04-22T09:00:00+02:00"),
        other => panic!("{other:?}"),
    }
    match cal.openness(&sb, ts("2025-03-10T08:30")) {
        Openness::Closed { until: Some(t) } => assert_eq!(fmt(&t), "2025-03-10T09:00:00+01:00"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_department_that_never_opens_has_no_next_opening() {
    let cal = Calendar::danish_default();
    let never =
        Department { id: "x".into(), name: "X".into(), weekly: Default::default(), overrides: Default::default() };
    assert_eq!(cal.openness(&never, ts("2025-03-07T12:00")), Openness::Closed { until: None });
}

#[test]
fn hours_parse_and_refuse_nonsense() {
    assert_eq!(Interval::parse_day("09:00-12:00,13:00-15:30").expect("ok").len(), 2);
    assert!(Interval::parse_day("lukket").expect("ok").is_empty());
    assert!(Interval::parse("15:00-09:00").is_err());
    assert!(Interval::parse("9-15").is_err());
    assert!(Interval::parse_day("09:00-12:00,11:00-15:00").is_err());
}
