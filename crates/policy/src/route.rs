//! Coverage routing as a pure function: who rings, in which order, for how long, and
//! why (P1, P2). `route(&request, &facts, now) -> (Decision, Trace)`; the trace says in
//! words why each step was taken.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use crate::org::{LastResort, Organisation, Presence, RingMode};

/// What the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// An employee's direct number or extension.
    Employee(String),
    /// A team's number.
    Team(String),
    /// A department's number.
    Department(String),
}

/// What routing knows about the moment, as data (gathered by the caller from presence,
/// the registrar and the calendar).
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The organisation.
    pub org: &'a Organisation,
    /// Presence by extension (missing = available).
    pub presence: &'a HashMap<String, Presence>,
    /// Extensions with a registered phone.
    pub reachable: &'a HashSet<String>,
    /// Departments closed now, with when they open again.
    pub closed: &'a HashMap<String, Option<Timestamp>>,
}

impl Facts<'_> {
    fn presence_of(&self, ext: &str) -> Presence {
        self.presence.get(ext).cloned().unwrap_or(Presence::Available)
    }
}

/// One ringing step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Extensions rung together.
    pub ring: Vec<String>,
    /// For how long.
    pub seconds: u32,
}

/// Where the call ends if no step answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// The switchboard queue.
    Switchboard,
    /// Voicemail (explicitly configured as the last step; counted).
    Voicemail {
        /// Whose mailbox.
        of: String,
    },
}

/// The routing decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Ring these steps in order, then the fallback. `referral` is played first when the
    /// wanted employee is absent ("Anne er ikke til stede før mandag").
    Ring {
        /// Announcement about an absent employee: (name, back at).
        referral: Option<(String, Option<Timestamp>)>,
        /// Steps.
        steps: Vec<Step>,
        /// If nobody answers.
        fallback: Fallback,
    },
    /// The department is closed: the after-hours path (message → obligation).
    AfterHours {
        /// Department.
        department: String,
        /// Opens again.
        opens: Option<Timestamp>,
    },
    /// Nobody by that number: the switchboard helps.
    Unknown,
}

/// Why each step was taken, in words.
pub type Trace = Vec<String>;

/// Decide how to route `request` now.
#[must_use]
pub fn route(request: &Request, facts: &Facts<'_>, _now: Timestamp) -> (Decision, Trace) {
    let mut trace = Vec::new();
    match request {
        Request::Employee(ext) => route_employee(ext, facts, &mut trace),
        Request::Team(team) => {
            let Some(t) = facts.org.team(team) else {
                trace.push(format!("no team {team}: to the switchboard"));
                return (Decision::Unknown, trace);
            };
            if let Some(closed) = closed(&t.department, facts, &mut trace) {
                return (closed, trace);
            }
            let steps = team_steps(team, &HashSet::new(), 20, facts, &mut trace);
            trace.push("then the switchboard".into());
            (Decision::Ring { referral: None, steps, fallback: Fallback::Switchboard }, trace)
        }
        Request::Department(dep) => {
            if let Some(closed) = closed(dep, facts, &mut trace) {
                return (closed, trace);
            }
            let mut steps = Vec::new();
            for t in facts.org.teams_of(dep) {
                steps.extend(team_steps(&t.id, &HashSet::new(), 20, facts, &mut trace));
            }
            if steps.is_empty() {
                trace.push(format!("nobody in {dep} can answer now"));
            }
            trace.push("then the switchboard".into());
            (Decision::Ring { referral: None, steps, fallback: Fallback::Switchboard }, trace)
        }
    }
}

fn closed(department: &str, facts: &Facts<'_>, trace: &mut Trace) -> Option<Decision> {
    let opens = facts.closed.get(department)?;
    trace.push(format!("{department} is closed: the after-hours path takes a message"));
    Some(Decision::AfterHours { department: department.to_owned(), opens: *opens })
}

/// Can this employee take a call now? Says why not in the trace.
fn can_ring(ext: &str, facts: &Facts<'_>, trace: &mut Trace) -> bool {
    let p = facts.presence_of(ext);
    if p.is_absent() {
        trace.push(format!("{ext} is absent ({p:?}): skipped"));
        return false;
    }
    if p == Presence::OnCall {
        trace.push(format!("{ext} is on a call: skipped"));
        return false;
    }
    if !facts.reachable.contains(ext) {
        trace.push(format!("{ext} has no registered phone: skipped"));
        return false;
    }
    true
}

fn team_steps(team: &str, rung: &HashSet<String>, seconds: u32, facts: &Facts<'_>, trace: &mut Trace) -> Vec<Step> {
    let Some(t) = facts.org.team(team) else { return Vec::new() };
    let members: Vec<String> = facts
        .org
        .members(team)
        .filter(|e| !rung.contains(&e.extension))
        .filter(|e| can_ring(&e.extension, facts, trace))
        .map(|e| e.extension.clone())
        .collect();
    if members.is_empty() {
        trace.push(format!("nobody else in team {team} can answer"));
        return Vec::new();
    }
    match t.mode {
        RingMode::Parallel => {
            trace.push(format!("team {team} rings together for {seconds} s: {}", members.join(", ")));
            vec![Step { ring: members, seconds }]
        }
        RingMode::InTurn => {
            trace.push(format!("team {team} rings in turn, {seconds} s each: {}", members.join(", ")));
            members.into_iter().map(|m| Step { ring: vec![m], seconds }).collect()
        }
    }
}

fn route_employee(ext: &str, facts: &Facts<'_>, trace: &mut Trace) -> (Decision, Trace) {
    let Some(e) = facts.org.employee(ext) else {
        trace.push(format!("no employee {ext}: to the switchboard"));
        return (Decision::Unknown, std::mem::take(trace));
    };
    let department = facts.org.team(&e.team).map(|t| t.department.clone()).unwrap_or_default();
    if let Some(closed) = closed(&department, facts, trace) {
        return (closed, std::mem::take(trace));
    }
    let presence = facts.presence_of(ext);
    let mut steps = Vec::new();
    let mut rung: HashSet<String> = HashSet::new();
    let mut referral = None;
    let cov = &e.coverage;
    if presence.is_absent() {
        referral = Some((e.name.clone(), presence.back_at()));
        trace.push(format!("{ext} is absent ({presence:?}): the caller hears when they are back"));
        rung.insert(ext.to_owned());
        if let Some(b) = &e.backup {
            if can_ring(b, facts, trace) {
                trace.push(format!("{b} is {ext}'s backup: rings for {} s", cov.colleague_s));
                steps.push(Step { ring: vec![b.clone()], seconds: cov.colleague_s });
            }
            rung.insert(b.clone());
        }
    } else if presence == Presence::OnCall {
        trace.push(format!("{ext} is on a call: colleagues answer instead"));
        rung.insert(ext.to_owned());
    } else if !facts.reachable.contains(ext) {
        trace.push(format!("{ext} has no registered phone: colleagues answer instead"));
        rung.insert(ext.to_owned());
    } else {
        let secs = if presence == Presence::InMeeting { cov.ring_me_s.min(10) } else { cov.ring_me_s };
        if presence == Presence::InMeeting {
            trace.push(format!("{ext} is in a meeting (not an absence): rings {secs} s, then colleagues"));
        } else {
            trace.push(format!("{ext} rings for {secs} s"));
        }
        steps.push(Step { ring: vec![ext.to_owned()], seconds: secs });
        rung.insert(ext.to_owned());
    }
    // colleagues
    let colleagues: Vec<String> =
        cov.colleagues.iter().filter(|c| !rung.contains(*c)).filter(|c| can_ring(c, facts, trace)).cloned().collect();
    for c in &cov.colleagues {
        rung.insert(c.clone());
    }
    if !colleagues.is_empty() {
        match cov.colleague_mode {
            RingMode::Parallel => {
                trace.push(format!("colleagues ring together for {} s: {}", cov.colleague_s, colleagues.join(", ")));
                steps.push(Step { ring: colleagues, seconds: cov.colleague_s });
            }
            RingMode::InTurn => {
                trace.push(format!("colleagues ring in turn, {} s each: {}", cov.colleague_s, colleagues.join(", ")));
                steps.extend(colleagues.into_iter().map(|c| Step { ring: vec![c], seconds: cov.colleague_s }));
            }
        }
    }
    steps.extend(team_steps(&e.team, &rung, cov.team_s, facts, trace));
    let fallback = match cov.last {
        LastResort::Voicemail => {
            trace.push(format!("then {ext}'s voicemail (configured as the last step)"));
            Fallback::Voicemail { of: ext.to_owned() }
        }
        LastResort::Switchboard => {
            trace.push("then the switchboard".into());
            Fallback::Switchboard
        }
    };
    (Decision::Ring { referral, steps, fallback }, std::mem::take(trace))
}
