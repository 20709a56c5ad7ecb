//! A small rig around the engine for scenario tests: seconds as time, events collected.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use acd::{Acd, AcdConfig, AgentConfig, AgentId, ContactId, Event, Input, QueueConfig, QueueId, Time};

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn agent(name: &str, queues: &[&str]) -> AgentConfig {
    AgentConfig { name: name.into(), queues: queues.iter().map(|q| (*q).into()).collect(), skills: vec![] }
}

pub struct Rig {
    pub acd: Acd,
    pub now: Time,
    pub events: Vec<Event>,
}

impl Rig {
    pub fn new(queues: Vec<QueueConfig>, agents: Vec<AgentConfig>) -> Self {
        let acd = Acd::new(&AcdConfig { queues, agents }).expect("valid configuration");
        Self { acd, now: Time::ZERO, events: Vec::new() }
    }

    pub fn q(&self, name: &str) -> QueueId {
        self.acd.queue_id(name).expect("queue")
    }

    pub fn a(&self, name: &str) -> AgentId {
        self.acd.agent_id(name).expect("agent")
    }

    /// Apply an input at the current time and collect its events.
    pub fn input(&mut self, input: Input) {
        self.acd.handle_input(self.now, input).expect("input accepted");
        self.drain();
    }

    pub fn drain(&mut self) {
        while let Some(e) = self.acd.poll_event() {
            self.events.push(e);
        }
    }

    /// Move the clock to `t` seconds, firing every timer due on the way, in order.
    pub fn advance_to(&mut self, t: u64) {
        let target = Time::from_micros(t * 1_000_000);
        while let Some(at) = self.acd.poll_timeout() {
            if at > target {
                break;
            }
            self.now = at;
            self.input(Input::Timeout);
        }
        self.now = target;
    }

    pub fn login_all(&mut self) {
        for a in self.acd.agent_ids().collect::<Vec<_>>() {
            self.input(Input::Login(a));
        }
    }

    /// Events since the last call.
    pub fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The offers among `events`: (contact, agent).
    pub fn offers(events: &[Event]) -> Vec<(ContactId, AgentId)> {
        events
            .iter()
            .filter_map(|e| match *e {
                Event::Offer { contact, agent, .. } => Some((contact, agent)),
                _ => None,
            })
            .collect()
    }
}
