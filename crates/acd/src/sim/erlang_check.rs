//! The simulator configured as M/M/c, measured against Erlang C.
//!
//! Waits in a queue are correlated from one caller to the next, so the standard error
//! of a measured share or mean is estimated by batch means: the measured calls (after a
//! warm-up tenth) are cut into [`BATCHES`] consecutive batches and the spread of the
//! batch results gives the error. A comparison passes within a multiple of that error.

use std::time::Duration;

use super::{HandleTime, Outcome, Rate, Scenario, Shift, Traffic, run};
use crate::config::{AcdConfig, AgentConfig, QueueConfig};
use crate::erlang::Load;

/// Batches for the batch-means error estimate.
pub const BATCHES: usize = 20;

/// What `svar simulate erlang` is asked.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct ErlangRun {
    /// Arrivals per hour.
    pub arrivals_per_hour: f64,
    /// Mean handle time in seconds (exponential).
    pub aht_seconds: f64,
    /// Agents.
    pub agents: u32,
    /// Service-level threshold in seconds.
    pub target_seconds: f64,
    /// Calls to simulate.
    pub calls: u64,
    /// Seed.
    pub seed: u64,
}

/// A measured value with its batch-means standard error.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Measured {
    /// The estimate over all measured calls.
    pub value: f64,
    /// Its standard error.
    pub std_error: f64,
}

/// Simulated and predicted figures.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct ErlangReport {
    /// Calls answered (all of them: nobody abandons in M/M/c).
    pub answered: u64,
    /// Calls measured (after the warm-up).
    pub measured: u64,
    /// Share of measured calls that waited at all.
    pub p_wait: Measured,
    /// Share answered within the target.
    pub service_level: Measured,
    /// Average wait of answered calls, seconds.
    pub asa_seconds: Measured,
    /// Agent time in conversation over the measured stretch.
    pub occupancy: f64,
    /// Erlang C's prediction.
    pub predicted: Predicted,
}

/// Erlang C's figures for the same load.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Predicted {
    /// P(wait).
    pub p_wait: f64,
    /// Service level within the target.
    pub service_level: f64,
    /// ASA in seconds.
    pub asa_seconds: f64,
    /// Occupancy.
    pub occupancy: f64,
}

impl ErlangRun {
    /// The load as Erlang C sees it.
    #[must_use]
    pub fn load(&self) -> Load {
        Load { arrivals_per_hour: self.arrivals_per_hour, aht_seconds: self.aht_seconds, agents: self.agents }
    }

    /// An M/M/c scenario: one queue, agents logged in throughout, instant answer, no
    /// wrap-up, no patience, no limits.
    #[must_use]
    pub fn scenario(&self) -> Scenario {
        let mut queue = QueueConfig::new("q");
        queue.offer_timeout = Duration::from_secs(3600);
        queue.service_level_target = Duration::from_secs_f64(self.target_seconds);
        let agents: Vec<AgentConfig> = (0..self.agents)
            .map(|i| AgentConfig { name: format!("agent{i}"), queues: vec!["q".into()], skills: vec![] })
            .collect();
        let shifts = agents.iter().map(|a| Shift { agent: a.name.clone(), from: 0.0, to: f64::INFINITY }).collect();
        Scenario {
            acd: AcdConfig { queues: vec![queue], agents },
            traffic: vec![Traffic {
                queue: "q".into(),
                profile: vec![Rate { from: 0.0, to: f64::INFINITY, per_hour: self.arrivals_per_hour }],
                handle_time: HandleTime::Exponential { mean: self.aht_seconds },
                patience: None,
                callback_share: 0.0,
            }],
            shifts,
            ring_seconds: 0.0,
            max_calls: Some(self.calls),
            switchboard: None,
            sample_every: None,
            seed: self.seed,
        }
    }

    /// Simulate and compare.
    ///
    /// # Panics
    /// Never for a valid run: the scenario it builds is valid by construction.
    #[must_use]
    pub fn simulate(&self) -> ErlangReport {
        #[allow(clippy::expect_used)]
        let mut result = run(&self.scenario()).expect("the M/M/c scenario is valid");
        // Order by arrival: the visits list is in order of answer.
        result.visits.sort_by(|a, b| a.arrived.total_cmp(&b.arrived));
        let answered: Vec<(f64, f64, f64)> = result
            .visits
            .iter()
            .filter(|v| v.outcome == Outcome::Answered)
            .map(|v| (v.arrived, v.waited, v.handle))
            .collect();
        let warmup = answered.len() / 10;
        let measured = &answered[warmup..];
        let (start, end) = (measured.first().map_or(0.0, |m| m.0), measured.last().map_or(0.0, |m| m.0));
        // Conversation time inside the measured stretch (arrival of the first measured
        // call to arrival of the last), over the agent time of that stretch.
        let busy: f64 = answered
            .iter()
            .map(|&(arrived, waited, handle)| {
                let (from, to) = (arrived + waited, arrived + waited + handle);
                (to.min(end) - from.max(start)).max(0.0)
            })
            .sum();
        let occupancy = if end > start { busy / (f64::from(self.agents) * (end - start)) } else { 0.0 };
        let target = self.target_seconds;
        let load = self.load();
        ErlangReport {
            answered: answered.len() as u64,
            measured: measured.len() as u64,
            p_wait: batch_means(measured, |w| f64::from(u8::from(w > 0.0))),
            service_level: batch_means(measured, |w| f64::from(u8::from(w <= target))),
            asa_seconds: batch_means(measured, |w| w),
            occupancy,
            predicted: Predicted {
                p_wait: load.p_wait(),
                service_level: load.service_level(target),
                asa_seconds: load.asa_seconds(),
                occupancy: load.occupancy(),
            },
        }
    }
}

/// Mean of `f(wait)` over the calls, with the batch-means standard error.
fn batch_means(calls: &[(f64, f64, f64)], f: impl Fn(f64) -> f64) -> Measured {
    let n = calls.len();
    if n == 0 {
        return Measured { value: 0.0, std_error: 0.0 };
    }
    let value = calls.iter().map(|c| f(c.1)).sum::<f64>() / n as f64;
    let size = n / BATCHES;
    if size == 0 {
        return Measured { value, std_error: f64::INFINITY };
    }
    let means: Vec<f64> = (0..BATCHES)
        .map(|b| calls[b * size..(b + 1) * size].iter().map(|c| f(c.1)).sum::<f64>() / size as f64)
        .collect();
    let mean = means.iter().sum::<f64>() / BATCHES as f64;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (BATCHES - 1) as f64;
    Measured { value, std_error: (var / BATCHES as f64).sqrt() }
}
