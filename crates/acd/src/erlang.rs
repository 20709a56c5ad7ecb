//! Erlang C for M/M/c queues (Poisson arrivals, exponential handling, no abandonment).
//!
//! Offered load `A = λ·AHT` in Erlangs over `c` agents. Erlang B by its stable recursion
//! `B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))` (no factorials, no overflow at any size),
//! then `C = c·B / (c − A·(1 − B))`. From C: `SL(t) = 1 − C·e^{−(c−A)·t/AHT}`,
//! `ASA = C·AHT / (c − A)`. At `A ≥ c` the queue is unstable: everyone waits, forever
//! on average.

/// A staffing situation.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Load {
    /// Arrivals per hour.
    pub arrivals_per_hour: f64,
    /// Average handle time in seconds.
    pub aht_seconds: f64,
    /// Agents.
    pub agents: u32,
}

impl Load {
    /// Offered load in Erlangs.
    #[must_use]
    pub fn erlangs(&self) -> f64 {
        self.arrivals_per_hour / 3600.0 * self.aht_seconds
    }

    /// Whether the queue is stable (load below the number of agents).
    #[must_use]
    pub fn is_stable(&self) -> bool {
        self.erlangs() < f64::from(self.agents)
    }

    /// Probability that a caller must wait (Erlang C).
    #[must_use]
    pub fn p_wait(&self) -> f64 {
        erlang_c(self.agents, self.erlangs())
    }

    /// Share of callers answered within `target_seconds`.
    #[must_use]
    pub fn service_level(&self, target_seconds: f64) -> f64 {
        if !self.is_stable() {
            return 0.0;
        }
        let c = f64::from(self.agents);
        let a = self.erlangs();
        1.0 - self.p_wait() * (-(c - a) * target_seconds / self.aht_seconds).exp()
    }

    /// Average speed of answer in seconds (infinite when unstable).
    #[must_use]
    pub fn asa_seconds(&self) -> f64 {
        if !self.is_stable() {
            return f64::INFINITY;
        }
        self.p_wait() * self.aht_seconds / (f64::from(self.agents) - self.erlangs())
    }

    /// Share of agent time spent on calls.
    #[must_use]
    pub fn occupancy(&self) -> f64 {
        if self.agents == 0 { 1.0 } else { (self.erlangs() / f64::from(self.agents)).min(1.0) }
    }
}

/// Erlang B: blocking probability of `agents` servers under `erlangs` of load.
#[must_use]
pub fn erlang_b(agents: u32, erlangs: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=agents {
        b = erlangs * b / (f64::from(k) + erlangs * b);
    }
    b
}

/// Erlang C: probability of waiting; 1 when the queue is unstable.
#[must_use]
pub fn erlang_c(agents: u32, erlangs: f64) -> f64 {
    let c = f64::from(agents);
    if erlangs >= c {
        return 1.0;
    }
    let b = erlang_b(agents, erlangs);
    c * b / (c - erlangs * (1.0 - b))
}

/// The fewest agents that reach `service_level` within `target_seconds` (at least one
/// more than the load, so the queue is stable).
#[must_use]
pub fn agents_for(arrivals_per_hour: f64, aht_seconds: f64, target_seconds: f64, service_level: f64) -> u32 {
    let mut load = Load { arrivals_per_hour, aht_seconds, agents: 0 };
    if arrivals_per_hour <= 0.0 {
        return 0;
    }
    load.agents = load.erlangs().floor() as u32 + 1;
    while load.service_level(target_seconds) < service_level {
        load.agents += 1;
    }
    load.agents
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Erlang C by the textbook sum, for comparison at sizes where factorials fit.
    fn erlang_c_by_sum(c: u32, a: f64) -> f64 {
        let fact = |n: u32| (1..=n).map(f64::from).product::<f64>();
        let sum: f64 = (0..c).map(|k| a.powi(k as i32) / fact(k)).sum();
        let top = a.powi(c as i32) / fact(c) * f64::from(c) / (f64::from(c) - a);
        top / (sum + top)
    }

    #[test]
    fn recursion_agrees_with_the_textbook_sum() {
        for c in 1..=30 {
            for tenth in 1..(c * 10) {
                let a = f64::from(tenth) / 10.0;
                let (r, s) = (erlang_c(c, a), erlang_c_by_sum(c, a));
                assert!((r - s).abs() < 1e-9, "c={c} a={a}: {r} vs {s}");
            }
        }
    }

    #[test]
    fn one_agent_is_m_m_1() {
        // M/M/1: P(wait) = ρ, ASA = ρ·AHT/(1−ρ).
        let load = Load { arrivals_per_hour: 24.0, aht_seconds: 90.0, agents: 1 };
        let rho = 24.0 * 90.0 / 3600.0;
        assert!((load.p_wait() - rho).abs() < 1e-12);
        assert!((load.asa_seconds() - rho * 90.0 / (1.0 - rho)).abs() < 1e-9);
    }

    #[test]
    fn large_centres_do_not_overflow() {
        let load = Load { arrivals_per_hour: 36_000.0, aht_seconds: 180.0, agents: 1_850 };
        let p = load.p_wait();
        assert!(p.is_finite() && p > 0.0 && p < 1.0, "{p}");
    }

    #[test]
    fn unstable_load_waits_always() {
        let load = Load { arrivals_per_hour: 100.0, aht_seconds: 360.0, agents: 10 };
        assert_eq!(load.p_wait(), 1.0);
        assert_eq!(load.service_level(60.0), 0.0);
        assert!(load.asa_seconds().is_infinite());
    }

    #[test]
    fn staffing_is_the_smallest_count_meeting_the_target() {
        let n = agents_for(120.0, 300.0, 60.0, 0.8);
        let at = |agents| Load { arrivals_per_hour: 120.0, aht_seconds: 300.0, agents }.service_level(60.0);
        assert!(at(n) >= 0.8);
        assert!(at(n - 1) < 0.8);
        assert_eq!(agents_for(0.0, 300.0, 60.0, 0.8), 0);
    }
}
