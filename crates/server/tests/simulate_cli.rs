//! The queue simulator's command-line contract (issue 5): `svar simulate erlang`,
//! `svar simulate day` (golden output for a fixed seed) and `svar staffing`.

use std::path::PathBuf;
use std::process::Command;

fn svar(args: &[&str]) -> (bool, String, String) {
    let bin = std::env::var("SVAR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_svar").to_owned());
    let out = Command::new(bin).args(args).output().expect("run svar");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svar-simulate-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn simulate_erlang_prints_one_json_object_beside_erlang_c() {
    let args = [
        "simulate",
        "erlang",
        "--arrivals-per-hour",
        "120",
        "--aht-seconds",
        "300",
        "--agents",
        "12",
        "--target-seconds",
        "60",
        "--calls",
        "50000",
        "--seed",
        "5",
    ];
    let (ok, out, err) = svar(&args);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    for key in ["p_wait", "service_level", "asa_seconds", "occupancy"] {
        let sim = v[key].as_f64().expect(key);
        let theory = v["erlang_c"][key].as_f64().expect(key);
        let error = v["std_error"].get(key).and_then(serde_json::Value::as_f64).unwrap_or(0.01);
        assert!((sim - theory).abs() <= 4.0 * error.max(0.005), "{key}: {sim} vs Erlang C {theory}");
    }
    assert_eq!(v["answered"], 50_000);
    // The same seed gives the same run.
    let (_, again, _) = svar(&args);
    assert_eq!(out, again);
}

#[test]
fn simulate_erlang_refuses_an_unstable_load() {
    let (ok, _, err) = svar(&[
        "simulate",
        "erlang",
        "--arrivals-per-hour",
        "120",
        "--aht-seconds",
        "300",
        "--agents",
        "10",
        "--target-seconds",
        "60",
    ]);
    assert!(!ok);
    assert!(err.contains("never settles"), "{err}");
}

#[test]
fn simulate_day_matches_its_golden_output_and_draws_the_chart() {
    let dir = scratch("day");
    let out = dir.join("day.json");
    let (ok, summary, err) = svar(&["simulate", "day", "--seed", "7", "--out", out.to_str().expect("utf-8")]);
    assert!(ok, "{err}");
    assert!(summary.contains("omstillingen:") && summary.contains("borgerservice:"), "{summary}");
    let json = std::fs::read_to_string(&out).expect("json written");
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/simulate_day_seed7.json");
    if std::env::var_os("SVAR_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &json).expect("update golden");
    }
    let expected = std::fs::read_to_string(&golden).expect("golden file (SVAR_UPDATE_GOLDEN=1 writes it)");
    assert_eq!(json, expected, "simulate day output changed; review and rerun with SVAR_UPDATE_GOLDEN=1");

    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    for q in v["queues"].as_array().expect("queues") {
        let t = &q["total"];
        let n = |k: &str| t[k].as_u64().expect(k);
        // Every visit ends one way.
        assert_eq!(
            n("offered"),
            n("answered") + n("abandoned") + n("exited") + n("called_back") + n("callbacks_open"),
            "{q}"
        );
        let hours = q["hours"].as_array().expect("hours");
        let by_hour: u64 = hours.iter().map(|h| h["offered"].as_u64().expect("offered")).sum();
        assert_eq!(by_hour, n("offered"), "hours add up to the day");
    }
    let svg = std::fs::read_to_string(dir.join("day.svg")).expect("chart written next to the JSON");
    assert!(svg.starts_with("<svg"));
    assert_eq!(svg.matches("<polyline").count(), 2, "a queue-length line per queue");
    assert!(svg.contains("Borgerservice") && svg.contains("Omstillingen"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn staffing_prints_the_fewest_agents_per_interval() {
    let (ok, out, err) = svar(&[
        "staffing",
        "--arrivals",
        "20,40,60,30",
        "--interval-minutes",
        "30",
        "--aht-seconds",
        "240",
        "--target-seconds",
        "60",
        "--service-level",
        "0.8",
        "--patience-seconds",
        "180",
        "--calls",
        "5000",
    ]);
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0][0], "08:00");
    assert_eq!(rows[1][0], "08:30");
    let agents: Vec<u32> = rows.iter().map(|r| r[2].parse().expect("agents")).collect();
    // 40 calls per half hour at 240 s is 5.33 Erlangs: 8 agents reach 80 % in 60 s, 7 do not.
    assert_eq!(agents[1], 8);
    assert!(agents[2] > agents[1] && agents[1] > agents[0] && agents[3] < agents[2]);
    for r in &rows {
        assert!(r[3].parse::<f64>().expect("erlang sl") >= 0.8);
        assert_eq!(r[7], "ok", "the check by simulation meets the target: {r:?}");
    }
}

#[test]
fn bad_queue_configuration_lists_every_problem() {
    let dir = scratch("badqueue");
    let demo = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/demo.toml"))
        .expect("demo config");
    let bad = demo
        .replace("on_max_wait = \"queue:omstillingen\"", "on_max_wait = \"queue:nowhere\"")
        .replace("strategy = \"ring-all\"", "strategy = \"round-robin\"")
        .replace("arrivals_per_hour = [60, 80, 65, 45]", "arrivals_per_hour = [60, 80]");
    let file = dir.join("bad.toml");
    std::fs::write(&file, bad).expect("write");
    let (ok, _, err) = svar(&["check-config", file.to_str().expect("utf-8")]);
    assert!(!ok);
    for expected in ["round-robin", "unknown queue \"nowhere\"", "one entry per hour"] {
        assert!(err.contains(expected), "{expected:?} missing from: {err}");
    }
    std::fs::remove_dir_all(dir).ok();
}
