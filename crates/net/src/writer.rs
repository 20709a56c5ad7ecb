//! The store writer: records arrive on a channel from the SIP loop and are written in
//! batches (one transaction per batch) on a thread of the writer's own, so the SIP path
//! never waits on the database.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use pbx::Persist;
use pbx::record::CallRecord;
use sip::registrar::BindingChange;
use store::RecordSink;
use tracing::{error, warn};

/// Most records in one transaction.
const BATCH: usize = 512;
/// After the first record of a batch, wait this long for more: one commit and one wakeup
/// of this thread per window instead of one per registration. SIGTERM flushes; a
/// `kill -9` loses at most one window.
const WINDOW: Duration = Duration::from_millis(50);
/// Attempts at one batch before it is kept for the next.
const ATTEMPTS: u32 = 5;
/// The pause before the first retry; it doubles with each further attempt.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Write until every sender is gone, then flush what is left and return. Blocks: run it
/// on a thread of its own.
pub fn run<S: RecordSink>(mut sink: S, rx: Receiver<Persist>) {
    let mut bindings: Vec<BindingChange> = Vec::new();
    let mut records: Vec<CallRecord> = Vec::new();
    loop {
        let left_over = !(bindings.is_empty() && records.is_empty());
        // Records kept from a failed batch are tried again after a while even when
        // nothing new arrives.
        let first = if left_over { rx.recv_timeout(WINDOW * 20) } else { rx.recv().map_err(RecvTimeoutError::from) };
        match first {
            Ok(p) => push(p, &mut bindings, &mut records),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        std::thread::sleep(WINDOW);
        while bindings.len() + records.len() < BATCH {
            match rx.try_recv() {
                Ok(p) => push(p, &mut bindings, &mut records),
                Err(_) => break,
            }
        }
        flush(&mut sink, &mut bindings, &mut records);
    }
    // every sender is gone and the channel is empty: what a failed batch kept is left
    flush(&mut sink, &mut bindings, &mut records);
    if !(bindings.is_empty() && records.is_empty()) {
        error!(bindings = bindings.len(), records = records.len(), "store unavailable at shutdown; records lost");
    }
}

fn push(p: Persist, bindings: &mut Vec<BindingChange>, records: &mut Vec<CallRecord>) {
    match p {
        Persist::Binding(b) => bindings.push(b),
        Persist::CallRecord(r) => records.push(r),
    }
}

/// Write the batch; a failed write is retried a few times, and records are never dropped
/// silently: after the last attempt they stay for the next batch.
fn flush<S: RecordSink>(sink: &mut S, bindings: &mut Vec<BindingChange>, records: &mut Vec<CallRecord>) {
    if bindings.is_empty() && records.is_empty() {
        return;
    }
    for attempt in 0..ATTEMPTS {
        match sink.write(bindings, records) {
            Ok(()) => {
                bindings.clear();
                records.clear();
                return;
            }
            Err(e) => {
                warn!(error = %e, attempt, bindings = bindings.len(), records = records.len(), "store write failed");
                if attempt + 1 < ATTEMPTS {
                    std::thread::sleep(FIRST_RETRY * (1 << attempt));
                }
            }
        }
    }
    error!(
        bindings = bindings.len(),
        records = records.len(),
        "store unavailable; keeping records in memory for the next batch"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    use pbx::record::{Direction, Outcome};
    use store::StoreError;

    use super::*;

    /// A sink that records its batches and fails while told to.
    #[derive(Clone, Default)]
    struct Sink {
        batches: Arc<Mutex<Vec<(usize, usize)>>>,
        failures_left: Arc<Mutex<u32>>,
    }

    impl RecordSink for Sink {
        fn write(&mut self, bindings: &[BindingChange], records: &[CallRecord]) -> Result<(), StoreError> {
            let mut left = self.failures_left.lock().map_err(|_| StoreError::Database("poisoned".into()))?;
            if *left > 0 {
                *left -= 1;
                return Err(StoreError::Database("disk on fire".into()));
            }
            self.batches
                .lock()
                .map_err(|_| StoreError::Database("poisoned".into()))?
                .push((bindings.len(), records.len()));
            Ok(())
        }
    }

    fn record(i: usize) -> Persist {
        Persist::CallRecord(CallRecord {
            call_id: format!("c{i}"),
            direction: Direction::Internal,
            caller: "1001".into(),
            callee: "1002".into(),
            trunk: None,
            started_ms: 1,
            answered_ms: None,
            ended_ms: 2,
            outcome: Outcome::NoAnswer,
            status: 480,
            hangup_by: None,
            flow: None,
        })
    }

    fn written(sink: &Sink) -> usize {
        sink.batches.lock().map(|b| b.iter().map(|(b, r)| b + r).sum()).unwrap_or(0)
    }

    #[test]
    fn records_sent_together_land_in_one_batch_and_all_are_written_at_shutdown() {
        let sink = Sink::default();
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            tx.send(record(i)).ok();
        }
        let writer = std::thread::spawn({
            let sink = sink.clone();
            move || run(sink, rx)
        });
        std::thread::sleep(WINDOW * 4);
        // a record sent just before the last sender goes is still written
        tx.send(record(10)).ok();
        drop(tx);
        writer.join().ok();
        let batches = sink.batches.lock().map(|b| b.clone()).unwrap_or_default();
        assert_eq!(batches.first(), Some(&(0, 10)), "the first ten in one transaction: {batches:?}");
        assert_eq!(written(&sink), 11);
    }

    #[test]
    fn a_failing_store_is_retried_and_loses_nothing() {
        let sink = Sink::default();
        // more failures than one batch's attempts: the records wait for the next batch
        *sink.failures_left.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = ATTEMPTS + 1;
        let (tx, rx) = mpsc::channel();
        tx.send(record(0)).ok();
        let writer = std::thread::spawn({
            let sink = sink.clone();
            move || run(sink, rx)
        });
        // the first batch gives up after its attempts; nothing new arrives, and the kept
        // record is tried again on its own
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while written(&sink) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(WINDOW);
        }
        assert_eq!(written(&sink), 1, "the record kept from the failed batch is written later");
        drop(tx);
        writer.join().ok();
        assert_eq!(written(&sink), 1, "and written once");
    }
}
