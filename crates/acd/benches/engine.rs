//! Engine inputs per second on one core, in two closed loops where every call is an
//! arrival, an accept and a hang-up (plus timer runs for announcements):
//! - `answered_at_once`: 100 agents, 60 conversations at a time, no queue;
//! - `with_200_waiting`: 20 agents all busy and 200 callers waiting with position
//!   announcements; each hang-up lets the head of the line in.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use acd::{Acd, AcdConfig, AgentConfig, AgentId, Arrival, ContactId, Event, Input, QueueConfig, Time};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const CALLS: u64 = 10_000;

struct Loop {
    acd: Acd,
    on_call: VecDeque<AgentId>,
    offers: Vec<(AgentId, ContactId)>,
    next: u64,
    now: Time,
}

impl Loop {
    fn new(agents: usize, waiting: u64) -> Self {
        let mut q = QueueConfig::new("bs");
        q.announce_every = Some(Duration::from_secs(60));
        let agents = (0..agents)
            .map(|i| AgentConfig { name: format!("a{i}"), queues: vec!["bs".into()], skills: vec![] })
            .collect();
        let mut acd = Acd::new(&AcdConfig { queues: vec![q], agents }).expect("valid");
        for a in acd.agent_ids().collect::<Vec<_>>() {
            acd.handle_input(Time::ZERO, Input::Login(a)).expect("login");
        }
        let mut l = Self { acd, on_call: VecDeque::new(), offers: Vec::new(), next: 0, now: Time::ZERO };
        let queue = l.acd.queue_id("bs").expect("queue");
        for _ in 0..waiting {
            l.next += 1;
            l.acd.handle_input(Time::ZERO, Input::Arrive(Arrival::new(ContactId(l.next), queue))).expect("arrive");
            l.answer_offers();
        }
        l
    }

    fn answer_offers(&mut self) -> u64 {
        while let Some(e) = self.acd.poll_event() {
            if let Event::Offer { contact, agent, .. } = e {
                self.offers.push((agent, contact));
            }
        }
        let mut inputs = 0;
        for (agent, contact) in std::mem::take(&mut self.offers) {
            self.acd.handle_input(self.now, Input::Accept(agent, contact)).expect("accept");
            self.on_call.push_back(agent);
            inputs += 1;
        }
        while self.acd.poll_event().is_some() {}
        inputs
    }

    /// `CALLS` calls; returns the inputs handled.
    fn run(&mut self, max_on_call: usize) -> u64 {
        let queue = self.acd.queue_id("bs").expect("queue");
        let mut inputs = 0;
        for _ in 0..CALLS {
            self.now = self.now + Duration::from_millis(500);
            self.next += 1;
            self.acd.handle_input(self.now, Input::Arrive(Arrival::new(ContactId(self.next), queue))).expect("arrive");
            inputs += 1;
            while self.acd.poll_timeout().is_some_and(|t| t <= self.now) {
                self.acd.handle_input(self.now, Input::Timeout).expect("timeout");
                inputs += 1;
            }
            inputs += self.answer_offers();
            // One conversation ends per arrival: the line stays as long as it is.
            if self.on_call.len() >= max_on_call {
                let agent = self.on_call.pop_front().expect("someone on a call");
                self.acd.handle_input(self.now, Input::Hangup(agent)).expect("hangup");
                inputs += 1;
                inputs += self.answer_offers();
            }
        }
        black_box(inputs)
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("acd");
    for (name, agents, waiting, max_on_call) in [("answered_at_once", 100, 0, 60), ("with_200_waiting", 20, 220, 20)] {
        let mut probe = Loop::new(agents, waiting);
        let inputs = probe.run(max_on_call);
        assert_eq!(probe.acd.waiting_count() as u64, waiting.saturating_sub(agents as u64), "the line held steady");
        group.throughput(Throughput::Elements(inputs));
        group.bench_function(name, |b| {
            b.iter_batched(|| Loop::new(agents, waiting), |mut l| l.run(max_on_call), BatchSize::LargeInput);
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
