//! `[api]` and `[notifications]`: the obligation API's access and where notifications go.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use policy::notify::RetryPolicy;
use serde::Deserialize;

use crate::config::{RawTeam, RawUser};

/// `[api]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApi {
    /// Bearer token for `/api/...`; without it the API is off. Callers name the acting
    /// user in `X-Svar-User` (an extension), which goes into the audit trail.
    pub(crate) token: Option<String>,
}

/// `[notifications]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotifications {
    /// SMTP relay `host:port` (plain SMTP to the municipality's internal relay).
    pub(crate) smtp: Option<String>,
    /// Sender address.
    pub(crate) from: Option<String>,
    /// SMS gateway webhook (`http://...`): POST `{"to": "+45...", "text": "..."}`.
    pub(crate) sms_url: Option<String>,
    /// Bearer token for the SMS gateway.
    pub(crate) sms_token: Option<String>,
    /// Seconds before the first retry (default 30); later waits grow fourfold to an hour.
    pub(crate) first_retry_s: Option<u64>,
    /// Attempts before a notification is marked failed (default 8).
    pub(crate) max_attempts: Option<u32>,
    /// The switchboard supervisor's address: told when a callback deadline is missed.
    pub(crate) supervisor: Option<String>,
}

/// Validated `[notifications]`.
#[derive(Debug, Clone)]
pub(crate) struct Notifications {
    pub(crate) smtp: Option<SocketAddr>,
    pub(crate) from: String,
    pub(crate) sms_url: Option<String>,
    pub(crate) sms_token: Option<String>,
    pub(crate) retry: RetryPolicy,
    /// E-mail address per owner key (`employee:1001`, `team:byggesag`).
    pub(crate) emails: HashMap<String, String>,
    /// The switchboard supervisor's address.
    pub(crate) supervisor: Option<String>,
}

fn plausible_email(s: &str) -> bool {
    s.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !s.contains(' '))
}

pub(crate) fn validate(
    raw: Option<&RawNotifications>,
    users: &[RawUser],
    teams: &[RawTeam],
    municipality_domain: &str,
    errs: &mut Vec<String>,
) -> Notifications {
    let mut emails = HashMap::new();
    for u in users {
        if let Some(e) = &u.email {
            if !plausible_email(e) {
                errs.push(format!("users ({}): email {e:?} is not an address", u.extension));
            }
            emails.insert(format!("employee:{}", u.extension), e.clone());
        }
    }
    for t in teams {
        if let Some(e) = &t.email {
            if !plausible_email(e) {
                errs.push(format!("teams ({}): email {e:?} is not an address", t.id));
            }
            emails.insert(format!("team:{}", t.id), e.clone());
        }
    }
    let smtp = raw.and_then(|r| r.smtp.as_deref()).and_then(|s| match s.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            errs.push(format!("notifications.smtp: {s:?} is not an address like 10.0.0.5:25"));
            None
        }
    });
    let from = raw.and_then(|r| r.from.clone()).unwrap_or_else(|| format!("svar@{municipality_domain}"));
    if !plausible_email(&from) {
        errs.push(format!("notifications.from: {from:?} is not an address"));
    }
    let sms_url = raw.and_then(|r| r.sms_url.clone());
    if let Some(u) = &sms_url
        && crate::http_client::split_url(u).is_err()
    {
        errs.push(format!("notifications.sms_url: {u:?} is not an http://host:port/path URL"));
    }
    let mut retry = RetryPolicy::default();
    if let Some(s) = raw.and_then(|r| r.first_retry_s) {
        if s == 0 {
            errs.push("notifications.first_retry_s must be at least 1".into());
        }
        retry.first_delay = Duration::from_secs(s.max(1));
    }
    if let Some(n) = raw.and_then(|r| r.max_attempts) {
        if n == 0 {
            errs.push("notifications.max_attempts must be at least 1".into());
        }
        retry.max_attempts = n.max(1);
    }
    let supervisor = raw.and_then(|r| r.supervisor.clone());
    if let Some(s) = &supervisor
        && !plausible_email(s)
    {
        errs.push(format!("notifications.supervisor: {s:?} is not an address"));
    }
    Notifications { smtp, from, sms_url, sms_token: raw.and_then(|r| r.sms_token.clone()), retry, emails, supervisor }
}

/// `[presence]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPresence {
    /// Seconds between reads of the calendar feeds (default 300).
    pub(crate) feed_refresh_s: Option<u64>,
}

/// Where a calendar feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FeedSource {
    File(std::path::PathBuf),
    Http(String),
}

/// Validated presence sources.
#[derive(Debug, Clone, Default)]
pub(crate) struct PresenceSources {
    pub(crate) schedules: Vec<(String, calendar::WeeklyHours)>,
    pub(crate) feeds: Vec<(String, FeedSource)>,
    pub(crate) refresh: Duration,
}

pub(crate) fn validate_presence(
    raw: Option<&RawPresence>,
    users: &[RawUser],
    errs: &mut Vec<String>,
) -> PresenceSources {
    use jiff::civil::Weekday;
    let days = [
        ("mon", Weekday::Monday),
        ("tue", Weekday::Tuesday),
        ("wed", Weekday::Wednesday),
        ("thu", Weekday::Thursday),
        ("fri", Weekday::Friday),
        ("sat", Weekday::Saturday),
        ("sun", Weekday::Sunday),
    ];
    let mut out = PresenceSources {
        refresh: Duration::from_secs(raw.and_then(|r| r.feed_refresh_s).unwrap_or(300).max(10)),
        ..PresenceSources::default()
    };
    for u in users {
        let at = format!("users ({})", u.extension);
        if !u.work_hours.is_empty() {
            let mut hours = calendar::WeeklyHours::default();
            for (day, text) in &u.work_hours {
                let Some((_, weekday)) = days.iter().find(|(d, _)| d == day) else {
                    errs.push(format!("{at}.work_hours: {day:?} is not mon, tue, wed, thu, fri, sat or sun"));
                    continue;
                };
                match calendar::Interval::parse_day(text) {
                    Ok(intervals) => hours = hours.with(*weekday, intervals),
                    Err(e) => errs.push(format!("{at}.work_hours.{day}: {e}")),
                }
            }
            out.schedules.push((u.extension.clone(), hours));
        }
        if let Some(feed) = &u.calendar {
            if feed.starts_with("http://") {
                if crate::http_client::split_url(feed).is_err() {
                    errs.push(format!("{at}.calendar: {feed:?} is not an http://host/path URL"));
                }
                out.feeds.push((u.extension.clone(), FeedSource::Http(feed.clone())));
            } else if feed.contains("://") {
                errs.push(format!("{at}.calendar: {feed:?}: use a file path or an http:// URL"));
            } else {
                out.feeds.push((u.extension.clone(), FeedSource::File(feed.into())));
            }
        }
    }
    out
}
