//! `cargo bench -p calendar`: one deadline computation and one opening check (issue 4
//! target: under 2 µs each).

use calendar::{Calendar, DeadlineRule, Department};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let cal = Calendar::danish_default();
    let sb = Department::switchboard_default();
    let rule = DeadlineRule::default();
    // a Wednesday before Easter: the hardest ordinary case (five days skipped)
    let easter: jiff::Timestamp = "2025-04-16T08:00:00Z".parse().expect("ts");
    let plain: jiff::Timestamp = "2025-03-07T11:00:00Z".parse().expect("ts");
    c.bench_function("deadline, Friday noon", |b| b.iter(|| cal.deadline(black_box(plain), &sb, &rule)));
    c.bench_function("deadline, before Easter", |b| b.iter(|| cal.deadline(black_box(easter), &sb, &rule)));
    c.bench_function("openness, Friday afternoon", |b| b.iter(|| cal.openness(&sb, black_box(plain))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
