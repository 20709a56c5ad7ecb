//! The measurements of DOMAIN.md §5 from a run's visits, per queue and per hour.
//!
//! - Service level (X s) = answered within X ÷ (answered + abandoned after the
//!   short-abandon threshold); short abandons are reported separately.
//! - ASA = queue wait of answered calls ÷ answered calls.
//! - Abandonment rate = abandoned ÷ offered (a callback request is not an abandon).
//! - Occupancy = conversation time ÷ logged-in time.

use super::{Outcome, Run, Visit};
use crate::config::QueueId;

/// Figures for one queue over one stretch of time.
#[derive(Clone, Copy, PartialEq, Debug, Default)]
pub struct Kpi {
    /// Visits that entered in the stretch.
    pub offered: u64,
    /// Answered by an agent.
    pub answered: u64,
    /// Answered within the target.
    pub answered_within_target: u64,
    /// Abandoned (short ones included).
    pub abandoned: u64,
    /// Abandoned sooner than the short-abandon threshold.
    pub short_abandoned: u64,
    /// Left to an exit target.
    pub exited: u64,
    /// Asked for a callback.
    pub callbacks_requested: u64,
    /// Callbacks taken by an agent.
    pub called_back: u64,
    /// Callbacks still open when the line closed.
    pub callbacks_open: u64,
    /// Total wait of answered calls, seconds.
    pub answered_wait: f64,
    /// Longest wait of an answered call, seconds.
    pub longest_wait: f64,
}

impl Kpi {
    /// Count one visit.
    pub fn add(&mut self, v: &Visit, target_seconds: f64) {
        self.offered += 1;
        self.callbacks_requested += u64::from(v.callback_requested);
        match v.outcome {
            Outcome::Answered => {
                self.answered += 1;
                self.answered_within_target += u64::from(v.waited <= target_seconds);
                self.answered_wait += v.waited;
                self.longest_wait = self.longest_wait.max(v.waited);
            }
            Outcome::Abandoned { short } => {
                self.abandoned += 1;
                self.short_abandoned += u64::from(short);
            }
            Outcome::Exited(..) => self.exited += 1,
            Outcome::CalledBack => self.called_back += 1,
            Outcome::CallbackOpen => self.callbacks_open += 1,
        }
    }

    /// Service level; `None` when nobody was answered or abandoned.
    #[must_use]
    pub fn service_level(&self) -> Option<f64> {
        let base = self.answered + self.abandoned - self.short_abandoned;
        (base > 0).then(|| self.answered_within_target as f64 / base as f64)
    }

    /// Average speed of answer in seconds; `None` without answered calls.
    #[must_use]
    pub fn asa(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.answered_wait / self.answered as f64)
    }

    /// Abandoned ÷ offered; `None` without calls.
    #[must_use]
    pub fn abandonment_rate(&self) -> Option<f64> {
        (self.offered > 0).then(|| self.abandoned as f64 / self.offered as f64)
    }
}

/// KPIs of one queue: the whole run and each hour (by the hour callers entered).
#[derive(Clone, PartialEq, Debug)]
pub struct QueueKpis {
    /// The queue.
    pub queue: QueueId,
    /// Over the whole run.
    pub total: Kpi,
    /// Hour index (from the start of the run) and its figures.
    pub hours: Vec<(usize, Kpi)>,
}

/// Per-queue KPIs; `target_seconds[q]` is each queue's service-level threshold.
#[must_use]
pub fn per_queue(run: &Run, target_seconds: &[f64]) -> Vec<QueueKpis> {
    let hours = (run.end / 3600.0).ceil() as usize + 1;
    let mut out: Vec<(Kpi, Vec<Kpi>)> = vec![(Kpi::default(), vec![Kpi::default(); hours]); run.queue_names.len()];
    for v in &run.visits {
        let q = v.queue.index();
        let target = target_seconds.get(q).copied().unwrap_or(60.0);
        out[q].0.add(v, target);
        let hour = ((v.arrived / 3600.0) as usize).min(hours - 1);
        out[q].1[hour].add(v, target);
    }
    out.into_iter()
        .enumerate()
        .map(|(i, (total, hours))| QueueKpis {
            queue: QueueId(i as u16),
            total,
            hours: hours.into_iter().enumerate().filter(|(_, k)| k.offered > 0).collect(),
        })
        .collect()
}

/// Conversation time over logged-in time, all agents together.
#[must_use]
pub fn occupancy(run: &Run) -> Option<f64> {
    let (staffed, busy) = run.agent_seconds.iter().fold((0.0, 0.0), |acc, s| (acc.0 + s.0, acc.1 + s.1));
    (staffed > 0.0).then(|| busy / staffed)
}
