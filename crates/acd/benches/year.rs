//! Wall time to simulate a year of a municipality's queues: 250 working days of 2,000
//! calls each (a switchboard and Citizen Service, the demo's shape scaled up), each day
//! with its own seed. Prints the time, calls and engine inputs per second.

use std::time::{Duration, Instant};

use acd::sim::{HandleTime, Rate, Scenario, Shift, Traffic, run};
use acd::{AcdConfig, AgentConfig, ExitTarget, QueueConfig, Strategy};

fn day(seed: u64) -> Scenario {
    let mut switchboard = QueueConfig::new("omstillingen");
    switchboard.strategy = Strategy::RingAll;
    switchboard.service_level_target = Duration::from_secs(30);
    switchboard.max_wait = Some(Duration::from_secs(300));
    switchboard.exit_max_wait = ExitTarget::Message;
    switchboard.announce_every = Some(Duration::from_secs(45));
    let mut citizen = QueueConfig::new("borgerservice");
    citizen.max_wait = Some(Duration::from_secs(600));
    citizen.exit_max_wait = ExitTarget::Queue("omstillingen".into());
    citizen.wrap_up = Duration::from_secs(30);
    citizen.announce_every = Some(Duration::from_secs(60));
    // 8:00-16:00; 1,000 calls a day each.
    let hourly = [100.0, 150.0, 160.0, 140.0, 120.0, 130.0, 110.0, 90.0];
    let profile: Vec<Rate> = hourly
        .iter()
        .enumerate()
        .map(|(h, &n)| Rate { from: (8 + h) as f64 * 3600.0, to: (9 + h) as f64 * 3600.0, per_hour: n })
        .collect();
    let mut agents = Vec::new();
    let mut shifts = Vec::new();
    for (queue, n) in [("omstillingen", 6), ("borgerservice", 16)] {
        for k in 0..n {
            let name = format!("{queue}-{k}");
            agents.push(AgentConfig { name: name.clone(), queues: vec![queue.into()], skills: vec![] });
            shifts.push(Shift { agent: name, from: 8.0 * 3600.0, to: 16.0 * 3600.0 });
        }
    }
    Scenario {
        acd: AcdConfig { queues: vec![switchboard, citizen], agents },
        traffic: vec![
            Traffic {
                queue: "omstillingen".into(),
                profile: profile.clone(),
                handle_time: HandleTime::LogNormal { mean: 75.0, sd: 50.0 },
                patience: Some(120.0),
                callback_share: 0.3,
            },
            Traffic {
                queue: "borgerservice".into(),
                profile,
                handle_time: HandleTime::LogNormal { mean: 300.0, sd: 200.0 },
                patience: Some(240.0),
                callback_share: 0.4,
            },
        ],
        shifts,
        ring_seconds: 3.0,
        max_calls: None,
        switchboard: Some("omstillingen".into()),
        sample_every: Some(60.0),
        seed,
    }
}

fn main() {
    let started = Instant::now();
    let (mut calls, mut inputs, mut answered) = (0u64, 0u64, 0u64);
    for d in 0..250 {
        let result = run(&day(d)).expect("valid scenario");
        inputs += result.engine_inputs;
        calls += result.visits.iter().map(|v| v.contact).collect::<std::collections::HashSet<_>>().len() as u64;
        answered += result.visits.iter().filter(|v| v.outcome == acd::sim::Outcome::Answered).count() as u64;
    }
    let wall = started.elapsed();
    println!(
        "year: 250 days, {calls} calls ({answered} answered visits), {inputs} engine inputs in {:.2} s ({:.0} inputs/s including the simulator)",
        wall.as_secs_f64(),
        inputs as f64 / wall.as_secs_f64()
    );
}
