//! Presence from iCalendar feeds.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use policy::ical::{IcsError, parse, presence_at};
use policy::org::Presence;

fn cph() -> TimeZone {
    TimeZone::get("Europe/Copenhagen").expect("tz")
}

fn at(local: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = local.parse().expect("dt");
    dt.to_zoned_datetime(cph()).expect("z").timestamp()
}

fn feed(events: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n")
}

fn presence(events: &str, local: &str) -> Presence {
    let ev = parse(&feed(events), &cph()).expect("parse");
    presence_at(&ev, at(local))
}

const HOLIDAY: &str = "BEGIN:VEVENT\r\nUID:h1\r\nDTSTART;VALUE=DATE:20250707\r\nDTEND;VALUE=DATE:20250721\r\nSUMMARY:Ferie\r\nEND:VEVENT\r\n";

#[test]
fn all_day_holiday_is_an_absence_until_its_exclusive_end() {
    assert!(matches!(presence(HOLIDAY, "2025-07-10T10:00"), Presence::Holiday { until: Some(_) }));
    assert!(matches!(presence(HOLIDAY, "2025-07-20T23:59"), Presence::Holiday { .. }));
    assert_eq!(presence(HOLIDAY, "2025-07-21T08:00"), Presence::Available);
    match presence(HOLIDAY, "2025-07-10T10:00") {
        Presence::Holiday { until: Some(u) } => assert_eq!(u, at("2025-07-21T00:00")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn illness_and_other_absences_by_summary() {
    let sick = "BEGIN:VEVENT\r\nUID:s\r\nDTSTART;VALUE=DATE:20250310\r\nSUMMARY:Syg\r\nEND:VEVENT\r\n";
    assert!(matches!(presence(sick, "2025-03-10T12:00"), Presence::Ill { .. }));
    // no DTEND on an all-day event: one day
    assert_eq!(presence(sick, "2025-03-11T12:00"), Presence::Available);
    let course = "BEGIN:VEVENT\r\nUID:c\r\nDTSTART;TZID=Europe/Copenhagen:20250312T090000\r\nDTEND;TZID=Europe/Copenhagen:20250312T160000\r\nSUMMARY:Kursus i Aarhus\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\nEND:VEVENT\r\n";
    assert!(matches!(presence(course, "2025-03-12T10:00"), Presence::Away { .. }));
    // words, not substrings: a course about building permits is not an illness
    let permit = course.replace("Kursus i Aarhus", "Kursus: byggetilladelser");
    assert!(matches!(presence(&permit, "2025-03-12T10:00"), Presence::Away { .. }));
}

#[test]
fn a_meeting_is_not_an_absence() {
    let m = "BEGIN:VEVENT\r\nUID:m\r\nDTSTART;TZID=Europe/Copenhagen:20250312T100000\r\nDTEND;TZID=Europe/Copenhagen:20250312T110000\r\nSUMMARY:Teammøde\r\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nEND:VEVENT\r\n";
    assert_eq!(presence(m, "2025-03-12T10:30"), Presence::InMeeting);
    assert_eq!(presence(m, "2025-03-12T11:00"), Presence::Available);
    // absence wins over an overlapping meeting
    let both = format!("{m}BEGIN:VEVENT\r\nUID:x\r\nDTSTART;VALUE=DATE:20250312\r\nSUMMARY:Ferie\r\nEND:VEVENT\r\n");
    assert!(matches!(presence(&both, "2025-03-12T10:30"), Presence::Holiday { .. }));
}

#[test]
fn free_transparent_and_cancelled_events_are_ignored() {
    let free = "BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20250312T090000Z\r\nDTEND:20250312T150000Z\r\nX-MICROSOFT-CDO-BUSYSTATUS:FREE\r\nEND:VEVENT\r\n";
    let transparent = "BEGIN:VEVENT\r\nUID:t\r\nDTSTART:20250312T090000Z\r\nDTEND:20250312T150000Z\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n";
    let cancelled =
        "BEGIN:VEVENT\r\nUID:k\r\nDTSTART;VALUE=DATE:20250312\r\nSTATUS:CANCELLED\r\nSUMMARY:Ferie\r\nEND:VEVENT\r\n";
    for e in [free, transparent, cancelled] {
        assert_eq!(presence(e, "2025-03-12T11:00"), Presence::Available, "{e}");
    }
}

#[test]
fn utc_times() {
    // 09:00Z is 10:00 in Copenhagen in March
    let m = "BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20250312T090000Z\r\nDTEND:20250312T100000Z\r\nEND:VEVENT\r\n";
    assert_eq!(presence(m, "2025-03-12T10:30"), Presence::InMeeting);
    assert_eq!(presence(m, "2025-03-12T09:30"), Presence::Available);
}

#[test]
fn weekly_rule_with_exdate_count_and_dst() {
    // Mondays 09:00-10:00 local from 10 March 2025, 6 times, except 24 March
    let m = "BEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=Europe/Copenhagen:20250310T090000\r\nDTEND;TZID=Europe/Copenhagen:20250310T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r\nEXDATE;TZID=Europe/Copenhagen:20250324T090000\r\nSUMMARY:Morgenmøde\r\nEND:VEVENT\r\n";
    assert_eq!(presence(m, "2025-03-17T09:30"), Presence::InMeeting);
    assert_eq!(presence(m, "2025-03-24T09:30"), Presence::Available, "EXDATE");
    // 31 March is after the change to summer time: still 09:00 local
    assert_eq!(presence(m, "2025-03-31T09:30"), Presence::InMeeting);
    assert_eq!(presence(m, "2025-03-31T08:30"), Presence::Available);
    assert_eq!(presence(m, "2025-04-14T09:30"), Presence::InMeeting, "6th occurrence");
    assert_eq!(presence(m, "2025-04-21T09:30"), Presence::Available, "COUNT=6 reached");
    assert_eq!(presence(m, "2025-03-18T09:30"), Presence::Available, "not a Monday");
}

#[test]
fn daily_rule_with_interval_and_until() {
    let m = "BEGIN:VEVENT\r\nUID:d\r\nDTSTART;TZID=Europe/Copenhagen:20250303T120000\r\nDTEND;TZID=Europe/Copenhagen:20250303T123000\r\nRRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20250309T235959Z\r\nEND:VEVENT\r\n";
    assert_eq!(presence(m, "2025-03-05T12:10"), Presence::InMeeting);
    assert_eq!(presence(m, "2025-03-06T12:10"), Presence::Available, "every second day");
    assert_eq!(presence(m, "2025-03-11T12:10"), Presence::Available, "after UNTIL");
}

#[test]
fn folded_lines_and_bad_feeds() {
    let folded =
        "BEGIN:VEVENT\r\nUID:l\r\nDTSTART;VALUE=DATE:20250312\r\nSUMMARY:Fe\r\n rie i Ska\r\n gen\r\nEND:VEVENT\r\n";
    let ev = parse(&feed(folded), &cph()).expect("parse");
    assert_eq!(ev[0].summary, "Ferie i Skagen");
    assert!(matches!(presence_at(&ev, at("2025-03-12T10:00")), Presence::Holiday { .. }));
    assert_eq!(parse("hello", &cph()).expect_err("not ics"), IcsError::NotCalendar);
    let no_start = "BEGIN:VEVENT\r\nUID:bad\r\nSUMMARY:x\r\nEND:VEVENT\r\n";
    assert!(matches!(parse(&feed(no_start), &cph()), Err(IcsError::NoStart { .. })));
}
