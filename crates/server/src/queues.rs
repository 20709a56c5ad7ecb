//! `[[queues]]`: contact-centre queues, their members and exits, and the forecast that
//! `svar simulate day` and `svar staffing` plan with. Validated into the `acd` engine's
//! configuration; every problem is listed with the others in `config::validate`.

use std::collections::HashSet;
use std::time::Duration;

use acd::sim::{HandleTime, Rate, Shift, Traffic};
use acd::{AcdConfig, AgentConfig, ExitTarget, QueueConfig, Strategy};
use serde::Deserialize;

use crate::config::{RawTeam, RawUser};

/// `[[queues]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    /// Id.
    pub(crate) id: String,
    /// Name shown to people.
    pub(crate) name: String,
    /// Department it answers for.
    pub(crate) department: String,
    /// Members: everyone in this team.
    pub(crate) team: Option<String>,
    /// Members: these extensions as well.
    #[serde(default)]
    pub(crate) members: Vec<String>,
    /// `longest-idle` (default), `ring-all` or `skills`.
    pub(crate) strategy: Option<String>,
    /// Priority of its callers against other queues' (default 0; higher first).
    pub(crate) priority: Option<u8>,
    /// Longest wait before `on_max_wait` (default: none).
    pub(crate) max_wait_s: Option<u64>,
    /// Most callers waiting before `on_full` (default: none).
    pub(crate) max_length: Option<usize>,
    /// `switchboard`, `message` or `queue:<id>`.
    pub(crate) on_max_wait: Option<String>,
    /// Where callers go when nobody is logged in (default `message`).
    pub(crate) on_no_agents: Option<String>,
    /// Where callers go when the queue is full (default `switchboard`).
    pub(crate) on_full: Option<String>,
    /// Seconds an agent's phone rings before the offer counts as missed (default 20).
    pub(crate) offer_timeout_s: Option<u64>,
    /// Wrap-up seconds after each call (default 0).
    pub(crate) wrap_up_s: Option<u64>,
    /// Missed offers in a row that make an agent not ready (default 3).
    pub(crate) missed_offers_limit: Option<u32>,
    /// Position announcements every N seconds (default: only on arrival).
    pub(crate) announce_every_s: Option<u64>,
    /// Service-level threshold in seconds (default 60).
    pub(crate) target_s: Option<u64>,
    /// Share to answer within `target_s` (default 0.8; used by `svar staffing`).
    pub(crate) service_level: Option<f64>,
    /// Forecast for planning.
    pub(crate) forecast: Option<RawForecast>,
}

/// `[queues.forecast]`: a normal working day of the queue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForecast {
    /// Hour the first `arrivals_per_hour` entry starts (0-23).
    pub(crate) first_hour: u8,
    /// Calls per hour, hour by hour.
    pub(crate) arrivals_per_hour: Vec<f64>,
    /// Agents on duty, hour by hour (same length).
    pub(crate) agents_per_hour: Vec<u32>,
    /// Average handle time in seconds.
    pub(crate) aht_s: f64,
    /// Standard deviation of handle time (log-normal); exponential when absent.
    pub(crate) aht_sd_s: Option<f64>,
    /// Mean caller patience in seconds (exponential); nobody gives up when absent.
    pub(crate) patience_s: Option<f64>,
    /// Of the callers out of patience, the share who ask for a callback.
    pub(crate) callback_share: Option<f64>,
}

/// One queue's forecast, validated.
#[derive(Debug, Clone)]
pub(crate) struct Forecast {
    pub(crate) queue: String,
    pub(crate) first_hour: u8,
    pub(crate) arrivals_per_hour: Vec<f64>,
    pub(crate) agents_per_hour: Vec<u32>,
    pub(crate) handle_time: HandleTime,
    pub(crate) patience_s: Option<f64>,
    pub(crate) callback_share: f64,
}

/// The queues, validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueuePlan {
    /// The engine's configuration, with the real employees as agents.
    pub(crate) acd: AcdConfig,
    /// Per queue id: the name shown to people.
    pub(crate) names: Vec<String>,
    /// Per queue id: its service-level target share.
    pub(crate) service_levels: Vec<f64>,
    /// Forecasts, for the queues that have one.
    pub(crate) forecasts: Vec<Forecast>,
    /// The queue standing for the switchboard (its department is the switchboard's).
    pub(crate) switchboard_queue: Option<String>,
}

fn exit(at: &str, field: &str, value: Option<&str>, default: ExitTarget, errs: &mut Vec<String>) -> ExitTarget {
    match value {
        None => default,
        Some("switchboard") => ExitTarget::Switchboard,
        Some("message") => ExitTarget::Message,
        Some(other) => match other.strip_prefix("queue:") {
            Some(q) => ExitTarget::Queue(q.to_owned()),
            None => {
                errs.push(format!("{at}.{field}: {other:?} is not switchboard, message or queue:<id>"));
                default
            }
        },
    }
}

pub(crate) fn validate(
    raw: &[RawQueue],
    users: &[RawUser],
    teams: &[RawTeam],
    departments: &[String],
    switchboard: &str,
    errs: &mut Vec<String>,
) -> QueuePlan {
    let mut plan = QueuePlan::default();
    let exts: HashSet<&str> = users.iter().map(|u| u.extension.as_str()).collect();
    let mut members_of: Vec<(String, Vec<String>)> = Vec::new();
    for (i, q) in raw.iter().enumerate() {
        let at = format!("queues[{i}] ({})", q.id);
        if !departments.contains(&q.department) {
            errs.push(format!("{at}: department {:?} does not exist", q.department));
        }
        if q.department == switchboard && plan.switchboard_queue.is_none() {
            plan.switchboard_queue = Some(q.id.clone());
        }
        let mut members: Vec<String> = Vec::new();
        if let Some(team) = &q.team {
            if !teams.iter().any(|t| &t.id == team) {
                errs.push(format!("{at}: team {team:?} does not exist"));
            }
            members.extend(users.iter().filter(|u| u.team.as_ref() == Some(team)).map(|u| u.extension.clone()));
        }
        for m in &q.members {
            if !exts.contains(m.as_str()) {
                errs.push(format!("{at}: member {m:?} is not a user"));
            } else if !members.contains(m) {
                members.push(m.clone());
            }
        }
        if members.is_empty() {
            errs.push(format!("{at}: no members; give a team or members"));
        }
        members_of.push((q.id.clone(), members));
        let mut c = QueueConfig::new(&q.id);
        c.strategy = match q.strategy.as_deref().unwrap_or("longest-idle") {
            "longest-idle" => Strategy::LongestIdle,
            "ring-all" => Strategy::RingAll,
            "skills" => Strategy::Skills,
            other => {
                errs.push(format!("{at}.strategy: {other:?} is not longest-idle, ring-all or skills"));
                Strategy::LongestIdle
            }
        };
        c.priority = q.priority.unwrap_or(0);
        c.max_wait = q.max_wait_s.map(Duration::from_secs);
        c.max_length = q.max_length;
        c.exit_max_wait = exit(&at, "on_max_wait", q.on_max_wait.as_deref(), ExitTarget::Switchboard, errs);
        c.exit_no_agents = exit(&at, "on_no_agents", q.on_no_agents.as_deref(), ExitTarget::Message, errs);
        c.exit_full = exit(&at, "on_full", q.on_full.as_deref(), ExitTarget::Switchboard, errs);
        c.offer_timeout = Duration::from_secs(q.offer_timeout_s.unwrap_or(20));
        c.wrap_up = Duration::from_secs(q.wrap_up_s.unwrap_or(0));
        c.missed_offers_limit = q.missed_offers_limit.unwrap_or(3);
        c.announce_every = q.announce_every_s.map(Duration::from_secs);
        c.service_level_target = Duration::from_secs(q.target_s.unwrap_or(60));
        let level = q.service_level.unwrap_or(0.8);
        if !(0.0..1.0).contains(&level) || level <= 0.0 {
            errs.push(format!("{at}.service_level: {level} is not a share between 0 and 1"));
        }
        plan.service_levels.push(level);
        plan.names.push(q.name.clone());
        if let Some(f) = &q.forecast
            && let Some(fc) = validate_forecast(&at, &q.id, f, errs)
        {
            c.expected_handle_time = Duration::from_secs_f64(fc.handle_time.mean());
            plan.forecasts.push(fc);
        }
        plan.acd.queues.push(c);
    }
    for u in users {
        let queues: Vec<String> =
            members_of.iter().filter(|(_, m)| m.contains(&u.extension)).map(|(q, _)| q.clone()).collect();
        if queues.is_empty() {
            continue;
        }
        plan.acd.agents.push(AgentConfig {
            name: u.extension.clone(),
            queues,
            skills: u.skills.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        });
    }
    // The engine's own checks: duplicate ids, exits to unknown queues, exit loops.
    if let Err(e) = acd::Acd::new(&plan.acd) {
        errs.extend(e.problems.into_iter().map(|p| format!("queues: {p}")));
    }
    plan
}

fn validate_forecast(at: &str, queue: &str, f: &RawForecast, errs: &mut Vec<String>) -> Option<Forecast> {
    let before = errs.len();
    let at = format!("{at}.forecast");
    if f.first_hour > 23 {
        errs.push(format!("{at}.first_hour: {} is not an hour 0-23", f.first_hour));
    }
    if f.arrivals_per_hour.is_empty() || f.arrivals_per_hour.len() != f.agents_per_hour.len() {
        errs.push(format!("{at}: arrivals_per_hour and agents_per_hour need one entry per hour each"));
    }
    if usize::from(f.first_hour) + f.arrivals_per_hour.len() > 24 {
        errs.push(format!("{at}: the day runs past midnight"));
    }
    if f.arrivals_per_hour.iter().any(|a| !a.is_finite() || *a < 0.0) {
        errs.push(format!("{at}.arrivals_per_hour: rates must be 0 or more"));
    }
    if !(f.aht_s.is_finite() && f.aht_s > 0.0) {
        errs.push(format!("{at}.aht_s: must be above 0"));
    }
    if f.aht_sd_s.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        errs.push(format!("{at}.aht_sd_s: must be above 0"));
    }
    if f.patience_s.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        errs.push(format!("{at}.patience_s: must be above 0"));
    }
    let share = f.callback_share.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&share) {
        errs.push(format!("{at}.callback_share: {share} is not between 0 and 1"));
    }
    if errs.len() > before {
        return None;
    }
    Some(Forecast {
        queue: queue.to_owned(),
        first_hour: f.first_hour,
        arrivals_per_hour: f.arrivals_per_hour.clone(),
        agents_per_hour: f.agents_per_hour.clone(),
        handle_time: match f.aht_sd_s {
            Some(sd) => HandleTime::LogNormal { mean: f.aht_s, sd },
            None => HandleTime::Exponential { mean: f.aht_s },
        },
        patience_s: f.patience_s,
        callback_share: share,
    })
}

impl Forecast {
    /// The queue's callers over the day, seconds from midnight.
    pub(crate) fn traffic(&self) -> Traffic {
        let start = f64::from(self.first_hour) * 3600.0;
        Traffic {
            queue: self.queue.clone(),
            profile: self
                .arrivals_per_hour
                .iter()
                .enumerate()
                .map(|(h, &per_hour)| Rate {
                    from: start + h as f64 * 3600.0,
                    to: start + (h + 1) as f64 * 3600.0,
                    per_hour,
                })
                .collect(),
            handle_time: self.handle_time,
            patience: self.patience_s,
            callback_share: self.callback_share,
        }
    }

    /// Planned agents for the day: agent `k` works the hours where more than `k` are
    /// planned, one shift per unbroken stretch. Returns the agents and their shifts.
    pub(crate) fn staff(&self) -> (Vec<AgentConfig>, Vec<Shift>) {
        let most = self.agents_per_hour.iter().copied().max().unwrap_or(0);
        let start = f64::from(self.first_hour) * 3600.0;
        let mut agents = Vec::new();
        let mut shifts = Vec::new();
        for k in 0..most {
            let name = format!("{}-{}", self.queue, k + 1);
            agents.push(AgentConfig { name: name.clone(), queues: vec![self.queue.clone()], skills: vec![] });
            let mut from = None;
            for (h, &n) in self.agents_per_hour.iter().chain(std::iter::once(&0)).enumerate() {
                let at = start + h as f64 * 3600.0;
                match (n > k, from) {
                    (true, None) => from = Some(at),
                    (false, Some(f)) => {
                        shifts.push(Shift { agent: name.clone(), from: f, to: at });
                        from = None;
                    }
                    _ => {}
                }
            }
        }
        (agents, shifts)
    }
}
