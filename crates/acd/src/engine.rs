//! The queue engine: one state machine for all queues and agents of a municipality.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use crate::config::{AcdConfig, AgentId, ConfigError, QueueId, Resolved, SkillId, Strategy};
use crate::time::Time;
use crate::types::{
    AcdError, AgentStatus, Arrival, ContactId, Event, ExitReason, Input, PauseReason, QueueStats, SkillNeed,
    WithdrawReason,
};

/// Order of service: higher priority first, then arrival (a callback keeps its arrival).
type OrderKey = (Reverse<u8>, u64);

/// Longest-idle order: idle since, then the order agents became idle.
type IdleKey = (Time, u64);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Live,
    Callback,
}

#[derive(Debug)]
struct Waiting {
    queue: QueueId,
    key: OrderKey,
    arrived: Time,
    kind: Kind,
    need: Option<SkillNeed>,
    preferred: Option<(AgentId, Time)>,
    /// Agents ringing for this caller (one, or several under ring-all).
    offered_to: Vec<AgentId>,
    max_wait_at: Option<Time>,
    announce_at: Option<Time>,
    widen_at: Option<Time>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    LoggedOut,
    Available,
    Offered { contact: ContactId, until: Time },
    OnCall { contact: ContactId, queue: QueueId, since: Time },
    WrapUp { until: Time },
    Paused(PauseReason),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AfterCall {
    Logout,
    Pause(PauseReason),
}

#[derive(Debug)]
struct Agent {
    state: State,
    /// Since when the agent has been idle; the sequence number breaks ties so that an
    /// agent who just missed an offer goes behind colleagues idle since the same instant.
    idle_since: IdleKey,
    /// The key this agent holds in `Acd::available`, while available.
    available_key: Option<IdleKey>,
    missed: u32,
    after_call: Option<AfterCall>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Timer {
    Offer(AgentId),
    WrapUp(AgentId),
    MaxWait(ContactId),
    Announce(ContactId),
    Widen(ContactId),
    Preferred(ContactId),
}

#[derive(Debug, Default)]
struct QueueState {
    /// Everyone in the queue (live, offered, callbacks), in service order; for positions.
    line: BTreeSet<(OrderKey, ContactId)>,
    live_waiting: usize,
    logged_in: u32,
    ready: u32,
    handle_time_estimate: Duration,
    stats: QueueStats,
}

/// The contact-centre engine. Sans-IO: feed it [`Input`]s with the current time, take
/// [`Event`]s from [`Acd::poll_event`], and call again with [`Input::Timeout`] at
/// [`Acd::poll_timeout`].
#[derive(Debug)]
pub struct Acd {
    cfg: Resolved,
    agents: Vec<Agent>,
    queues: Vec<QueueState>,
    waiting: HashMap<ContactId, Waiting>,
    /// Callers not being offered, in global service order (all queues).
    unoffered: BTreeSet<(OrderKey, ContactId)>,
    /// Available agents, longest idle first.
    available: BTreeSet<(IdleKey, AgentId)>,
    next_idle_seq: u64,
    timers: BinaryHeap<Reverse<(Time, Timer)>>,
    events: VecDeque<Event>,
    next_seq: u64,
    dirty: bool,
    now: Time,
}

impl Acd {
    /// Build the engine; every agent starts logged out.
    ///
    /// # Errors
    /// Every problem of the configuration.
    pub fn new(config: &AcdConfig) -> Result<Self, ConfigError> {
        let cfg = config.resolve()?;
        let queues = cfg
            .queues
            .iter()
            .map(|q| QueueState { handle_time_estimate: q.config.expected_handle_time, ..QueueState::default() })
            .collect();
        let agents = cfg
            .agents
            .iter()
            .map(|_| Agent {
                state: State::LoggedOut,
                idle_since: (Time::ZERO, 0),
                available_key: None,
                missed: 0,
                after_call: None,
            })
            .collect();
        Ok(Self {
            cfg,
            agents,
            queues,
            waiting: HashMap::new(),
            unoffered: BTreeSet::new(),
            available: BTreeSet::new(),
            timers: BinaryHeap::new(),
            events: VecDeque::new(),
            next_seq: 0,
            next_idle_seq: 0,
            dirty: false,
            now: Time::ZERO,
        })
    }

    /// A queue by name.
    #[must_use]
    pub fn queue_id(&self, name: &str) -> Option<QueueId> {
        self.cfg.queue_names.get(name).copied()
    }

    /// An agent by name.
    #[must_use]
    pub fn agent_id(&self, name: &str) -> Option<AgentId> {
        self.cfg.agent_names.get(name).copied()
    }

    /// A skill by name (known when some agent has it).
    #[must_use]
    pub fn skill_id(&self, name: &str) -> Option<SkillId> {
        self.cfg.skill_names.get(name).copied()
    }

    /// A queue's name.
    #[must_use]
    pub fn queue_name(&self, queue: QueueId) -> &str {
        &self.cfg.queues[queue.index()].config.name
    }

    /// An agent's name.
    #[must_use]
    pub fn agent_name(&self, agent: AgentId) -> &str {
        &self.cfg.agents[agent.index()].name
    }

    /// Number of queues; ids are `0..n`.
    #[must_use]
    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    /// Number of agents.
    #[must_use]
    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    /// The agents serving a queue.
    #[must_use]
    pub fn members(&self, queue: QueueId) -> &[AgentId] {
        &self.cfg.queues[queue.index()].members
    }

    /// All queue ids.
    pub fn queue_ids(&self) -> impl Iterator<Item = QueueId> + use<> {
        (0..self.queues.len() as u16).map(QueueId)
    }

    /// All agent ids.
    pub fn agent_ids(&self) -> impl Iterator<Item = AgentId> + use<> {
        (0..self.agents.len() as u32).map(AgentId)
    }

    /// The agent's state as a supervisor sees it.
    #[must_use]
    pub fn agent_status(&self, agent: AgentId) -> AgentStatus {
        status_of(self.agents[agent.index()].state)
    }

    /// Consecutive offers the agent missed.
    #[must_use]
    pub fn missed_offers(&self, agent: AgentId) -> u32 {
        self.agents[agent.index()].missed
    }

    /// A queue's counters.
    #[must_use]
    pub fn stats(&self, queue: QueueId) -> QueueStats {
        self.queues[queue.index()].stats
    }

    /// Callers in any queue (live, offered and callbacks).
    #[must_use]
    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }

    /// Whether `contact` is in a queue.
    #[must_use]
    pub fn is_waiting(&self, contact: ContactId) -> bool {
        self.waiting.contains_key(&contact)
    }

    /// Callbacks being offered to agents now.
    #[must_use]
    pub fn callbacks_in_offer(&self) -> usize {
        self.waiting.values().filter(|w| w.kind == Kind::Callback && !w.offered_to.is_empty()).count()
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call again with [`Input::Timeout`]. Discards timers that no longer apply.
    pub fn poll_timeout(&mut self) -> Option<Time> {
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if self.timer_applies(at, timer) {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    /// Apply one input at `now` (never earlier than the previous input's `now`).
    ///
    /// # Errors
    /// An input that does not fit the state; nothing changes then.
    pub fn handle_input(&mut self, now: Time, input: Input) -> Result<(), AcdError> {
        self.now = self.now.max(now);
        let result = match input {
            Input::Arrive(arrival) => self.arrive(arrival),
            Input::Abandon(contact) => self.abandon(contact),
            Input::RequestCallback(contact) => self.request_callback(contact),
            Input::Login(agent) => self.login(agent),
            Input::Logout(agent) => self.logout(agent),
            Input::Pause(agent, reason) => self.pause(agent, reason),
            Input::Resume(agent) => self.resume(agent),
            Input::Accept(agent, contact) => self.accept(agent, contact),
            Input::Decline(agent, contact) => self.decline(agent, contact),
            Input::Hangup(agent) => self.hangup(agent),
            Input::Timeout => {
                self.run_timers();
                Ok(())
            }
        };
        if self.dirty {
            self.dirty = false;
            self.dispatch();
        }
        result
    }

    // ---- callers ----

    fn arrive(&mut self, a: Arrival) -> Result<(), AcdError> {
        let qi = a.queue.index();
        if qi >= self.queues.len() {
            return Err(AcdError::UnknownQueue(a.queue));
        }
        if let Some(p) = a.preferred
            && p.agent.index() >= self.agents.len()
        {
            return Err(AcdError::UnknownAgent(p.agent));
        }
        if self.waiting.contains_key(&a.contact) {
            return Err(AcdError::DuplicateContact(a.contact));
        }
        let now = self.now;
        let q = &self.cfg.queues[qi];
        self.queues[qi].stats.offered += 1;
        if self.queues[qi].logged_in == 0 {
            self.exit_now(a.contact, a.queue, ExitReason::NoAgents, Duration::ZERO);
            return Ok(());
        }
        if q.config.max_length.is_some_and(|max| self.queues[qi].live_waiting >= max) {
            self.exit_now(a.contact, a.queue, ExitReason::QueueFull, Duration::ZERO);
            return Ok(());
        }
        let key = (Reverse(a.priority.unwrap_or(q.config.priority)), self.next_seq);
        self.next_seq += 1;
        let max_wait_at = q.config.max_wait.map(|d| now + d);
        let announce_at = q.config.announce_every.map(|d| now + d);
        let preferred = a.preferred.map(|p| (p.agent, now + p.wait));
        let mut w = Waiting {
            queue: a.queue,
            key,
            arrived: now,
            kind: Kind::Live,
            need: a.skill,
            preferred,
            offered_to: Vec::new(),
            max_wait_at,
            announce_at,
            widen_at: None,
        };
        w.widen_at = self.next_widening(&w);
        for (at, timer) in [
            (max_wait_at, Timer::MaxWait(a.contact)),
            (announce_at, Timer::Announce(a.contact)),
            (w.widen_at, Timer::Widen(a.contact)),
            (preferred.map(|p| p.1), Timer::Preferred(a.contact)),
        ] {
            if let Some(at) = at {
                self.timers.push(Reverse((at, timer)));
            }
        }
        let qs = &mut self.queues[qi];
        qs.line.insert((key, a.contact));
        qs.live_waiting += 1;
        qs.stats.waiting += 1;
        self.unoffered.insert((key, a.contact));
        self.waiting.insert(a.contact, w);
        self.announce(a.contact);
        self.dirty = true;
        Ok(())
    }

    fn abandon(&mut self, contact: ContactId) -> Result<(), AcdError> {
        match self.waiting.get(&contact) {
            Some(w) if w.kind == Kind::Live => {}
            _ => return Err(AcdError::NotWaiting(contact)),
        }
        let w = self.remove_waiting(contact, WithdrawReason::CallerLeft);
        let waited = self.now.since(w.arrived);
        let q = &self.cfg.queues[w.queue.index()].config;
        let short = waited < q.short_abandon;
        let stats = &mut self.queues[w.queue.index()].stats;
        stats.abandoned += 1;
        stats.short_abandoned += u64::from(short);
        self.events.push_back(Event::Abandoned { contact, queue: w.queue, waited, short });
        Ok(())
    }

    fn request_callback(&mut self, contact: ContactId) -> Result<(), AcdError> {
        let w = match self.waiting.get_mut(&contact) {
            Some(w) if w.kind == Kind::Live => w,
            _ => return Err(AcdError::NotWaiting(contact)),
        };
        w.kind = Kind::Callback;
        w.max_wait_at = None;
        w.announce_at = None;
        let (queue, arrived, offered) = (w.queue, w.arrived, std::mem::take(&mut w.offered_to));
        let key = w.key;
        self.queues[queue.index()].live_waiting -= 1;
        self.queues[queue.index()].stats.callbacks_requested += 1;
        // An agent ringing for a caller who is hanging up is released; the callback is
        // offered afresh, from the caller's original place.
        if !offered.is_empty() {
            for agent in offered {
                self.release_offer(agent, contact, WithdrawReason::CallerLeft, false);
            }
            self.unoffered.insert((key, contact));
        }
        self.events.push_back(Event::CallbackRequested { contact, queue, waited: self.now.since(arrived) });
        self.dirty = true;
        Ok(())
    }

    /// Remove a caller from every index, releasing agents still ringing for them.
    fn remove_waiting(&mut self, contact: ContactId, reason: WithdrawReason) -> Waiting {
        let Some(mut w) = self.waiting.remove(&contact) else {
            unreachable!("remove_waiting is called for waiting contacts only")
        };
        for agent in std::mem::take(&mut w.offered_to) {
            self.release_offer(agent, contact, reason, false);
        }
        self.unoffered.remove(&(w.key, contact));
        let qs = &mut self.queues[w.queue.index()];
        qs.line.remove(&(w.key, contact));
        qs.stats.waiting -= 1;
        if w.kind == Kind::Live {
            qs.live_waiting -= 1;
        }
        w
    }

    fn exit_now(&mut self, contact: ContactId, queue: QueueId, reason: ExitReason, waited: Duration) {
        let q = &self.cfg.queues[queue.index()];
        let target = match reason {
            ExitReason::MaxWait => q.exit_max_wait,
            ExitReason::NoAgents => q.exit_no_agents,
            ExitReason::QueueFull => q.exit_full,
        };
        self.queues[queue.index()].stats.exited += 1;
        self.events.push_back(Event::Exited { contact, queue, reason, target, waited });
    }

    fn announce(&mut self, contact: ContactId) {
        let Some(w) = self.waiting.get(&contact) else { return };
        let qs = &self.queues[w.queue.index()];
        let position = qs.line.range(..(w.key, contact)).count() + 1;
        // p departures from n parallel servers each finishing at rate 1/aht take p·aht/n.
        let servers = qs.ready.max(1);
        let estimated_wait = qs.handle_time_estimate.mul_f64(position as f64 / f64::from(servers));
        self.events.push_back(Event::Position { contact, position, estimated_wait });
    }

    /// The lowest level that satisfies the caller's need now (0: any member).
    fn min_level(&self, w: &Waiting) -> Option<(SkillId, u8)> {
        let need = w.need?;
        let waited = self.now.since(w.arrived);
        let q = &self.cfg.queues[w.queue.index()].config;
        let widened = q.skill_widening.iter().rev().find(|s| s.after <= waited).map_or(need.level, |s| s.min_level);
        Some((need.skill, need.level.min(widened)))
    }

    fn next_widening(&self, w: &Waiting) -> Option<Time> {
        let need = w.need?;
        let waited = self.now.since(w.arrived);
        let q = &self.cfg.queues[w.queue.index()].config;
        q.skill_widening.iter().find(|s| s.after > waited && s.min_level < need.level).map(|s| w.arrived + s.after)
    }

    // ---- agents ----

    fn agent(&self, agent: AgentId) -> Result<&Agent, AcdError> {
        self.agents.get(agent.index()).ok_or(AcdError::UnknownAgent(agent))
    }

    fn wrong_state(&self, agent: AgentId) -> AcdError {
        AcdError::AgentState { agent, status: status_of(self.agents[agent.index()].state) }
    }

    fn set_state(&mut self, agent: AgentId, state: State) {
        let a = &mut self.agents[agent.index()];
        let was = a.state;
        if let Some(key) = a.available_key.take() {
            self.available.remove(&(key, agent));
        }
        if state == State::Available {
            a.available_key = Some(a.idle_since);
            self.available.insert((a.idle_since, agent));
            self.dirty = true;
        }
        a.state = state;
        let counts = |s: State| match s {
            State::LoggedOut => (0, 0),
            State::Paused(_) => (1, 0),
            _ => (1, 1),
        };
        let (was_in, was_ready) = counts(was);
        let (now_in, now_ready) = counts(state);
        if (was_in, was_ready) != (now_in, now_ready) {
            for &q in &self.cfg.agents[agent.index()].queues {
                let qs = &mut self.queues[q.index()];
                qs.logged_in = qs.logged_in + now_in - was_in;
                qs.ready = qs.ready + now_ready - was_ready;
            }
            // A preferred agent who leaves no longer holds callers back.
            self.dirty = true;
        }
        self.events.push_back(Event::AgentState { agent, status: status_of(state) });
    }

    fn login(&mut self, agent: AgentId) -> Result<(), AcdError> {
        if self.agent(agent)?.state != State::LoggedOut {
            return Err(self.wrong_state(agent));
        }
        let a = &mut self.agents[agent.index()];
        a.missed = 0;
        a.after_call = None;
        self.make_available(agent);
        Ok(())
    }

    fn logout(&mut self, agent: AgentId) -> Result<(), AcdError> {
        match self.agent(agent)?.state {
            State::LoggedOut => return Err(self.wrong_state(agent)),
            State::OnCall { .. } => {
                self.agents[agent.index()].after_call = Some(AfterCall::Logout);
                return Ok(());
            }
            State::Offered { contact, .. } => self.withdraw(agent, contact, WithdrawReason::AgentLeft),
            State::Available | State::WrapUp { .. } | State::Paused(_) => {}
        }
        self.set_state(agent, State::LoggedOut);
        self.exit_queues_without_agents(agent);
        Ok(())
    }

    /// Live callers of a queue whose last agent logged out leave by its no-agents exit.
    fn exit_queues_without_agents(&mut self, agent: AgentId) {
        for qi in 0..self.cfg.agents[agent.index()].queues.len() {
            let queue = self.cfg.agents[agent.index()].queues[qi];
            if self.queues[queue.index()].logged_in > 0 {
                continue;
            }
            let live: Vec<ContactId> = self.queues[queue.index()]
                .line
                .iter()
                .map(|&(_, c)| c)
                .filter(|c| self.waiting.get(c).is_some_and(|w| w.kind == Kind::Live))
                .collect();
            for contact in live {
                let w = self.remove_waiting(contact, WithdrawReason::CallerLeft);
                let waited = self.now.since(w.arrived);
                self.exit_now(contact, queue, ExitReason::NoAgents, waited);
            }
        }
    }

    fn pause(&mut self, agent: AgentId, reason: PauseReason) -> Result<(), AcdError> {
        match self.agent(agent)?.state {
            State::LoggedOut | State::Paused(_) => return Err(self.wrong_state(agent)),
            State::OnCall { .. } => {
                self.agents[agent.index()].after_call = Some(AfterCall::Pause(reason));
                return Ok(());
            }
            State::Offered { contact, .. } => self.withdraw(agent, contact, WithdrawReason::AgentLeft),
            State::Available | State::WrapUp { .. } => {}
        }
        self.set_state(agent, State::Paused(reason));
        Ok(())
    }

    fn resume(&mut self, agent: AgentId) -> Result<(), AcdError> {
        if !matches!(self.agent(agent)?.state, State::Paused(_)) {
            return Err(self.wrong_state(agent));
        }
        self.agents[agent.index()].missed = 0;
        self.make_available(agent);
        Ok(())
    }

    fn accept(&mut self, agent: AgentId, contact: ContactId) -> Result<(), AcdError> {
        match self.agent(agent)?.state {
            State::Offered { contact: c, .. } if c == contact => {}
            _ => return Err(AcdError::NotOffered { agent, contact }),
        }
        // Detach this agent first, so removing the caller releases only the others.
        if let Some(w) = self.waiting.get_mut(&contact) {
            w.offered_to.retain(|&a| a != agent);
        }
        let w = self.remove_waiting(contact, WithdrawReason::TakenByOther);
        let waited = self.now.since(w.arrived);
        self.agents[agent.index()].missed = 0;
        self.set_state(agent, State::OnCall { contact, queue: w.queue, since: self.now });
        let target = self.cfg.queues[w.queue.index()].config.service_level_target;
        let stats = &mut self.queues[w.queue.index()].stats;
        match w.kind {
            Kind::Live => {
                stats.answered += 1;
                stats.answered_within_target += u64::from(waited <= target);
                let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
                stats.answered_wait_micros = stats.answered_wait_micros.saturating_add(micros);
                stats.longest_answered_wait_micros = stats.longest_answered_wait_micros.max(micros);
                self.events.push_back(Event::Answered { contact, agent, queue: w.queue, waited });
            }
            Kind::Callback => {
                stats.called_back += 1;
                self.events.push_back(Event::CalledBack { contact, agent, queue: w.queue, waited });
            }
        }
        Ok(())
    }

    fn decline(&mut self, agent: AgentId, contact: ContactId) -> Result<(), AcdError> {
        match self.agent(agent)?.state {
            State::Offered { contact: c, .. } if c == contact => {}
            _ => return Err(AcdError::NotOffered { agent, contact }),
        }
        self.withdraw(agent, contact, WithdrawReason::Declined);
        Ok(())
    }

    fn hangup(&mut self, agent: AgentId) -> Result<(), AcdError> {
        let State::OnCall { queue, since, .. } = self.agent(agent)?.state else {
            return Err(self.wrong_state(agent));
        };
        // Handle time estimate for announcements: an exponential average of real calls.
        let qs = &mut self.queues[queue.index()];
        let talked = self.now.since(since);
        qs.handle_time_estimate = qs.handle_time_estimate.mul_f64(0.9) + talked.mul_f64(0.1);
        let wrap = self.cfg.queues[queue.index()].config.wrap_up;
        match self.agents[agent.index()].after_call.take() {
            Some(AfterCall::Logout) => {
                self.set_state(agent, State::LoggedOut);
                self.exit_queues_without_agents(agent);
            }
            Some(AfterCall::Pause(reason)) => self.set_state(agent, State::Paused(reason)),
            None if wrap.is_zero() => self.make_available(agent),
            None => {
                let until = self.now + wrap;
                self.set_state(agent, State::WrapUp { until });
                self.timers.push(Reverse((until, Timer::WrapUp(agent))));
            }
        }
        Ok(())
    }

    fn make_available(&mut self, agent: AgentId) {
        self.agents[agent.index()].idle_since = (self.now, self.next_idle_seq);
        self.next_idle_seq += 1;
        self.set_state(agent, State::Available);
    }

    /// End one agent's offer for a waiting caller; a miss when `reason` says so.
    fn withdraw(&mut self, agent: AgentId, contact: ContactId, reason: WithdrawReason) {
        let missed = matches!(reason, WithdrawReason::Timeout | WithdrawReason::Declined);
        if let Some(w) = self.waiting.get_mut(&contact) {
            w.offered_to.retain(|&a| a != agent);
            if w.offered_to.is_empty() {
                self.unoffered.insert((w.key, contact));
            }
        }
        self.release_offer(agent, contact, reason, missed);
    }

    /// Return an offered agent to available, or to not-ready after too many misses.
    fn release_offer(&mut self, agent: AgentId, contact: ContactId, reason: WithdrawReason, missed: bool) {
        self.events.push_back(Event::OfferWithdrawn { contact, agent, reason });
        self.dirty = true;
        if matches!(reason, WithdrawReason::AgentLeft) {
            return; // the caller of withdraw sets the new state
        }
        if !missed {
            // Not the agent's doing: they keep their place in the idle order.
            self.set_state(agent, State::Available);
            return;
        }
        let limit = self.agent_limit(agent);
        let a = &mut self.agents[agent.index()];
        a.missed += 1;
        if a.missed >= limit {
            let missed = a.missed;
            self.set_state(agent, State::Paused(PauseReason::MissedOffers { missed }));
        } else {
            // To the back of the idle order, so the caller tries someone else first.
            self.make_available(agent);
        }
    }

    /// The strictest missed-offer limit of the agent's queues.
    fn agent_limit(&self, agent: AgentId) -> u32 {
        self.cfg.agents[agent.index()]
            .queues
            .iter()
            .map(|q| self.cfg.queues[q.index()].config.missed_offers_limit)
            .min()
            .unwrap_or(1)
    }

    // ---- timers ----

    fn timer_applies(&self, at: Time, timer: Timer) -> bool {
        match timer {
            Timer::Offer(a) => matches!(self.agents[a.index()].state, State::Offered { until, .. } if until == at),
            Timer::WrapUp(a) => matches!(self.agents[a.index()].state, State::WrapUp { until } if until == at),
            Timer::MaxWait(c) => self.waiting.get(&c).is_some_and(|w| w.max_wait_at == Some(at)),
            Timer::Announce(c) => self.waiting.get(&c).is_some_and(|w| w.announce_at == Some(at)),
            Timer::Widen(c) => self.waiting.get(&c).is_some_and(|w| w.widen_at == Some(at)),
            Timer::Preferred(c) => self.waiting.get(&c).is_some_and(|w| w.preferred.is_some_and(|p| p.1 == at)),
        }
    }

    fn run_timers(&mut self) {
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if at > self.now {
                break;
            }
            self.timers.pop();
            if self.timer_applies(at, timer) {
                self.fire(timer);
            }
        }
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Offer(agent) => {
                if let State::Offered { contact, .. } = self.agents[agent.index()].state {
                    self.withdraw(agent, contact, WithdrawReason::Timeout);
                }
            }
            Timer::WrapUp(agent) => self.make_available(agent),
            Timer::MaxWait(contact) => {
                let w = self.remove_waiting(contact, WithdrawReason::CallerLeft);
                let waited = self.now.since(w.arrived);
                self.exit_now(contact, w.queue, ExitReason::MaxWait, waited);
            }
            Timer::Announce(contact) => {
                let every =
                    self.waiting.get(&contact).and_then(|w| self.cfg.queues[w.queue.index()].config.announce_every);
                if let (Some(w), Some(every)) = (self.waiting.get_mut(&contact), every) {
                    let at = self.now + every;
                    w.announce_at = Some(at);
                    self.timers.push(Reverse((at, Timer::Announce(contact))));
                }
                self.announce(contact);
            }
            Timer::Widen(contact) => {
                let next = self.waiting.get(&contact).and_then(|w| self.next_widening(w));
                if let Some(w) = self.waiting.get_mut(&contact) {
                    w.widen_at = next;
                }
                if let Some(at) = next {
                    self.timers.push(Reverse((at, Timer::Widen(contact))));
                }
                self.dirty = true;
            }
            Timer::Preferred(contact) => {
                if let Some(w) = self.waiting.get_mut(&contact)
                    && let Some((agent, _)) = w.preferred.take()
                {
                    self.events.push_back(Event::PreferredExpired { contact, agent });
                }
                self.dirty = true;
            }
        }
    }

    // ---- matching callers with agents ----

    fn eligible(&self, agent: AgentId, w: &Waiting) -> bool {
        let a = &self.cfg.agents[agent.index()];
        if w.preferred.is_some_and(|(p, _)| p == agent) {
            // The colleague who knows the case, member of the queue or not.
            return true;
        }
        if !a.queues.contains(&w.queue) {
            return false;
        }
        if let Some((preferred, _)) = w.preferred
            && matches!(
                self.agents[preferred.index()].state,
                State::Available | State::Offered { .. } | State::OnCall { .. } | State::WrapUp { .. }
            )
        {
            // Held for the colleague who knows the case while they are at work.
            return false;
        }
        match self.min_level(w) {
            None | Some((_, 0)) => true,
            Some((skill, level)) => a.skills.iter().any(|&(s, l)| s == skill && l >= level),
        }
    }

    fn skill_level(&self, agent: AgentId, w: &Waiting) -> u8 {
        let Some(need) = w.need else { return 0 };
        self.cfg.agents[agent.index()].skills.iter().find(|s| s.0 == need.skill).map_or(0, |s| s.1)
    }

    /// Offer waiting callers to available agents, strictly in service order: a caller is
    /// only passed over for an agent who may not take them.
    fn dispatch(&mut self) {
        let mut cursor: Option<(OrderKey, ContactId)> = None;
        while !self.available.is_empty() {
            let next = match cursor {
                None => self.unoffered.first().copied(),
                Some(c) => {
                    self.unoffered.range((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded)).next().copied()
                }
            };
            let Some(item) = next else { break };
            cursor = Some(item);
            let contact = item.1;
            let Some(w) = self.waiting.get(&contact) else { continue };
            let (queue, callback) = (w.queue, w.kind == Kind::Callback);
            let strategy = self.cfg.queues[queue.index()].config.strategy;
            let mut chosen: Vec<AgentId> = Vec::new();
            match strategy {
                Strategy::LongestIdle => {
                    if let Some(&(_, a)) = self.available.iter().find(|&&(_, a)| self.eligible(a, w)) {
                        chosen.push(a);
                    }
                }
                Strategy::Skills => {
                    let best = self
                        .available
                        .iter()
                        .filter(|&&(_, a)| self.eligible(a, w))
                        .max_by_key(|&&(idle, a)| (self.skill_level(a, w), Reverse(idle)));
                    if let Some(&(_, a)) = best {
                        chosen.push(a);
                    }
                }
                Strategy::RingAll => {
                    chosen.extend(self.available.iter().filter(|&&(_, a)| self.eligible(a, w)).map(|&(_, a)| a));
                }
            }
            if chosen.is_empty() {
                continue;
            }
            self.unoffered.remove(&item);
            let until = self.now + self.cfg.queues[queue.index()].config.offer_timeout;
            for &agent in &chosen {
                self.set_state(agent, State::Offered { contact, until });
                self.timers.push(Reverse((until, Timer::Offer(agent))));
                self.events.push_back(Event::Offer { contact, agent, callback });
            }
            if let Some(w) = self.waiting.get_mut(&contact) {
                w.offered_to = chosen;
            }
        }
        // set_state marks dirty for its own bookkeeping; this pass has matched all it can.
        self.dirty = false;
    }
}

fn status_of(state: State) -> AgentStatus {
    match state {
        State::LoggedOut => AgentStatus::LoggedOut,
        State::Available => AgentStatus::Available,
        State::Offered { contact, .. } => AgentStatus::Offered(contact),
        State::OnCall { contact, .. } => AgentStatus::OnCall(contact),
        State::WrapUp { .. } => AgentStatus::WrapUp,
        State::Paused(reason) => AgentStatus::Paused(reason),
    }
}
