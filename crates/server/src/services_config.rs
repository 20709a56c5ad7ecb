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
    Notifications { smtp, from, sms_url, sms_token: raw.and_then(|r| r.sms_token.clone()), retry, emails }
}
