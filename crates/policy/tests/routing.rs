//! Coverage routing as data-driven cases: facts in, steps and trace out (P1, P2).

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use policy::org::{Coverage, Employee, LastResort, Organisation, Presence, RingMode, Team};
use policy::route::{Decision, Facts, Fallback, Request, Step, route};

fn org() -> Organisation {
    let emp =
        |ext: &str, name: &str, team: &str, backup: Option<&str>, colleagues: &[&str], last: LastResort| Employee {
            extension: ext.into(),
            name: name.into(),
            team: team.into(),
            backup: backup.map(Into::into),
            coverage: Coverage {
                colleagues: colleagues.iter().map(|c| (*c).to_owned()).collect(),
                last,
                ..Coverage::default()
            },
            skills: vec![],
            languages: vec!["da".into()],
            direct_number: None,
        };
    Organisation {
        employees: vec![
            emp("2001", "Anne Andersen", "byg", Some("2002"), &["2002", "2003"], LastResort::Switchboard),
            emp("2002", "Bo Berg", "byg", None, &["2001"], LastResort::Switchboard),
            emp("2003", "Cecilie Dahl", "byg", None, &[], LastResort::Switchboard),
            emp("2004", "Dennis Eriksen", "byg", None, &[], LastResort::Switchboard),
            emp("3001", "Eva Fog", "aeldre", None, &[], LastResort::Voicemail),
            emp("3002", "Frank Gram", "aeldre", None, &[], LastResort::Switchboard),
        ],
        teams: vec![
            Team {
                id: "byg".into(),
                name: "Byggesag".into(),
                department: "byggeri".into(),
                lead: Some("2004".into()),
                mode: RingMode::Parallel,
            },
            Team {
                id: "aeldre".into(),
                name: "Hjemmepleje".into(),
                department: "aeldre".into(),
                lead: None,
                mode: RingMode::InTurn,
            },
        ],
        switchboard: "omstillingen".into(),
        ..Organisation::default()
    }
}

struct Case {
    name: &'static str,
    request: Request,
    presence: Vec<(&'static str, Presence)>,
    unreachable: Vec<&'static str>,
    closed: Vec<&'static str>,
    steps: Vec<(Vec<&'static str>, u32)>,
    fallback: Option<Fallback>,
    referral: bool,
    after_hours: bool,
    trace_has: Vec<&'static str>,
}

fn base(name: &'static str, request: Request) -> Case {
    Case {
        name,
        request,
        presence: vec![],
        unreachable: vec![],
        closed: vec![],
        steps: vec![],
        fallback: Some(Fallback::Switchboard),
        referral: false,
        after_hours: false,
        trace_has: vec![],
    }
}

fn emp(ext: &str) -> Request {
    Request::Employee(ext.into())
}

fn run(c: &Case) {
    let org = org();
    let presence: HashMap<String, Presence> = c.presence.iter().map(|(e, p)| ((*e).to_owned(), p.clone())).collect();
    let reachable: HashSet<String> =
        org.employees.iter().map(|e| e.extension.clone()).filter(|e| !c.unreachable.contains(&e.as_str())).collect();
    let back: Option<Timestamp> = "2025-03-10T08:00:00Z".parse().ok();
    let closed: HashMap<String, Option<Timestamp>> = c.closed.iter().map(|d| ((*d).to_owned(), back)).collect();
    let facts = Facts { org: &org, presence: &presence, reachable: &reachable, closed: &closed };
    let now: Timestamp = "2025-03-07T10:00:00Z".parse().expect("now");
    let (decision, trace) = route(&c.request, &facts, now);
    let text = trace.join("\n");
    for needle in &c.trace_has {
        assert!(text.contains(needle), "{}: trace lacks {needle:?}:\n{text}", c.name);
    }
    match decision {
        Decision::AfterHours { .. } => assert!(c.after_hours, "{}: unexpected after-hours\n{text}", c.name),
        Decision::Unknown => assert!(c.fallback.is_none() && !c.after_hours, "{}: unexpected unknown", c.name),
        Decision::Ring { referral, steps, fallback } => {
            assert!(!c.after_hours, "{}: expected after-hours", c.name);
            let want: Vec<Step> = c
                .steps
                .iter()
                .map(|(r, s)| Step { ring: r.iter().map(|x| (*x).to_owned()).collect(), seconds: *s })
                .collect();
            assert_eq!(steps, want, "{}:\n{text}", c.name);
            assert_eq!(Some(fallback), c.fallback, "{}", c.name);
            assert_eq!(referral.is_some(), c.referral, "{}", c.name);
        }
    }
}

#[test]
fn coverage_routing_table() {
    let cases = vec![
        Case {
            steps: vec![(vec!["2001"], 15), (vec!["2002", "2003"], 15), (vec!["2004"], 20)],
            trace_has: vec![
                "2001 rings for 15 s",
                "colleagues ring together",
                "team byg rings together",
                "then the switchboard",
            ],
            ..base("available employee: me, colleagues, rest of team, switchboard", emp("2001"))
        },
        Case {
            presence: vec![("2001", Presence::Ill { until: "2025-03-10T08:00:00Z".parse().ok() })],
            steps: vec![(vec!["2002"], 15), (vec!["2003"], 15), (vec!["2004"], 20)],
            referral: true,
            trace_has: vec!["is absent", "2002 is 2001's backup"],
            ..base("ill employee: referral, backup first", emp("2001"))
        },
        Case {
            presence: vec![("2001", Presence::Holiday { until: None }), ("2002", Presence::OnCall)],
            steps: vec![(vec!["2003"], 15), (vec!["2004"], 20)],
            referral: true,
            trace_has: vec!["2002 is on a call: skipped"],
            ..base("on holiday, backup busy: next colleague", emp("2001"))
        },
        Case {
            presence: vec![("2001", Presence::OnCall)],
            steps: vec![(vec!["2002", "2003"], 15), (vec!["2004"], 20)],
            trace_has: vec!["2001 is on a call: colleagues answer instead"],
            ..base("busy employee: colleagues answer", emp("2001"))
        },
        Case {
            presence: vec![("2001", Presence::InMeeting)],
            steps: vec![(vec!["2001"], 10), (vec!["2002", "2003"], 15), (vec!["2004"], 20)],
            trace_has: vec!["in a meeting (not an absence)"],
            ..base("a meeting is not an absence", emp("2001"))
        },
        Case {
            unreachable: vec!["2001", "2003"],
            steps: vec![(vec!["2002"], 15), (vec!["2004"], 20)],
            trace_has: vec!["2001 has no registered phone", "2003 has no registered phone: skipped"],
            ..base("no phone: straight to colleagues", emp("2001"))
        },
        Case {
            closed: vec!["byggeri"],
            after_hours: true,
            trace_has: vec!["byggeri is closed"],
            ..base("department closed: after-hours path", emp("2001"))
        },
        Case {
            steps: vec![(vec!["3001"], 15), (vec!["3002"], 20)],
            fallback: Some(Fallback::Voicemail { of: "3001".into() }),
            trace_has: vec!["team aeldre rings in turn", "voicemail (configured as the last step)"],
            ..base("voicemail only where configured, last", emp("3001"))
        },
        Case {
            presence: vec![
                ("2001", Presence::OffDuty),
                ("2002", Presence::OffDuty),
                ("2003", Presence::OffDuty),
                ("2004", Presence::OffDuty),
            ],
            steps: vec![],
            referral: true,
            trace_has: vec!["nobody else in team byg can answer", "then the switchboard"],
            ..base("whole team away: the switchboard, never a dead end", emp("2001"))
        },
        Case {
            steps: vec![(vec!["2001", "2002", "2003", "2004"], 20)],
            trace_has: vec!["team byg rings together for 20 s"],
            ..base("team number rings the team", Request::Team("byg".into()))
        },
        Case {
            steps: vec![(vec!["3001"], 20), (vec!["3002"], 20)],
            ..base("department number rings its teams", Request::Department("aeldre".into()))
        },
        Case { fallback: None, trace_has: vec!["no employee 9999"], ..base("unknown extension", emp("9999")) },
    ];
    for c in &cases {
        run(c);
    }
}
