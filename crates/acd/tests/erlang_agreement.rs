//! Configured as M/M/c, the simulator (which drives the real engine) must reproduce
//! Erlang C within sampling error. The error is measured, not assumed: batch means over
//! the simulated calls (see `acd::sim::erlang_check`), never below the error of
//! independent samples of the same size. A difference beyond four standard errors fails.

use acd::sim::erlang_check::{ErlangReport, ErlangRun, Measured};

const Z: f64 = 4.0;

fn within(name: &str, measured: Measured, predicted: f64, iid_error: f64, problems: &mut Vec<String>) {
    let error = measured.std_error.max(iid_error);
    let diff = (measured.value - predicted).abs();
    if diff > Z * error {
        problems.push(format!(
            "{name}: simulated {:.4} vs Erlang C {predicted:.4} (|diff| {diff:.4} > {Z}×{error:.4})",
            measured.value
        ));
    }
}

fn check(run: ErlangRun) -> (ErlangReport, Vec<String>) {
    let report = run.simulate();
    let n = report.measured as f64;
    let p = report.predicted;
    let mut problems = Vec::new();
    assert_eq!(report.answered, run.calls, "everyone is answered when nobody gives up");
    within("p_wait", report.p_wait, p.p_wait, (p.p_wait * (1.0 - p.p_wait) / n).sqrt(), &mut problems);
    let sl = p.service_level;
    within("service_level", report.service_level, sl, (sl * (1.0 - sl) / n).sqrt(), &mut problems);
    within("asa", report.asa_seconds, p.asa_seconds, 0.0, &mut problems);
    // Busy time is a sum of exponential handle times over a Poisson number of calls: its
    // relative error is about sqrt(2/n).
    let occupancy_error = p.occupancy * (2.0 / n).sqrt();
    if (report.occupancy - p.occupancy).abs() > Z * occupancy_error {
        problems.push(format!("occupancy: simulated {:.4} vs {:.4}", report.occupancy, p.occupancy));
    }
    (report, problems)
}

#[test]
fn simulator_agrees_with_erlang_c_on_twelve_loads() {
    // (arrivals per hour, AHT seconds, agents, target seconds, calls)
    let loads: [(f64, f64, u32, f64, u64); 12] = [
        (20.0, 180.0, 5, 20.0, 100_000),    // light: ρ = 0.20
        (20.0, 600.0, 5, 60.0, 150_000),    // ρ = 0.67
        (60.0, 180.0, 4, 20.0, 150_000),    // ρ = 0.75
        (200.0, 120.0, 9, 30.0, 150_000),   // ρ = 0.74
        (10.0, 300.0, 1, 60.0, 200_000),    // M/M/1, ρ = 0.83
        (30.0, 300.0, 3, 60.0, 200_000),    // ρ = 0.83
        (100.0, 240.0, 8, 30.0, 200_000),   // ρ = 0.83
        (50.0, 240.0, 4, 60.0, 200_000),    // ρ = 0.83
        (400.0, 180.0, 22, 30.0, 200_000),  // heavily loaded centre: ρ = 0.91
        (1000.0, 180.0, 55, 20.0, 200_000), // large centre: ρ = 0.91
        (500.0, 300.0, 45, 60.0, 300_000),  // ρ = 0.93
        (114.0, 300.0, 10, 60.0, 600_000),  // near-unstable: ρ = 0.95
    ];
    let mut failures = Vec::new();
    for (i, &(arrivals_per_hour, aht_seconds, agents, target_seconds, calls)) in loads.iter().enumerate() {
        let run = ErlangRun { arrivals_per_hour, aht_seconds, agents, target_seconds, calls, seed: 1000 + i as u64 };
        let (report, problems) = check(run);
        println!(
            "λ={arrivals_per_hour}/h aht={aht_seconds}s c={agents}: p_wait {:.4}±{:.4} (C {:.4}), SL {:.4} (C {:.4}), ASA {:.2}±{:.2}s (C {:.2}), occ {:.4} (C {:.4})",
            report.p_wait.value,
            report.p_wait.std_error,
            report.predicted.p_wait,
            report.service_level.value,
            report.predicted.service_level,
            report.asa_seconds.value,
            report.asa_seconds.std_error,
            report.predicted.asa_seconds,
            report.occupancy,
            report.predicted.occupancy
        );
        failures.extend(problems.into_iter().map(|p| format!("load {arrivals_per_hour}/h c={agents}: {p}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_wrong_formula_would_be_caught() {
    // The same comparison rejects Erlang C for one agent fewer: the test can fail.
    let run = ErlangRun {
        arrivals_per_hour: 100.0,
        aht_seconds: 240.0,
        agents: 8,
        target_seconds: 30.0,
        calls: 100_000,
        seed: 7,
    };
    let report = run.simulate();
    let wrong = ErlangRun { agents: 9, ..run }.load();
    let mut problems = Vec::new();
    within("p_wait", report.p_wait, wrong.p_wait(), 0.0, &mut problems);
    within("asa", report.asa_seconds, wrong.asa_seconds(), 0.0, &mut problems);
    assert_eq!(problems.len(), 2, "{problems:?}");
}
