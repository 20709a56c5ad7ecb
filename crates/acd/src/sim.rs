//! A discrete-event simulator that drives the real engine in virtual time: Poisson
//! arrivals with time-of-day profiles, exponential or log-normal handling, caller
//! patience (abandonment or a callback request), agent shifts and a ring delay before an
//! agent accepts. Deterministic for a seed.
//!
//! The simulator is the engine's driver, exactly like the live one: it feeds inputs, reacts
//! to events (an offer is accepted after the ring delay, an answered call hangs up after
//! its handle time, an exit to a queue arrives there), and calls `Timeout` at
//! `poll_timeout`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{AcdConfig, AgentId, ConfigError, Exit, QueueId};
use crate::engine::Acd;
use crate::time::Time;
use crate::types::{Arrival, ContactId, Event, ExitReason, Input};

pub mod erlang_check;
pub mod kpi;

/// A handling-time distribution, in seconds.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum HandleTime {
    /// Exponential with this mean (M/M/c).
    Exponential {
        /// Mean seconds.
        mean: f64,
    },
    /// Log-normal with this mean and standard deviation (real calls look like this).
    LogNormal {
        /// Mean seconds.
        mean: f64,
        /// Standard deviation in seconds.
        sd: f64,
    },
}

impl HandleTime {
    /// The mean, in seconds.
    #[must_use]
    pub fn mean(&self) -> f64 {
        match *self {
            Self::Exponential { mean } | Self::LogNormal { mean, .. } => mean,
        }
    }

    fn sample(&self, rng: &mut StdRng) -> f64 {
        match *self {
            Self::Exponential { mean } => exponential(rng, mean),
            Self::LogNormal { mean, sd } => {
                // Parameters of the underlying normal from the wanted mean and sd.
                let sigma2 = (1.0 + (sd / mean).powi(2)).ln();
                let mu = mean.ln() - sigma2 / 2.0;
                (mu + sigma2.sqrt() * standard_normal(rng)).exp()
            }
        }
    }
}

fn exponential(rng: &mut StdRng, mean: f64) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    -mean * (1.0 - rng.random::<f64>()).ln()
}

fn standard_normal(rng: &mut StdRng) -> f64 {
    // Box–Muller.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Arrival rate over a stretch of the simulated day.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Rate {
    /// Start, seconds from the simulation's start.
    pub from: f64,
    /// End (exclusive).
    pub to: f64,
    /// Arrivals per hour in between.
    pub per_hour: f64,
}

/// How one queue's callers behave.
#[derive(Clone, PartialEq, Debug)]
pub struct Traffic {
    /// The queue, by name.
    pub queue: String,
    /// Arrival rates; outside them no one calls.
    pub profile: Vec<Rate>,
    /// Conversation length.
    pub handle_time: HandleTime,
    /// Mean patience in seconds (exponential); `None`: callers wait forever.
    pub patience: Option<f64>,
    /// Of the callers whose patience runs out, the share who ask for a callback instead
    /// of hanging up.
    pub callback_share: f64,
}

/// When an agent works.
#[derive(Clone, PartialEq, Debug)]
pub struct Shift {
    /// The agent, by name.
    pub agent: String,
    /// Login, seconds from the start.
    pub from: f64,
    /// Logout (after the current call); infinite: never.
    pub to: f64,
}

/// Everything a simulation run needs.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Queues and agents.
    pub acd: AcdConfig,
    /// Callers per queue.
    pub traffic: Vec<Traffic>,
    /// Agent shifts.
    pub shifts: Vec<Shift>,
    /// Seconds an agent's phone rings before they accept.
    pub ring_seconds: f64,
    /// Stop generating arrivals after this many (across queues).
    pub max_calls: Option<u64>,
    /// The queue that stands for the switchboard when a queue exits there.
    pub switchboard: Option<String>,
    /// Record every queue's length at this period (for charts).
    pub sample_every: Option<f64>,
    /// The random seed.
    pub seed: u64,
}

/// How one caller's visit to one queue ended.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Outcome {
    /// An agent answered.
    Answered,
    /// The caller hung up.
    Abandoned {
        /// Under the short-abandon threshold.
        short: bool,
    },
    /// Left to an exit target.
    Exited(ExitReason, Exit),
    /// Asked for a callback, and an agent took it.
    CalledBack,
    /// Asked for a callback that no agent took before the line closed: it stays an open
    /// obligation for the next working day.
    CallbackOpen,
}

/// One visit of a caller to a queue.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Visit {
    /// The caller.
    pub contact: ContactId,
    /// The queue.
    pub queue: QueueId,
    /// When the caller entered the queue, in seconds.
    pub arrived: f64,
    /// Seconds in the queue until the outcome.
    pub waited: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// Whether the caller asked for a callback on the way.
    pub callback_requested: bool,
    /// Seconds of conversation (answered and called back).
    pub handle: f64,
}

/// Queue lengths at one instant.
#[derive(Clone, PartialEq, Debug)]
pub struct Sample {
    /// Seconds from the start.
    pub at: f64,
    /// Callers in each queue (by queue index), callbacks included.
    pub waiting: Vec<u64>,
}

/// The result of a run.
#[derive(Debug)]
pub struct Run {
    /// Every visit, in the order they ended.
    pub visits: Vec<Visit>,
    /// Queue lengths over time.
    pub samples: Vec<Sample>,
    /// Per agent: seconds logged in and seconds in conversation.
    pub agent_seconds: Vec<(f64, f64)>,
    /// Queue names by index.
    pub queue_names: Vec<String>,
    /// Inputs the engine handled.
    pub engine_inputs: u64,
    /// When the last thing happened, in seconds.
    pub end: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Happening {
    Arrival { traffic: usize },
    Patience { contact: u64, visit: u32 },
    Accept { agent: AgentId, contact: ContactId },
    Hangup { agent: AgentId },
    Login { agent: AgentId },
    Logout { agent: AgentId },
    Sample,
}

#[derive(Clone, Copy, Debug, Default)]
struct ContactState {
    visit: u32,
    queue: Option<QueueId>,
    traffic: usize,
    arrived: Time,
    callback: bool,
}

struct Driver<'a> {
    scenario: &'a Scenario,
    acd: Acd,
    rng: StdRng,
    now: Time,
    agenda: BinaryHeap<Reverse<(Time, u64, Happening)>>,
    /// Happenings in the agenda other than samples: the run ends when none are left.
    pending: usize,
    seq: u64,
    contacts: Vec<ContactState>,
    traffic_queue: Vec<QueueId>,
    queue_traffic: Vec<Option<usize>>,
    arrivals: u64,
    login_at: Vec<Option<Time>>,
    run: Run,
}

/// Run a scenario to its end: arrivals stop (profile or `max_calls`) and every caller
/// has left.
///
/// # Errors
/// An invalid queue configuration, or traffic and shifts naming unknown queues or agents.
pub fn run(scenario: &Scenario) -> Result<Run, ConfigError> {
    let acd = Acd::new(&scenario.acd)?;
    let mut problems = Vec::new();
    let traffic_queue: Vec<QueueId> = scenario
        .traffic
        .iter()
        .map(|t| {
            acd.queue_id(&t.queue).unwrap_or_else(|| {
                problems.push(format!("traffic for unknown queue {:?}", t.queue));
                QueueId(0)
            })
        })
        .collect();
    for s in &scenario.shifts {
        if acd.agent_id(&s.agent).is_none() {
            problems.push(format!("shift for unknown agent {:?}", s.agent));
        }
    }
    if let Some(sb) = &scenario.switchboard
        && acd.queue_id(sb).is_none()
    {
        problems.push(format!("switchboard queue {sb:?} is not a queue"));
    }
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    let mut queue_traffic = vec![None; acd.queue_count()];
    for (i, q) in traffic_queue.iter().enumerate() {
        queue_traffic[q.index()] = Some(i);
    }
    let run = Run {
        visits: Vec::new(),
        samples: Vec::new(),
        agent_seconds: vec![(0.0, 0.0); acd.agent_count()],
        queue_names: acd.queue_ids().map(|q| acd.queue_name(q).to_owned()).collect(),
        engine_inputs: 0,
        end: 0.0,
    };
    let mut driver = Driver {
        scenario,
        login_at: vec![None; acd.agent_count()],
        acd,
        rng: StdRng::seed_from_u64(scenario.seed),
        now: Time::ZERO,
        agenda: BinaryHeap::new(),
        pending: 0,
        seq: 0,
        contacts: vec![ContactState::default()],
        traffic_queue,
        queue_traffic,
        arrivals: 0,
        run,
    };
    driver.start();
    driver.run_to_end();
    Ok(driver.run)
}

impl Driver<'_> {
    fn at(&mut self, at: Time, what: Happening) {
        self.seq += 1;
        self.pending += usize::from(what != Happening::Sample);
        self.agenda.push(Reverse((at, self.seq, what)));
    }

    fn start(&mut self) {
        for s in &self.scenario.shifts {
            let agent = self.acd.agent_id(&s.agent).expect("checked in run");
            self.at(Time::from_secs_f64(s.from), Happening::Login { agent });
            if s.to.is_finite() {
                self.at(Time::from_secs_f64(s.to), Happening::Logout { agent });
            }
        }
        for i in 0..self.scenario.traffic.len() {
            self.schedule_arrival(i, 0.0);
        }
        if self.scenario.sample_every.is_some() {
            self.at(Time::ZERO, Happening::Sample);
        }
    }

    /// Next arrival of a non-homogeneous Poisson stream, by thinning.
    fn schedule_arrival(&mut self, traffic: usize, from: f64) {
        let profile = &self.scenario.traffic[traffic].profile;
        let max = profile.iter().map(|r| r.per_hour).fold(0.0, f64::max) / 3600.0;
        let end = profile.iter().map(|r| r.to).fold(0.0, f64::max);
        if max <= 0.0 {
            return;
        }
        let mut t = from;
        loop {
            t += exponential(&mut self.rng, 1.0 / max);
            if t >= end {
                return;
            }
            let rate = profile.iter().find(|r| r.from <= t && t < r.to).map_or(0.0, |r| r.per_hour / 3600.0);
            if self.rng.random::<f64>() * max < rate {
                self.at(Time::from_secs_f64(t), Happening::Arrival { traffic });
                return;
            }
        }
    }

    fn input(&mut self, input: Input) -> bool {
        self.run.engine_inputs += 1;
        let ok = self.acd.handle_input(self.now, input).is_ok();
        while let Some(event) = self.acd.poll_event() {
            self.react(event);
        }
        ok
    }

    fn run_to_end(&mut self) {
        loop {
            let next_timer = self.acd.poll_timeout();
            let next_happening = self.agenda.peek().map(|Reverse((at, _, _))| *at);
            let timer_first = match (next_timer, next_happening) {
                (Some(t), Some(h)) => t < h,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if timer_first {
                self.now = next_timer.unwrap_or(self.now);
                self.input(Input::Timeout);
            } else if let Some(Reverse((at, _, what))) = self.agenda.pop() {
                self.pending -= usize::from(what != Happening::Sample);
                self.now = at;
                self.happen(what);
            }
            if self.pending == 0 && self.acd.waiting_count() == 0 && self.acd.poll_timeout().is_none() {
                break;
            }
        }
        for i in 1..self.contacts.len() {
            let contact = ContactId(i as u64);
            if self.acd.is_waiting(contact)
                && let Some(queue) = self.contacts[i].queue
            {
                let waited = self.now.since(self.contacts[i].arrived);
                self.visit(contact, queue, waited, Outcome::CallbackOpen, 0.0);
            }
        }
        for agent in self.acd.agent_ids().collect::<Vec<_>>() {
            if let Some(since) = self.login_at[agent.index()].take() {
                self.run.agent_seconds[agent.index()].0 += self.now.since(since).as_secs_f64();
            }
        }
        self.run.end = self.now.as_secs_f64();
    }

    fn happen(&mut self, what: Happening) {
        match what {
            Happening::Arrival { traffic } => {
                if self.scenario.max_calls.is_some_and(|max| self.arrivals >= max) {
                    return;
                }
                self.arrivals += 1;
                self.schedule_arrival(traffic, self.now.as_secs_f64());
                let contact = ContactId(self.contacts.len() as u64);
                self.contacts.push(ContactState { visit: 0, queue: None, traffic, arrived: self.now, callback: false });
                self.enter(contact, self.traffic_queue[traffic]);
            }
            Happening::Patience { contact, visit } => {
                let state = self.contacts[contact as usize];
                if state.visit != visit || state.callback {
                    return;
                }
                let share = self.scenario.traffic[state.traffic].callback_share;
                if share > 0.0 && self.rng.random::<f64>() < share {
                    if self.input(Input::RequestCallback(ContactId(contact))) {
                        self.contacts[contact as usize].callback = true;
                    }
                } else {
                    self.input(Input::Abandon(ContactId(contact)));
                }
            }
            Happening::Accept { agent, contact } => {
                self.input(Input::Accept(agent, contact));
            }
            Happening::Hangup { agent } => {
                self.input(Input::Hangup(agent));
            }
            Happening::Login { agent } => {
                if self.input(Input::Login(agent)) {
                    self.login_at[agent.index()] = Some(self.now);
                }
            }
            Happening::Logout { agent } => {
                self.input(Input::Logout(agent));
            }
            Happening::Sample => {
                let waiting = self.acd.queue_ids().map(|q| self.acd.stats(q).waiting).collect();
                self.run.samples.push(Sample { at: self.now.as_secs_f64(), waiting });
                if let Some(every) = self.scenario.sample_every
                    && self.pending > 0
                {
                    self.at(self.now + Duration::from_secs_f64(every), Happening::Sample);
                }
            }
        }
    }

    /// A caller enters a queue: the one their traffic belongs to or an exit's target.
    fn enter(&mut self, contact: ContactId, queue: QueueId) {
        let state = &mut self.contacts[contact.0 as usize];
        state.visit += 1;
        state.queue = Some(queue);
        state.arrived = self.now;
        state.callback = false;
        let visit = state.visit;
        let traffic = self.queue_traffic[queue.index()].unwrap_or(state.traffic);
        state.traffic = traffic;
        if let Some(mean) = self.scenario.traffic[traffic].patience {
            let patience = exponential(&mut self.rng, mean);
            self.at(self.now + Duration::from_secs_f64(patience), Happening::Patience { contact: contact.0, visit });
        }
        self.input(Input::Arrive(Arrival::new(contact, queue)));
    }

    fn visit(&mut self, contact: ContactId, queue: QueueId, waited: Duration, outcome: Outcome, handle: f64) {
        let state = self.contacts[contact.0 as usize];
        self.run.visits.push(Visit {
            contact,
            queue,
            arrived: state.arrived.as_secs_f64(),
            waited: waited.as_secs_f64(),
            outcome,
            callback_requested: state.callback,
            handle,
        });
    }

    fn react(&mut self, event: Event) {
        match event {
            Event::Offer { contact, agent, .. } => {
                let at = self.now + Duration::from_secs_f64(self.scenario.ring_seconds);
                self.at(at, Happening::Accept { agent, contact });
            }
            Event::Answered { contact, agent, queue, waited } | Event::CalledBack { contact, agent, queue, waited } => {
                let traffic = self.contacts[contact.0 as usize].traffic;
                let handle = self.scenario.traffic[traffic].handle_time.sample(&mut self.rng);
                self.run.agent_seconds[agent.index()].1 += handle;
                let outcome =
                    if matches!(event, Event::Answered { .. }) { Outcome::Answered } else { Outcome::CalledBack };
                self.visit(contact, queue, waited, outcome, handle);
                self.at(self.now + Duration::from_secs_f64(handle), Happening::Hangup { agent });
            }
            Event::Abandoned { contact, queue, waited, short } => {
                self.visit(contact, queue, waited, Outcome::Abandoned { short }, 0.0);
            }
            Event::Exited { contact, queue, reason, target, waited } => {
                self.visit(contact, queue, waited, Outcome::Exited(reason, target), 0.0);
                let next = match target {
                    Exit::Queue(q) => Some(q),
                    Exit::Switchboard => {
                        self.scenario.switchboard.as_deref().and_then(|s| self.acd.queue_id(s)).filter(|&s| s != queue)
                    }
                    Exit::Message => None,
                };
                if let Some(next) = next {
                    self.enter(contact, next);
                }
            }
            Event::AgentState { agent, status } => {
                if status == crate::types::AgentStatus::LoggedOut
                    && let Some(since) = self.login_at[agent.index()].take()
                {
                    self.run.agent_seconds[agent.index()].0 += self.now.since(since).as_secs_f64();
                }
            }
            Event::Position { .. } | Event::OfferWithdrawn { .. } | Event::CallbackRequested { .. } => {}
            Event::PreferredExpired { .. } => {}
        }
    }
}
