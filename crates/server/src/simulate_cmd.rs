//! `svar simulate erlang|day` and `svar staffing`: the queue simulator for planners.

use std::fmt::Write as _;
use std::path::Path;

use acd::erlang::{Load, agents_for};
use acd::sim::erlang_check::ErlangRun;
use acd::sim::kpi::{self, Kpi};
use acd::sim::{Scenario, run};
use acd::{AcdConfig, QueueConfig};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::chart;
use crate::config::Config;

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn opt(x: Option<f64>, digits: i32) -> Value {
    x.map_or(Value::Null, |v| json!(round(v, digits)))
}

/// `svar simulate erlang`: one JSON object, simulated beside Erlang C.
pub(crate) fn erlang(run: ErlangRun) -> Result<String> {
    if [run.arrivals_per_hour, run.aht_seconds].iter().any(|v| v.is_nan() || *v <= 0.0)
        || run.target_seconds.is_nan()
        || run.target_seconds < 0.0
    {
        bail!("--arrivals-per-hour and --aht-seconds must be above 0, --target-seconds 0 or more");
    }
    if run.agents == 0 || run.calls == 0 {
        bail!("--agents and --calls must be at least 1");
    }
    if !run.load().is_stable() {
        bail!(
            "{:.2} Erlangs of load on {} agents never settles: every caller waits longer and longer; use more than {} agents",
            run.load().erlangs(),
            run.agents,
            run.load().erlangs().floor()
        );
    }
    let r = run.simulate();
    let out = json!({
        "arrivals_per_hour": run.arrivals_per_hour,
        "aht_seconds": run.aht_seconds,
        "agents": run.agents,
        "target_seconds": run.target_seconds,
        "calls": run.calls,
        "seed": run.seed,
        "answered": r.answered,
        "measured": r.measured,
        "p_wait": round(r.p_wait.value, 4),
        "service_level": round(r.service_level.value, 4),
        "asa_seconds": round(r.asa_seconds.value, 2),
        "occupancy": round(r.occupancy, 4),
        "std_error": {
            "p_wait": round(r.p_wait.std_error, 4),
            "service_level": round(r.service_level.std_error, 4),
            "asa_seconds": round(r.asa_seconds.std_error, 2),
        },
        "erlang_c": {
            "p_wait": round(r.predicted.p_wait, 4),
            "service_level": round(r.predicted.service_level, 4),
            "asa_seconds": round(r.predicted.asa_seconds, 2),
            "occupancy": round(r.predicted.occupancy, 4),
        },
    });
    Ok(format!("{out}\n"))
}

fn kpi_json(k: &Kpi) -> Value {
    json!({
        "offered": k.offered,
        "answered": k.answered,
        "abandoned": k.abandoned,
        "short_abandoned": k.short_abandoned,
        "exited": k.exited,
        "callbacks_requested": k.callbacks_requested,
        "called_back": k.called_back,
        "callbacks_open": k.callbacks_open,
        "service_level": opt(k.service_level(), 4),
        "asa_seconds": opt(k.asa(), 1),
        "abandonment_rate": opt(k.abandonment_rate(), 4),
        "longest_wait_seconds": round(k.longest_wait, 1),
    })
}

/// The configured municipality's day as a simulation scenario: the forecast queues with
/// planned agents in place of the real employees.
fn day_scenario(config: &Config, seed: u64) -> Result<Scenario> {
    let plan = &config.queues;
    if plan.forecasts.is_empty() {
        bail!("no queue has a [queues.forecast]; nothing to simulate");
    }
    let mut acd = AcdConfig { queues: plan.acd.queues.clone(), agents: Vec::new() };
    let mut shifts = Vec::new();
    let mut traffic = Vec::new();
    for f in &plan.forecasts {
        let (agents, s) = f.staff();
        acd.agents.extend(agents);
        shifts.extend(s);
        traffic.push(f.traffic());
    }
    Ok(Scenario {
        acd,
        traffic,
        shifts,
        ring_seconds: 3.0,
        max_calls: None,
        switchboard: plan.switchboard_queue.clone(),
        sample_every: Some(60.0),
        seed,
    })
}

/// `svar simulate day`: writes the JSON to `out` and the chart next to it; returns a
/// short summary for the terminal.
pub(crate) fn day(config: &Config, seed: u64, out: &Path) -> Result<String> {
    let scenario = day_scenario(config, seed)?;
    let result = run(&scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    let queues: &[QueueConfig] = &scenario.acd.queues;
    let targets: Vec<f64> = queues.iter().map(|q| q.service_level_target.as_secs_f64()).collect();
    let kpis = kpi::per_queue(&result, &targets);
    let svg_path = out.with_extension("svg");
    let mut panels = Vec::new();
    let mut queue_json = Vec::new();
    let mut summary = String::new();
    for qk in &kpis {
        let q = qk.queue.index();
        let forecast = config.queues.forecasts.iter().find(|f| f.queue == queues[q].name);
        if qk.total.offered == 0 && forecast.is_none() {
            continue;
        }
        let goal = config.queues.service_levels[q];
        let series: Vec<(f64, u64)> = result.samples.iter().map(|s| (s.at, s.waiting[q])).collect();
        let hours: Vec<Value> = qk
            .hours
            .iter()
            .map(|(h, k)| {
                let (from, to) = (*h as f64 * 3600.0, (*h + 1) as f64 * 3600.0);
                let longest_line = series.iter().filter(|s| s.0 >= from && s.0 < to).map(|s| s.1).max().unwrap_or(0);
                let agents = forecast.and_then(|f| {
                    h.checked_sub(usize::from(f.first_hour)).and_then(|i| f.agents_per_hour.get(i).copied())
                });
                let mut v = kpi_json(k);
                v["hour"] = json!(format!("{h:02}:00"));
                v["agents"] = json!(agents);
                v["max_queue_length"] = json!(longest_line);
                v
            })
            .collect();
        let _ = writeln!(
            summary,
            "{}: {} calls, service level {} (goal {:.0} % within {} s), ASA {}, abandoned {}, callbacks {}",
            queues[q].name,
            qk.total.offered,
            qk.total.service_level().map_or("-".into(), |s| format!("{:.1} %", s * 100.0)),
            goal * 100.0,
            targets[q],
            qk.total.asa().map_or("-".into(), |s| format!("{s:.0} s")),
            qk.total.abandoned,
            qk.total.callbacks_requested,
        );
        panels.push(chart::Panel {
            title: config.queues.names[q].clone(),
            target_seconds: targets[q],
            goal,
            service_level: qk.hours.iter().map(|(h, k)| (*h, k.service_level())).collect(),
            waiting: series,
        });
        let total = kpi_json(&qk.total);
        queue_json.push(json!({
            "id": queues[q].name,
            "name": config.queues.names[q],
            "target_seconds": targets[q],
            "service_level_goal": goal,
            "total": total,
            "hours": hours,
        }));
    }
    let report = json!({
        "municipality": config.municipality,
        "seed": seed,
        "occupancy": opt(kpi::occupancy(&result), 4),
        "engine_inputs": result.engine_inputs,
        "chart": svg_path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "queues": queue_json,
    });
    let text = serde_json::to_string_pretty(&report)? + "\n";
    std::fs::write(out, &text).with_context(|| format!("cannot write {}", out.display()))?;
    let svg = chart::render(&format!("{}: a simulated working day (seed {seed})", config.municipality), &panels);
    std::fs::write(&svg_path, svg).with_context(|| format!("cannot write {}", svg_path.display()))?;
    let _ = writeln!(summary, "wrote {} and {}", out.display(), svg_path.display());
    Ok(summary)
}

/// What `svar staffing` is asked (its command-line arguments).
#[derive(Debug, clap::Args)]
pub(crate) struct StaffingRequest {
    /// Forecast calls per interval, comma-separated: `40,55,60,48`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) arrivals: Vec<f64>,
    /// Interval length in minutes.
    #[arg(long, default_value_t = 60)]
    pub(crate) interval_minutes: u32,
    /// Hour the first interval starts.
    #[arg(long, default_value_t = 8)]
    pub(crate) first_hour: u32,
    /// Average handle time in seconds.
    #[arg(long)]
    pub(crate) aht_seconds: f64,
    /// Service-level threshold in seconds.
    #[arg(long)]
    pub(crate) target_seconds: f64,
    /// Share to answer within the threshold.
    #[arg(long, default_value_t = 0.8)]
    pub(crate) service_level: f64,
    /// Mean caller patience in the check (default: nobody gives up).
    #[arg(long)]
    pub(crate) patience_seconds: Option<f64>,
    /// Calls simulated per interval in the check.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) calls: u64,
    /// Seed of the check.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
}

/// `svar staffing`: CSV, one row per interval.
pub(crate) fn staffing(req: &StaffingRequest) -> Result<String> {
    if req.interval_minutes == 0 || 1440 % req.interval_minutes != 0 {
        bail!("--interval-minutes must divide a day (15, 30, 60, ...)");
    }
    if req.aht_seconds.is_nan() || req.aht_seconds <= 0.0 || req.service_level <= 0.0 || req.service_level >= 1.0 {
        bail!("--aht-seconds must be above 0 and --service-level a share between 0 and 1");
    }
    if req.arrivals.iter().any(|a| !a.is_finite() || *a < 0.0) {
        bail!("--arrivals must be counts of 0 or more");
    }
    let mut out = String::from(
        "interval,arrivals,agents,erlang_service_level,erlang_asa_seconds,simulated_service_level,simulated_abandonment_rate,check\n",
    );
    for (i, &arrivals) in req.arrivals.iter().enumerate() {
        let minutes = req.first_hour * 60 + i as u32 * req.interval_minutes;
        let label = format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60);
        let per_hour = arrivals * 60.0 / f64::from(req.interval_minutes);
        let agents = agents_for(per_hour, req.aht_seconds, req.target_seconds, req.service_level);
        if agents == 0 {
            let _ = writeln!(out, "{label},{arrivals},0,,,,,ok");
            continue;
        }
        let load = Load { arrivals_per_hour: per_hour, aht_seconds: req.aht_seconds, agents };
        // Check by simulation at that staffing, with callers who give up.
        let erlang_run = ErlangRun {
            arrivals_per_hour: per_hour,
            aht_seconds: req.aht_seconds,
            agents,
            target_seconds: req.target_seconds,
            calls: req.calls,
            seed: req.seed.wrapping_add(i as u64),
        };
        let mut scenario = erlang_run.scenario();
        scenario.traffic[0].patience = req.patience_seconds;
        let result = run(&scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut k = Kpi::default();
        for v in &result.visits {
            k.add(v, req.target_seconds);
        }
        let sl = k.service_level().unwrap_or(1.0);
        let _ = writeln!(
            out,
            "{label},{arrivals},{agents},{:.4},{:.1},{:.4},{:.4},{}",
            load.service_level(req.target_seconds),
            load.asa_seconds(),
            sl,
            k.abandonment_rate().unwrap_or(0.0),
            if sl >= req.service_level { "ok" } else { "below" }
        );
    }
    Ok(out)
}
