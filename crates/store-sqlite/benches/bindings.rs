//! `cargo bench -p store-sqlite --bench bindings`: registrar bindings written as the store
//! writer does (through its [`RecordWriter`]) under a REGISTER load (one batch per 50 ms window: 100 new bindings per
//! batch at 2,000 REGISTER/s), a different user each. Prints the CPU time of the whole
//! process (the caller's thread and sqlx's SQLite thread) per binding, read from
//! `/proc/self/stat`, which is what a registration's persistence costs svar.

use std::time::Instant;

use sip::registrar::{Binding, BindingChange};
use sip::transport::Peer;
use store::{RecordSink, Store};
use store_sqlite::{RecordWriter, SqliteStore};

/// Bindings written; `SVAR_BENCH_BINDINGS` sets another number (fewer for valgrind).
fn total() -> usize {
    std::env::var("SVAR_BENCH_BINDINGS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000)
}
const BATCH: usize = 100;

/// utime + stime of this process, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
    // the fields after the command name, which is in parentheses
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

fn binding(i: usize) -> BindingChange {
    let aor = format!("u{i:06}");
    BindingChange::upsert(Binding {
        contact: format!("sip:{aor}@10.{}.{}.{}:5060;transport=udp", i >> 16 & 255, i >> 8 & 255, i & 255)
            .parse()
            .expect("uri"),
        aor,
        params: Vec::new(),
        q: 1.0,
        expires_at: 1_800_000_000,
        call_id: format!("{i:x}-bench@10.0.0.1"),
        cseq: 2,
        source: Peer::udp(format!("10.0.{}.{}:5060", i >> 8 & 255, i & 255).parse().expect("addr")),
        user_agent: Some("SIPp".to_owned()),
    })
}

/// Marks for an instruction count of the writes alone, every thread included:
/// `valgrind --tool=callgrind --zero-before=bindings::writes_begin --dump-before=bindings::writes_end`.
#[inline(never)]
fn writes_begin() {
    std::hint::black_box(());
}

/// See [`writes_begin`].
#[inline(never)]
fn writes_end() {
    std::hint::black_box(());
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let total = total();
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("svar-bindings-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open_dir(&dir).await.expect("open");
        // what the server's store writer uses (the sqlx store reads them back below)
        let mut writer = RecordWriter::open_dir(&dir).expect("writer");
        // A window holds about BATCH registrations, never exactly: sizes vary from
        // BATCH - 10 to BATCH + 10, as they do under a real load.
        let mut batches: Vec<Vec<BindingChange>> = Vec::new();
        let mut next = 0;
        while next < total {
            let size = (BATCH - 10 + (batches.len() * 7) % 21).min(total - next);
            batches.push((next..next + size).map(binding).collect());
            next += size;
        }
        let (cpu0, wall0) = (cpu_seconds(), Instant::now());
        writes_begin();
        for batch in &batches {
            writer.write(batch, &[]).expect("write");
        }
        writes_end();
        let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
        let stored = store.load_bindings().await.expect("load").len();
        assert_eq!(stored, total, "every binding stored");
        println!(
            "{total} bindings in batches of about {BATCH}: {:.1} µs CPU per binding ({:.1} µs wall)",
            cpu * 1e6 / total as f64,
            wall * 1e6 / total as f64
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}
