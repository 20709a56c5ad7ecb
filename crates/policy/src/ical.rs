//! Presence from iCalendar feeds (RFC 5545): what an employee's calendar says about a
//! moment. Handles all-day and timed events, `TZID`, UTC and floating times, `RRULE`
//! (DAILY and WEEKLY with INTERVAL, COUNT, UNTIL, BYDAY), `EXDATE`, cancelled events,
//! `TRANSP:TRANSPARENT` and Outlook's `X-MICROSOFT-CDO-BUSYSTATUS`.
//!
//! Outlook's OOF (out of office) and all-day events without a busy status are absences
//! (holiday, illness by their summary); BUSY and TENTATIVE are meetings, which are not
//! absences; FREE and WORKINGELSEWHERE are ignored.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::org::Presence;

/// Why a feed could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    /// No `BEGIN:VCALENDAR`.
    #[error("not an iCalendar feed (no BEGIN:VCALENDAR)")]
    NotCalendar,
    /// A VEVENT without a usable DTSTART.
    #[error("event {uid:?} has no valid DTSTART")]
    NoStart {
        /// The event's UID.
        uid: String,
    },
    /// A date or time that does not parse.
    #[error("invalid date or time {0:?}")]
    BadTime(String),
}

/// What an event means for phone routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Away (holiday, illness, course): the backup takes calls.
    Absent(AbsenceKind),
    /// In a meeting: the phone still rings, briefly.
    Meeting,
}

/// Which absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbsenceKind {
    /// Ferie.
    Holiday,
    /// Syg.
    Ill,
    /// Anything else.
    Away,
}

#[derive(Debug, Clone)]
struct Rule {
    weekly: bool,
    interval: i64,
    count: Option<u32>,
    until: Option<Timestamp>,
    by_day: Vec<Weekday>,
}

/// One event of the feed.
#[derive(Debug, Clone)]
pub struct Event {
    /// Start of the first occurrence.
    pub start: Timestamp,
    /// Its length.
    pub length: jiff::SignedDuration,
    /// All-day (DATE values).
    pub all_day: bool,
    /// What it means.
    pub busy: Busy,
    /// Summary.
    pub summary: String,
    rule: Option<Rule>,
    exdates: Vec<Timestamp>,
    local_start: DateTime,
    tz: TimeZone,
}

fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if (line.starts_with(' ') || line.starts_with('\t')) && !lines.is_empty() {
            if let Some(last) = lines.last_mut() {
                last.push_str(&line[1..]);
            }
        } else if !line.is_empty() {
            lines.push(line.to_owned());
        }
    }
    lines
}

/// A content line: name, parameters, value.
type Property = (String, Vec<(String, String)>, String);

/// Split `NAME;P=V;Q=W:value` into (NAME, params, value).
fn split(line: &str) -> Property {
    let (head, value) = line.split_once(':').unwrap_or((line, ""));
    let mut parts = head.split(';');
    let name = parts.next().unwrap_or_default().to_ascii_uppercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_ascii_uppercase(), v.trim_matches('"').to_owned()))
        .collect();
    (name, params, value.to_owned())
}

/// Parse a DATE or DATE-TIME value with its TZID into (instant, local civil time, zone,
/// all-day).
fn parse_time(
    value: &str,
    params: &[(String, String)],
    default_tz: &TimeZone,
) -> Result<(Timestamp, DateTime, TimeZone, bool), IcsError> {
    let bad = || IcsError::BadTime(value.to_owned());
    let tz = params
        .iter()
        .find(|(k, _)| k == "TZID")
        .and_then(|(_, v)| TimeZone::get(v).ok())
        .unwrap_or_else(|| default_tz.clone());
    let all_day = params.iter().any(|(k, v)| k == "VALUE" && v == "DATE") || value.len() == 8;
    if all_day {
        let d = Date::strptime("%Y%m%d", value).map_err(|_| bad())?;
        let dt = d.to_datetime(jiff::civil::Time::midnight());
        let ts = dt.to_zoned_datetime(tz.clone()).map_err(|_| bad())?.timestamp();
        return Ok((ts, dt, tz, true));
    }
    if let Some(utc) = value.strip_suffix('Z') {
        let dt = DateTime::strptime("%Y%m%dT%H%M%S", utc).map_err(|_| bad())?;
        let ts = dt.to_zoned_datetime(TimeZone::UTC).map_err(|_| bad())?.timestamp();
        return Ok((ts, ts.to_zoned_datetime(default_tz.clone()).datetime(), default_tz.clone(), false));
    }
    let dt = DateTime::strptime("%Y%m%dT%H%M%S", value).map_err(|_| bad())?;
    let ts = dt.to_zoned_datetime(tz.clone()).map_err(|_| bad())?.timestamp();
    Ok((ts, dt, tz, false))
}

fn weekday(code: &str) -> Option<Weekday> {
    Some(match code.get(code.len().saturating_sub(2)..)? {
        "MO" => Weekday::Monday,
        "TU" => Weekday::Tuesday,
        "WE" => Weekday::Wednesday,
        "TH" => Weekday::Thursday,
        "FR" => Weekday::Friday,
        "SA" => Weekday::Saturday,
        "SU" => Weekday::Sunday,
        _ => return None,
    })
}

fn absence_kind(summary: &str) -> AbsenceKind {
    // whole words, so "Byggetilladelse" is not "ill"
    let lower = summary.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let any = |list: &[&str]| words.iter().any(|w| list.contains(w));
    if any(&["syg", "sygdom", "sygemeldt", "sick", "ill"]) {
        AbsenceKind::Ill
    } else if any(&["ferie", "fri", "afspadsering", "holiday", "vacation"]) {
        AbsenceKind::Holiday
    } else {
        AbsenceKind::Away
    }
}

/// Parse a feed. Floating times are read in `tz` (Europe/Copenhagen for svar).
pub fn parse(text: &str, tz: &TimeZone) -> Result<Vec<Event>, IcsError> {
    let lines = unfold(text);
    if !lines.iter().any(|l| l.eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        return Err(IcsError::NotCalendar);
    }
    let mut events = Vec::new();
    let mut cur: Option<Vec<Property>> = None;
    for line in lines {
        let (name, params, value) = split(&line);
        match (name.as_str(), value.to_ascii_uppercase().as_str()) {
            ("BEGIN", "VEVENT") => cur = Some(Vec::new()),
            ("END", "VEVENT") => {
                if let Some(props) = cur.take()
                    && let Some(e) = event(&props, tz)?
                {
                    events.push(e);
                }
            }
            _ => {
                if let Some(props) = cur.as_mut() {
                    props.push((name, params, value));
                }
            }
        }
    }
    Ok(events)
}

fn event(props: &[Property], tz: &TimeZone) -> Result<Option<Event>, IcsError> {
    let get = |n: &str| props.iter().find(|(k, _, _)| k == n);
    let uid = get("UID").map(|p| p.2.clone()).unwrap_or_default();
    if get("STATUS").is_some_and(|p| p.2.eq_ignore_ascii_case("CANCELLED")) {
        return Ok(None);
    }
    let Some((_, sp, sv)) = get("DTSTART") else { return Err(IcsError::NoStart { uid }) };
    let (start, local_start, ev_tz, all_day) =
        parse_time(sv, sp, tz).map_err(|_| IcsError::NoStart { uid: uid.clone() })?;
    let end = match get("DTEND") {
        Some((_, ep, ev)) => parse_time(ev, ep, tz)?.0,
        None if all_day => local_start
            .checked_add(Span::new().days(1))
            .ok()
            .and_then(|d| d.to_zoned_datetime(ev_tz.clone()).ok())
            .map_or(start, |z| z.timestamp()),
        None => start,
    };
    let summary = get("SUMMARY").map(|p| p.2.clone()).unwrap_or_default();
    let status = get("X-MICROSOFT-CDO-BUSYSTATUS").map(|p| p.2.to_ascii_uppercase());
    let transparent = get("TRANSP").is_some_and(|p| p.2.eq_ignore_ascii_case("TRANSPARENT"));
    let busy = match status.as_deref() {
        Some("OOF") => Busy::Absent(absence_kind(&summary)),
        Some("BUSY" | "TENTATIVE") => Busy::Meeting,
        Some(_) => return Ok(None), // FREE, WORKINGELSEWHERE
        None if transparent => return Ok(None),
        None if all_day => Busy::Absent(absence_kind(&summary)),
        None => Busy::Meeting,
    };
    let rule = get("RRULE").map(|(_, _, v)| {
        let mut r = Rule { weekly: false, interval: 1, count: None, until: None, by_day: Vec::new() };
        for part in v.split(';') {
            let Some((k, val)) = part.split_once('=') else { continue };
            match k.to_ascii_uppercase().as_str() {
                "FREQ" => r.weekly = val.eq_ignore_ascii_case("WEEKLY"),
                "INTERVAL" => r.interval = val.parse().unwrap_or(1).max(1),
                "COUNT" => r.count = val.parse().ok(),
                "UNTIL" => r.until = parse_time(val, &[], tz).ok().map(|t| t.0),
                "BYDAY" => r.by_day = val.split(',').filter_map(weekday).collect(),
                _ => {}
            }
        }
        r
    });
    let mut exdates = Vec::new();
    for (k, p, v) in props {
        if k == "EXDATE" {
            for one in v.split(',') {
                exdates.push(parse_time(one, p, tz)?.0);
            }
        }
    }
    Ok(Some(Event {
        start,
        length: end.duration_since(start),
        all_day,
        busy,
        summary,
        rule,
        exdates,
        local_start,
        tz: ev_tz,
    }))
}

impl Event {
    /// Occurrence starts up to `until` (at most 5,000: a bound against runaway rules).
    fn starts(&self, until: Timestamp) -> Vec<Timestamp> {
        let Some(rule) = &self.rule else { return vec![self.start] };
        let mut out = Vec::new();
        let mut day = self.local_start;
        let mut produced = 0u32;
        for _ in 0..20_000 {
            let Ok(z) = day.to_zoned_datetime(self.tz.clone()) else { break };
            let ts = z.timestamp();
            if ts > until
                || rule.until.is_some_and(|u| ts > u)
                || rule.count.is_some_and(|c| produced >= c)
                || out.len() >= 5000
            {
                break;
            }
            let week_index =
                (day.date().since(self.local_start.date()).map_or(0, |s| s.get_days()) as i64).div_euclid(7);
            let in_rule = if rule.weekly {
                let days = if rule.by_day.is_empty() { vec![self.local_start.weekday()] } else { rule.by_day.clone() };
                days.contains(&day.weekday()) && week_index % rule.interval == 0
            } else {
                let d = day.date().since(self.local_start.date()).map_or(0, |s| s.get_days()) as i64;
                d % rule.interval == 0
            };
            if in_rule {
                produced += 1;
                if !self.exdates.contains(&ts) {
                    out.push(ts);
                }
            }
            let Ok(next) = day.checked_add(Span::new().days(1)) else { break };
            day = next;
        }
        out
    }

    /// Does an occurrence cover `at`? Returns its end.
    #[must_use]
    pub fn covering(&self, at: Timestamp) -> Option<Timestamp> {
        self.starts(at).into_iter().map(|s| (s, s + self.length)).find(|(s, e)| *s <= at && at < *e).map(|(_, e)| e)
    }
}

/// Presence at `at` according to the feed: absence beats meeting.
#[must_use]
pub fn presence_at(events: &[Event], at: Timestamp) -> Presence {
    let mut meeting = false;
    for e in events {
        if let Some(end) = e.covering(at) {
            match e.busy {
                Busy::Absent(AbsenceKind::Holiday) => return Presence::Holiday { until: Some(end) },
                Busy::Absent(AbsenceKind::Ill) => return Presence::Ill { until: Some(end) },
                Busy::Absent(AbsenceKind::Away) => return Presence::Away { until: Some(end) },
                Busy::Meeting => meeting = true,
            }
        }
    }
    if meeting { Presence::InMeeting } else { Presence::Available }
}
