//! `svar calendar ...`: the calendar for operators and tests (issue 4's contract).

use anyhow::{Context, Result, bail};
use calendar::Openness;
use jiff::Timestamp;

use crate::config::Config;

fn rfc3339(z: &jiff::ZonedDateTime) -> String {
    z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// `holidays YEAR`: CSV `date,name_da,kind`, both rows when a date is both.
pub(crate) fn holidays(cfg: &Config, year: i16) -> Result<String> {
    if !(1583..=9999).contains(&year) {
        bail!("year {year} is outside the Gregorian calendar range this command supports (1583-9999)");
    }
    let mut out = String::from("date,name_da,kind\n");
    for h in cfg.calendar.holidays(year) {
        let name = match h.closed_from {
            Some(t) => format!("{} (fra kl. {})", h.name_da, t.strftime("%H.%M")),
            None => h.name_da.clone(),
        };
        out.push_str(&format!("{},{},{}\n", h.date, name, h.kind.as_str()));
    }
    Ok(out)
}

fn parse_ts(s: &str) -> Result<Timestamp> {
    s.parse::<Timestamp>().with_context(|| format!("{s:?} is not an RFC 3339 timestamp like 2025-03-07T12:00:00+01:00"))
}

/// `deadline TIMESTAMP [--department ID]`.
pub(crate) fn deadline(cfg: &Config, ts: &str, department: Option<&str>) -> Result<String> {
    let at = parse_ts(ts)?;
    let id = department.unwrap_or(&cfg.switchboard);
    let dept = cfg.department(id).with_context(|| format!("no department {id:?} in the configuration"))?;
    let d = cfg.calendar.deadline(at, dept, &cfg.deadline_rule);
    Ok(format!("day0={} deadline={}\n", d.day0, rfc3339(&d.deadline)))
}

/// `open DEPARTMENT TIMESTAMP`.
pub(crate) fn open(cfg: &Config, department: &str, ts: &str) -> Result<String> {
    let at = parse_ts(ts)?;
    let dept =
        cfg.department(department).with_context(|| format!("no department {department:?} in the configuration"))?;
    Ok(match cfg.calendar.openness(dept, at) {
        Openness::Open { .. } => "open\n".to_owned(),
        Openness::Closed { until: Some(t) } => format!("closed until {}\n", rfc3339(&t)),
        Openness::Closed { until: None } => "closed\n".to_owned(),
    })
}
