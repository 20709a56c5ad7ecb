//! `cargo bench -p store-sqlite --bench ledger`: the obligation ledger in SQLite with
//! 1,000,000 obligations. Prints the write rate (batches of 500, one transaction each, as
//! the store writer does) and the time of "my open obligations, most urgent first".
//! Issue 4 targets: at least 5,000 new obligations/s; the query under 5 ms.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use policy::{Ledger, NewObligation, Owner, Source};
use store::ObligationStore;
use store_sqlite::SqliteStore;

const TOTAL: usize = 1_000_000;
const OWNERS: usize = 200;
const BATCH: usize = 500;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("svar-ledger-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open_dir(&dir).await.expect("open");
        let t0 = Timestamp::from_second(1_741_341_600).expect("ts");
        let mut ledger = Ledger::new();
        let start = Instant::now();
        let mut batch = Vec::with_capacity(BATCH);
        for i in 0..TOTAL {
            let (id, _) = ledger.record(
                NewObligation {
                    caller: format!("+45{:08}", i),
                    owner: Owner::Employee(format!("{}", 1000 + i % OWNERS)),
                    source: Source::NoAnswer,
                    topic: None,
                    case_ref: None,
                    at: t0,
                    deadline: t0 + SignedDuration::from_mins((i % 5760) as i64),
                },
                "svar",
            );
            batch.push(id);
            if batch.len() == BATCH {
                let obligations: Vec<_> = batch.iter().filter_map(|id| ledger.get(*id).cloned()).collect();
                let audit = ledger.drain_audit();
                store.save_obligations(&obligations, &audit, &[]).await.expect("save");
                batch.clear();
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "inserted {TOTAL} obligations with their audit lines in {secs:.1} s: {:.0} per second",
            TOTAL as f64 / secs
        );
        let mut times = Vec::new();
        for q in 0..200 {
            let owner = Owner::Employee(format!("{}", 1000 + (q * 7) % OWNERS));
            let t = Instant::now();
            let open = store.open_obligations_for(&owner, 50).await.expect("query");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(open.len(), 50);
            assert!(open.windows(2).all(|w| w[0].deadline <= w[1].deadline), "most urgent first");
        }
        times.sort_by(f64::total_cmp);
        println!(
            "my open obligations, most urgent first (50 of {} per owner): p50 {:.2} ms, p99 {:.2} ms",
            TOTAL / OWNERS,
            times[times.len() / 2],
            times[times.len() * 99 / 100]
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}
