//! Completed non-INVITE server transactions over unreliable transports (RFC 3261
//! §17.2.2): all that is left of one is its final response, re-sent when the request is
//! retransmitted, until Timer J (64·T1) ends it. A REGISTER answered 200 spends 32 s
//! there, so at 2,000 REGISTERs/s 64,000 of them wait at any time.
//!
//! Kept as transactions they cost about 1,300 bytes each (the entry, its key and merge
//! key, three index entries, a timer), and a server taking on load paid a page fault for
//! every three REGISTERs growing its heap for them: about 7 % of its CPU per REGISTER
//! (BENCHMARKS.md, session 17). Here one costs its response and some 120 bytes: the
//! fingerprints of its key and merge key, where to re-send, and when it ends. Every
//! entry lives the same 64·T1, so they leave in the order they came and a queue is their
//! timer.
//!
//! The responses are written one after another into 64 KiB chunks, each response a
//! reference-counted view of its chunk (`bytes`); a chunk is freed when the last
//! response in it has expired, and since entries leave in order, chunks do too. One
//! allocation per response put blocks that live 32 s among the short-lived blocks of
//! every message in the allocator's small pages, so those landed in cold memory as well
//! (BENCHMARKS.md, session 18).
//!
//! A key is matched by two independently seeded 64-bit fingerprints, the first also
//! indexing it: a false match needs both to collide (2^-128). Two live keys sharing the
//! first fingerprint leave only the newer findable; the older one's retransmissions
//! then reach the TU again, as if its transaction had ended (2^-64 per pair).

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use nohash_hasher::IntMap;

use crate::fifo::Fifo;
use crate::transport::Peer;

/// One completed transaction.
#[derive(Debug)]
struct Completed {
    ends: Instant,
    key: (u64, u64),
    /// Fingerprints of the merge key (§8.2.2.2), when the transaction was filed under one.
    merge: Option<(u64, u64)>,
    reply_to: Peer,
    /// The response's bytes, in a chunk shared with its neighbours in arrival order.
    response: Bytes,
}

/// The completed transactions, oldest first.
#[derive(Debug, Default)]
pub(crate) struct CompletedStore {
    /// In blocks of 512 entries (some 64 KiB), not one buffer doubling as it fills.
    entries: Fifo<Completed, 512>,
    /// The sequence number of `entries[0]` (each entry's is its place in arrival order).
    first: u64,
    by_key: IntMap<u64, u64>,
    by_merge: IntMap<u64, u64>,
    /// The rest of the chunk the next response is written into.
    chunk: BytesMut,
}

/// Responses are written one after another into chunks of this size; a chunk is freed
/// when the last response in it has expired.
const CHUNK: usize = 64 * 1024;

impl CompletedStore {
    /// File a transaction that completed with `response`, to end at `ends` (which must
    /// not be before any filed earlier: all share one Timer J).
    pub(crate) fn insert(
        &mut self,
        ends: Instant,
        key: (u64, u64),
        merge: Option<(u64, u64)>,
        reply_to: Peer,
        response: &[u8],
    ) {
        if self.chunk.capacity() < response.len() {
            self.chunk = BytesMut::with_capacity(CHUNK.max(response.len()));
        }
        self.chunk.extend_from_slice(response);
        let response = self.chunk.split().freeze();
        let seq = self.first + self.entries.len() as u64;
        self.by_key.insert(key.0, seq);
        if let Some((fp, _)) = merge {
            self.by_merge.insert(fp, seq);
        }
        self.entries.push_back(Completed { ends, key, merge, reply_to, response });
    }

    /// Make room in the indexes for `n` completed transactions at once.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.by_key.reserve(n.saturating_sub(self.by_key.len()));
        self.by_merge.reserve(n.saturating_sub(self.by_merge.len()));
    }

    /// The response to re-send, and where, for a retransmission of the request whose key
    /// has fingerprint `fp` and, computed only when `fp` is filed, check fingerprint
    /// `check()`.
    pub(crate) fn find(&self, fp: u64, check: impl FnOnce() -> u64) -> Option<(Peer, &[u8])> {
        let e = self.entry(*self.by_key.get(&fp)?)?;
        (e.key == (fp, check())).then_some((e.reply_to, &e.response))
    }

    /// Whether a completed transaction was filed under this merge key.
    pub(crate) fn has_merge(&self, fp: u64, check: impl FnOnce() -> u64) -> bool {
        self.by_merge.get(&fp).and_then(|&seq| self.entry(seq)).is_some_and(|e| e.merge == Some((fp, check())))
    }

    /// End the transactions whose Timer J has fired.
    pub(crate) fn expire(&mut self, now: Instant) {
        while self.entries.front().is_some_and(|e| e.ends <= now) {
            let Some(e) = self.entries.pop_front() else { break };
            let seq = self.first;
            self.first += 1;
            // a newer entry may have taken the fingerprint over
            if self.by_key.get(&e.key.0) == Some(&seq) {
                self.by_key.remove(&e.key.0);
            }
            if let Some((fp, _)) = e.merge
                && self.by_merge.get(&fp) == Some(&seq)
            {
                self.by_merge.remove(&fp);
            }
        }
    }

    /// When the oldest ends.
    pub(crate) fn next_end(&self) -> Option<Instant> {
        self.entries.front().map(|e| e.ends)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn entry(&self, seq: u64) -> Option<&Completed> {
        self.entries.get(usize::try_from(seq.checked_sub(self.first)?).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn peer() -> Peer {
        Peer::udp("192.0.2.1:5060".parse().expect("addr"))
    }

    #[test]
    fn found_by_both_fingerprints_until_it_ends() {
        let t0 = Instant::now();
        let mut s = CompletedStore::default();
        s.insert(t0 + Duration::from_secs(32), (1, 11), Some((5, 55)), peer(), b"SIP/2.0 200 OK\r\n");
        s.insert(t0 + Duration::from_secs(33), (2, 22), None, peer(), b"SIP/2.0 202 OK\r\n");
        assert_eq!(s.find(1, || 11).map(|(_, r)| r), Some(&b"SIP/2.0 200 OK\r\n"[..]));
        assert!(s.find(1, || 12).is_none(), "the check fingerprint must agree too");
        assert!(s.find(3, || 11).is_none());
        assert!(s.has_merge(5, || 55));
        assert!(!s.has_merge(5, || 56));
        s.expire(t0 + Duration::from_secs(31));
        assert_eq!(s.len(), 2);
        s.expire(t0 + Duration::from_secs(32));
        assert_eq!(s.len(), 1);
        assert!(s.find(1, || 11).is_none() && !s.has_merge(5, || 55), "ended with Timer J");
        assert_eq!(s.find(2, || 22).map(|(_, r)| r.len()), Some(16));
        assert_eq!(s.next_end(), Some(t0 + Duration::from_secs(33)));
        s.expire(t0 + Duration::from_secs(40));
        assert_eq!((s.len(), s.next_end()), (0, None));
    }

    #[test]
    fn responses_spanning_chunks_read_back_whole_as_their_neighbours_expire() {
        let t0 = Instant::now();
        let mut s = CompletedStore::default();
        // about three chunks of responses of varied lengths, one of them larger than a chunk
        let response = |i: u64| {
            let len = if i == 100 { CHUNK + 10 } else { 300 + (i as usize * 37) % 500 };
            (0..len).map(|j| (i as usize + j) as u8).collect::<Vec<u8>>()
        };
        for i in 0..400u64 {
            s.insert(t0 + Duration::from_millis(i), (i, i + 1), None, peer(), &response(i));
        }
        for i in 0..400u64 {
            assert_eq!(s.find(i, || i + 1).map(|(_, r)| r.to_vec()), Some(response(i)), "{i}");
        }
        s.expire(t0 + Duration::from_millis(250));
        for i in 0..400u64 {
            let found = s.find(i, || i + 1).map(|(_, r)| r.to_vec());
            assert_eq!(found, (i > 250).then(|| response(i)), "{i}");
        }
    }

    #[test]
    fn a_newer_entry_under_the_same_fingerprint_outlives_the_older() {
        let t0 = Instant::now();
        let mut s = CompletedStore::default();
        s.insert(t0, (1, 11), None, peer(), b"old");
        s.insert(t0 + Duration::from_secs(1), (1, 12), None, peer(), b"new");
        assert!(s.find(1, || 11).is_none(), "the older is shadowed");
        s.expire(t0);
        assert_eq!(s.find(1, || 12).map(|(_, r)| r), Some(&b"new"[..]), "the older's end keeps the newer's index");
    }
}
