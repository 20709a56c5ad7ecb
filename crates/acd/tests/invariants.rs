//! Invariants over random event sequences (issue 5, item 2): no agent is offered two calls
//! at once; within a priority, service follows arrival (callbacks by their original
//! arrival); every caller leaves exactly once by answered, abandoned, exited or called
//! back; every offer resolves by its timeout; the statistics add up.

use std::collections::HashMap;
use std::time::Duration;

use acd::{
    Acd, AcdConfig, AgentConfig, AgentId, AgentStatus, Arrival, ContactId, Event, ExitTarget, Input, PauseReason,
    Preferred, QueueConfig, QueueId, SkillNeed, Strategy as Selection, Time, Widening,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Action {
    Arrive { queue: usize, priority: u8, skill: Option<u8>, preferred: Option<usize> },
    Abandon(usize),
    Callback(usize),
    Login(usize),
    Logout(usize),
    Pause(usize),
    Resume(usize),
    Accept(usize),
    Decline(usize),
    Hangup(usize),
    Advance(u64),
}

fn action(general: bool) -> impl Strategy<Value = Action> {
    let arrive = (0..3usize, 0..3u8, prop::option::of(1..9u8), prop::option::of(0..6usize)).prop_map(
        move |(queue, priority, skill, preferred)| {
            if general {
                Action::Arrive { queue, priority, skill, preferred }
            } else {
                Action::Arrive { queue, priority, skill: None, preferred: None }
            }
        },
    );
    prop_oneof![
        4 => arrive,
        1 => (0..20usize).prop_map(Action::Abandon),
        1 => (0..20usize).prop_map(Action::Callback),
        1 => (0..6usize).prop_map(Action::Login),
        1 => (0..6usize).prop_map(Action::Logout),
        1 => (0..6usize).prop_map(Action::Pause),
        1 => (0..6usize).prop_map(Action::Resume),
        3 => (0..6usize).prop_map(Action::Accept),
        1 => (0..6usize).prop_map(Action::Decline),
        2 => (0..6usize).prop_map(Action::Hangup),
        3 => (0..90u64).prop_map(Action::Advance),
    ]
}

const OFFER_TIMEOUT: Duration = Duration::from_secs(20);

fn config(general: bool) -> AcdConfig {
    let names = ["bs", "omst", "byg"];
    let queues = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut q = QueueConfig::new(name);
            q.offer_timeout = OFFER_TIMEOUT;
            q.missed_offers_limit = 2;
            q.priority = 0;
            if general {
                q.strategy = [Selection::LongestIdle, Selection::RingAll, Selection::Skills][i];
                q.max_length = Some(4);
                q.max_wait = Some(Duration::from_secs(300));
                q.wrap_up = Duration::from_secs(10 * i as u64);
                q.announce_every = Some(Duration::from_secs(45));
                q.exit_full = ExitTarget::Queue(names[(i + 1) % 3].into());
                q.skill_widening = vec![
                    Widening { after: Duration::from_secs(30), min_level: 3 },
                    Widening { after: Duration::from_secs(120), min_level: 0 },
                ];
            }
            q
        })
        .collect();
    let agents = (0..6)
        .map(|i| AgentConfig {
            name: format!("a{i}"),
            queues: names.iter().enumerate().filter(|(q, _)| (i + q) % 3 != 0).map(|(_, n)| (*n).into()).collect(),
            skills: if general { vec![("s".into(), (i as u8 % 9) + 1)] } else { vec![] },
        })
        .collect();
    AcdConfig { queues, agents }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fate {
    Waiting,
    Left,
}

#[derive(Debug)]
struct Contact {
    queue: QueueId,
    priority: u8,
    seq: u64,
    callback: bool,
    fate: Fate,
    offers: usize,
}

/// What the test believes from the events alone.
struct Model {
    acd: Acd,
    now: Time,
    contacts: HashMap<ContactId, Contact>,
    order: Vec<ContactId>,
    offers: HashMap<AgentId, (ContactId, Time)>,
    on_call: HashMap<AgentId, ContactId>,
    next: u64,
    check_order: bool,
}

impl Model {
    fn new(general: bool) -> Self {
        Self {
            acd: Acd::new(&config(general)).expect("valid"),
            now: Time::ZERO,
            contacts: HashMap::new(),
            order: Vec::new(),
            offers: HashMap::new(),
            on_call: HashMap::new(),
            next: 1,
            check_order: !general,
        }
    }

    fn agent(&self, i: usize) -> AgentId {
        self.acd.agent_ids().nth(i % self.acd.agent_count()).expect("agent")
    }

    fn waiting(&self, k: usize) -> Option<ContactId> {
        let live: Vec<ContactId> = self
            .order
            .iter()
            .copied()
            .filter(|c| self.contacts[c].fate == Fate::Waiting && !self.contacts[c].callback)
            .collect();
        (!live.is_empty()).then(|| live[k % live.len()])
    }

    fn apply(&mut self, action: &Action) -> Result<(), TestCaseError> {
        let input = match *action {
            Action::Arrive { queue, priority, skill, preferred } => {
                let contact = ContactId(self.next);
                self.next += 1;
                let queue = self.acd.queue_ids().nth(queue).expect("queue");
                let mut arrival = Arrival::new(contact, queue);
                arrival.priority = Some(priority);
                arrival.skill = skill.map(|level| SkillNeed { skill: self.acd.skill_id("s").expect("skill"), level });
                arrival.preferred =
                    preferred.map(|i| Preferred { agent: self.agent(i), wait: Duration::from_secs(40) });
                self.contacts.insert(
                    contact,
                    Contact { queue, priority, seq: self.next, callback: false, fate: Fate::Waiting, offers: 0 },
                );
                self.order.push(contact);
                Input::Arrive(arrival)
            }
            Action::Abandon(k) => match self.waiting(k) {
                Some(c) => Input::Abandon(c),
                None => return Ok(()),
            },
            Action::Callback(k) => match self.waiting(k) {
                Some(c) => Input::RequestCallback(c),
                None => return Ok(()),
            },
            Action::Login(i) => Input::Login(self.agent(i)),
            Action::Logout(i) => Input::Logout(self.agent(i)),
            Action::Pause(i) => Input::Pause(self.agent(i), PauseReason::Break),
            Action::Resume(i) => Input::Resume(self.agent(i)),
            Action::Accept(i) | Action::Decline(i) => {
                let agent = self.agent(i);
                let Some(&(contact, _)) = self.offers.get(&agent) else { return Ok(()) };
                if matches!(action, Action::Accept(_)) {
                    Input::Accept(agent, contact)
                } else {
                    Input::Decline(agent, contact)
                }
            }
            Action::Hangup(i) => Input::Hangup(self.agent(i)),
            Action::Advance(secs) => {
                let target = self.now + Duration::from_secs(secs);
                while let Some(at) = self.acd.poll_timeout().filter(|&at| at <= target) {
                    self.now = at;
                    self.acd.handle_input(at, Input::Timeout).expect("timeouts are always accepted");
                    self.observe()?;
                }
                self.now = target;
                return self.check_state();
            }
        };
        let before: Vec<AgentStatus> = self.acd.agent_ids().map(|a| self.acd.agent_status(a)).collect();
        match self.acd.handle_input(self.now, input) {
            Ok(()) => {
                if let Input::RequestCallback(c) = input
                    && let Some(contact) = self.contacts.get_mut(&c)
                {
                    contact.callback = true;
                }
                self.observe()?;
            }
            Err(_) => {
                // A refused input changes nothing and says nothing.
                prop_assert!(self.acd.poll_event().is_none());
                let after: Vec<AgentStatus> = self.acd.agent_ids().map(|a| self.acd.agent_status(a)).collect();
                prop_assert_eq!(before, after);
                if let Input::Arrive(a) = input {
                    self.contacts.remove(&a.contact);
                    self.order.pop();
                }
            }
        }
        self.check_state()
    }

    fn leave(&mut self, contact: ContactId) -> Result<(), TestCaseError> {
        let c = self.contacts.get_mut(&contact).expect("known contact");
        prop_assert_eq!(c.fate, Fate::Waiting, "{:?} left twice", contact);
        c.fate = Fate::Left;
        Ok(())
    }

    fn observe(&mut self) -> Result<(), TestCaseError> {
        while let Some(event) = self.acd.poll_event() {
            match event {
                Event::Offer { contact, agent, callback } => {
                    prop_assert!(!self.offers.contains_key(&agent), "{:?} offered two calls at once", agent);
                    prop_assert!(!self.on_call.contains_key(&agent), "{:?} offered a call while on one", agent);
                    let c = &self.contacts[&contact];
                    prop_assert_eq!(c.fate, Fate::Waiting);
                    prop_assert_eq!(c.callback, callback);
                    if self.check_order {
                        self.check_served_in_order(contact, agent)?;
                    }
                    self.offers.insert(agent, (contact, self.now));
                    self.contacts.get_mut(&contact).expect("known").offers += 1;
                }
                Event::OfferWithdrawn { contact, agent, .. } => {
                    prop_assert_eq!(self.offers.remove(&agent).map(|o| o.0), Some(contact));
                    self.contacts.get_mut(&contact).expect("known").offers -= 1;
                }
                Event::Answered { contact, agent, .. } | Event::CalledBack { contact, agent, .. } => {
                    prop_assert_eq!(self.offers.remove(&agent).map(|o| o.0), Some(contact));
                    self.contacts.get_mut(&contact).expect("known").offers -= 1;
                    prop_assert_eq!(self.contacts[&contact].callback, matches!(event, Event::CalledBack { .. }));
                    self.on_call.insert(agent, contact);
                    self.leave(contact)?;
                }
                Event::Abandoned { contact, .. } | Event::Exited { contact, .. } => {
                    self.leave(contact)?;
                    prop_assert_eq!(self.contacts[&contact].offers, 0, "left while still ringing an agent");
                }
                Event::AgentState { agent, status } => {
                    if !matches!(status, AgentStatus::OnCall(_)) {
                        self.on_call.remove(&agent);
                    }
                }
                Event::Position { contact, position, .. } => {
                    prop_assert!(position >= 1);
                    prop_assert_eq!(self.contacts[&contact].fate, Fate::Waiting);
                }
                Event::CallbackRequested { .. } | Event::PreferredExpired { .. } => {}
            }
        }
        Ok(())
    }

    /// Nobody in the agent's queues who came earlier at the same or a higher priority is
    /// still waiting without an offer.
    fn check_served_in_order(&self, contact: ContactId, agent: AgentId) -> Result<(), TestCaseError> {
        let served = &self.contacts[&contact];
        let serves: Vec<QueueId> = self.acd.queue_ids().filter(|q| self.acd.members(*q).contains(&agent)).collect();
        prop_assert!(serves.contains(&served.queue));
        for (id, other) in &self.contacts {
            if *id == contact || other.fate != Fate::Waiting || other.offers > 0 || !serves.contains(&other.queue) {
                continue;
            }
            let ahead =
                other.priority > served.priority || (other.priority == served.priority && other.seq < served.seq);
            prop_assert!(!ahead, "{:?} offered to {:?} ahead of {:?}", contact, agent, id);
        }
        Ok(())
    }

    fn check_state(&self) -> Result<(), TestCaseError> {
        for (agent, (_, since)) in &self.offers {
            prop_assert!(self.now.since(*since) < OFFER_TIMEOUT, "{:?} reserved past its timeout", agent);
            prop_assert!(matches!(self.acd.agent_status(*agent), AgentStatus::Offered(_)));
        }
        for q in self.acd.queue_ids() {
            let stats = self.acd.stats(q);
            prop_assert!(stats.adds_up(), "{:?}", stats);
        }
        let waiting = self.contacts.values().filter(|c| c.fate == Fate::Waiting).count();
        prop_assert_eq!(waiting, self.acd.waiting_count());
        Ok(())
    }

    /// Bring everyone back to work and answer everything: every caller must leave.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        for round in 0..500 {
            for agent in self.acd.agent_ids().collect::<Vec<_>>() {
                let input = match self.acd.agent_status(agent) {
                    AgentStatus::LoggedOut => Input::Login(agent),
                    AgentStatus::Paused(_) => Input::Resume(agent),
                    AgentStatus::OnCall(_) => Input::Hangup(agent),
                    AgentStatus::Offered(contact) => Input::Accept(agent, contact),
                    AgentStatus::Available | AgentStatus::WrapUp => continue,
                };
                self.acd.handle_input(self.now, input).expect("drain input fits the state");
                self.observe()?;
            }
            if self.acd.waiting_count() == 0 && round > 0 {
                break;
            }
            self.apply(&Action::Advance(15))?;
        }
        prop_assert_eq!(self.acd.waiting_count(), 0, "callers stuck in the queue");
        for (id, c) in &self.contacts {
            prop_assert_eq!(c.fate, Fate::Left, "{:?} never left", id);
        }
        Ok(())
    }
}

fn run(actions: &[Action], general: bool) -> Result<(), TestCaseError> {
    let mut model = Model::new(general);
    for action in actions {
        model.apply(action)?;
    }
    model.drain()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn plain_queues_serve_in_arrival_order_and_lose_nobody(actions in prop::collection::vec(action(false), 1..250)) {
        run(&actions, false)?;
    }

    #[test]
    fn skills_ring_all_preferred_and_exits_keep_every_invariant(actions in prop::collection::vec(action(true), 1..250)) {
        run(&actions, true)?;
    }
}
