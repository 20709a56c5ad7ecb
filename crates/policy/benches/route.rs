//! `cargo bench -p policy --bench route`: one routing decision for an employee in a
//! 60-person organisation (issue 4 target: under 2 µs).

use std::collections::{HashMap, HashSet};
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use policy::org::{Coverage, Employee, Organisation, Presence, RingMode, Team};
use policy::route::{Facts, Request, route};

fn org() -> Organisation {
    let mut employees = Vec::new();
    let mut teams = Vec::new();
    for t in 0..6 {
        teams.push(Team {
            id: format!("t{t}"),
            name: format!("Team {t}"),
            department: format!("d{}", t / 2),
            lead: None,
            mode: RingMode::Parallel,
        });
        for i in 0..10 {
            let ext = format!("{}{:02}", t + 2, i);
            employees.push(Employee {
                extension: ext.clone(),
                name: format!("E {ext}"),
                team: format!("t{t}"),
                backup: Some(format!("{}{:02}", t + 2, (i + 1) % 10)),
                coverage: Coverage { colleagues: vec![format!("{}{:02}", t + 2, (i + 2) % 10)], ..Coverage::default() },
                skills: vec![],
                languages: vec![],
                direct_number: None,
            });
        }
    }
    Organisation { employees, teams, switchboard: "omstillingen".into(), ..Organisation::default() }
}

fn bench(c: &mut Criterion) {
    let org = org();
    let reachable: HashSet<String> = org.employees.iter().map(|e| e.extension.clone()).collect();
    let mut presence = HashMap::new();
    presence.insert("503".to_owned(), Presence::Ill { until: None });
    let closed = HashMap::new();
    let facts = Facts { org: &org, presence: &presence, reachable: &reachable, closed: &closed };
    let now: jiff::Timestamp = "2025-03-07T10:00:00Z".parse().expect("now");
    let available = Request::Employee("205".into());
    let absent = Request::Employee("503".into());
    c.bench_function("route: available employee", |b| b.iter(|| route(black_box(&available), &facts, now)));
    c.bench_function("route: absent employee, backup", |b| b.iter(|| route(black_box(&absent), &facts, now)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
