//! The store writer: records arrive on a channel from the SIP loop and are written in
//! batches (one transaction per batch) on a thread of the writer's own, so the SIP path
//! never waits on the database.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use pbx::Persist;
use pbx::record::CallRecord;
use sip::registrar::BindingChange;
use store::RecordSink;
use tracing::{error, warn};

/// Most records in one transaction.
const BATCH: usize = 2048;
/// After the first record of a batch, wait this long for more: one commit and one wakeup
/// of this thread per window instead of one per registration. SIGTERM flushes; a
/// `kill -9` loses at most one window of call records.
const WINDOW: Duration = Duration::from_millis(50);
/// A batch of registrar changes alone waits this long for more (in steps of [`WINDOW`]),
/// and a call record arriving cuts the wait short. A commit costs about 250 µs whatever
/// it holds (`BEGIN IMMEDIATE`, the WAL frames, checkpoints), which at 2,000 REGISTER/s
/// in 50 ms batches was two thirds of the writer's time (BENCHMARKS.md, session 15).
/// A binding lost to a `kill -9` within this second comes back with the phone's next
/// REGISTER; Kamailio's usrloc writes back every 60 s by default (`db_mode 2`).
const BINDING_WINDOW: Duration = Duration::from_secs(1);
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
        let opened = Instant::now();
        let mut senders_gone = false;
        loop {
            // Sleeping, not blocked on the channel: a sender wakes nobody.
            std::thread::sleep(WINDOW);
            while bindings.len() + records.len() < BATCH {
                match rx.try_recv() {
                    Ok(p) => push(p, &mut bindings, &mut records),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        senders_gone = true;
                        break;
                    }
                }
            }
            let full = bindings.len() + records.len() >= BATCH;
            if senders_gone || full || !records.is_empty() || opened.elapsed() >= BINDING_WINDOW {
                break;
            }
        }
        flush(&mut sink, &mut bindings, &mut records);
        if senders_gone {
            break;
        }
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

    /// The writer on a thread of its own, writing into `sink`.
    fn start(sink: &Sink, rx: mpsc::Receiver<Persist>) -> std::thread::JoinHandle<()> {
        let sink = sink.clone();
        std::thread::spawn(move || run(sink, rx))
    }

    fn unbinding(i: usize) -> Persist {
        Persist::Binding(BindingChange::Remove { aor: format!("u{i}"), key: "k".into() })
    }

    fn batches(sink: &Sink) -> Vec<(usize, usize)> {
        sink.batches.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Polls until `n` records are written or 20 s have passed.
    fn wait_written(sink: &Sink, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while written(sink) < n && Instant::now() < deadline {
            std::thread::sleep(WINDOW / 5);
        }
    }

    #[test]
    fn records_sent_together_land_in_one_batch_and_all_are_written_at_shutdown() {
        let sink = Sink::default();
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            tx.send(record(i)).ok();
        }
        let writer = start(&sink, rx);
        std::thread::sleep(WINDOW * 4);
        // a record sent just before the last sender goes is still written
        tx.send(record(10)).ok();
        drop(tx);
        writer.join().ok();
        let batches = batches(&sink);
        assert_eq!(batches.first(), Some(&(0, 10)), "the first ten in one transaction: {batches:?}");
        assert_eq!(written(&sink), 11);
    }

    #[test]
    fn registrar_changes_alone_wait_longer_and_a_call_record_cuts_the_wait_short() {
        let sink = Sink::default();
        let (tx, rx) = mpsc::channel();
        let writer = start(&sink, rx);
        let opened = Instant::now();
        tx.send(unbinding(0)).ok();
        std::thread::sleep(WINDOW * 2);
        tx.send(unbinding(1)).ok();
        std::thread::sleep(WINDOW);
        assert_eq!(written(&sink), 0, "bindings alone are still gathering after three windows");
        tx.send(record(0)).ok();
        // well before the binding window would end the gathering
        while written(&sink) < 3 && opened.elapsed() < BINDING_WINDOW * 4 / 5 {
            std::thread::sleep(WINDOW / 5);
        }
        assert_eq!(batches(&sink), vec![(2, 1)], "the record ends the gathering at once, all in one transaction");
        // and without a record, the binding window ends the gathering by itself
        tx.send(unbinding(2)).ok();
        wait_written(&sink, 4);
        assert_eq!(batches(&sink), vec![(2, 1), (1, 0)]);
        drop(tx);
        writer.join().ok();
    }

    #[test]
    fn the_last_sender_going_ends_a_gathering_batch_at_once() {
        let sink = Sink::default();
        let (tx, rx) = mpsc::channel();
        let writer = start(&sink, rx);
        tx.send(unbinding(0)).ok();
        std::thread::sleep(WINDOW * 2);
        let dropped = Instant::now();
        drop(tx);
        writer.join().ok();
        assert_eq!(batches(&sink), vec![(1, 0)]);
        assert!(dropped.elapsed() < BINDING_WINDOW / 2, "shutdown does not wait out the binding window");
    }

    #[test]
    fn a_failing_store_is_retried_and_loses_nothing() {
        let sink = Sink::default();
        // more failures than one batch's attempts: the records wait for the next batch
        *sink.failures_left.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = ATTEMPTS + 1;
        let (tx, rx) = mpsc::channel();
        tx.send(record(0)).ok();
        let writer = start(&sink, rx);
        // the first batch gives up after its attempts; nothing new arrives, and the kept
        // record is tried again on its own
        wait_written(&sink, 1);
        assert_eq!(written(&sink), 1, "the record kept from the failed batch is written later");
        drop(tx);
        writer.join().ok();
        assert_eq!(written(&sink), 1, "and written once");
    }
}
