//! The store writer: records arrive on a channel from the SIP loop and are written in
//! batches (one transaction per batch), so the SIP path never waits on the database.

use std::time::Duration;

use pbx::Persist;
use pbx::record::CallRecord;
use sip::registrar::BindingChange;
use store::Store;
use tokio::sync::mpsc;
use tracing::{error, warn};

/// Most records in one transaction.
const BATCH: usize = 512;
/// After the first record of a batch, wait this long for more: one commit and one wakeup
/// per window instead of one per registration. The cost of a write is mostly per
/// transaction (three crossings to sqlx's SQLite thread), so under load a longer window
/// costs less CPU per record: 13–16 µs per binding at 50 ms against 26–31 µs at 10 ms
/// (2,000 REGISTER/s, see BENCHMARKS.md). SIGTERM flushes; a `kill -9` loses at most one
/// window.
const WINDOW: Duration = Duration::from_millis(50);

/// Write until the channel closes, then flush what is left and return.
pub async fn run<S: Store>(store: S, mut rx: mpsc::UnboundedReceiver<Persist>) {
    let mut bindings: Vec<BindingChange> = Vec::new();
    let mut records: Vec<CallRecord> = Vec::new();
    loop {
        let Some(first) = rx.recv().await else { break };
        push(first, &mut bindings, &mut records);
        tokio::time::sleep(WINDOW).await;
        while bindings.len() + records.len() < BATCH {
            match rx.try_recv() {
                Ok(p) => push(p, &mut bindings, &mut records),
                Err(_) => break,
            }
        }
        flush(&store, &mut bindings, &mut records).await;
    }
    flush(&store, &mut bindings, &mut records).await;
}

fn push(p: Persist, bindings: &mut Vec<BindingChange>, records: &mut Vec<CallRecord>) {
    match p {
        Persist::Binding(b) => bindings.push(b),
        Persist::CallRecord(r) => records.push(r),
    }
}

async fn flush<S: Store>(store: &S, bindings: &mut Vec<BindingChange>, records: &mut Vec<CallRecord>) {
    // A failed write is retried a few times; records are never dropped silently.
    for attempt in 0..5u32 {
        let mut ok = true;
        if !bindings.is_empty() {
            match store.apply_bindings(bindings).await {
                Ok(()) => bindings.clear(),
                Err(e) => {
                    ok = false;
                    warn!(error = %e, attempt, "binding write failed");
                }
            }
        }
        if !records.is_empty() {
            match store.insert_call_records(records).await {
                Ok(()) => records.clear(),
                Err(e) => {
                    ok = false;
                    warn!(error = %e, attempt, "call record write failed");
                }
            }
        }
        if ok {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
    }
    error!(
        bindings = bindings.len(),
        records = records.len(),
        "store unavailable; keeping records in memory for the next batch"
    );
}
