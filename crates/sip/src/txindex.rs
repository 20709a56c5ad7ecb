//! Finding a transaction by a key without keeping the key twice.
//!
//! A transaction is looked up by strings its peer chose (branch, sent-by, Call-ID, tags).
//! Keyed by those strings, every lookup table held its own copy of them, so each new
//! transaction cost an allocation per table and a lookup had to build an owned key first;
//! at 1,000 calls/s 64,000 of them linger through Timer J, K or the 2xx's 64·T1. Here
//! the key lives once, in the transaction's entry; an index maps a 64-bit fingerprint of
//! it (seeded, so peers cannot aim at one) to the entry's id, and the caller confirms a
//! candidate against the key it keeps. The index holds 16 bytes per entry and builds
//! nothing on a lookup.
//!
//! Two live keys with one fingerprint are still told apart: the second goes to a short
//! list that is searched only when the first candidate is not the one (with 64-bit
//! fingerprints the list stays empty in practice, but correctness does not depend on it).

use std::hash::{BuildHasher, Hash};

use foldhash::fast::FixedState;
use nohash_hasher::IntMap;

/// Fingerprints of keys, seeded from the engine's seed.
#[derive(Debug, Clone)]
pub(crate) struct Fingerprints(FixedState);

impl Fingerprints {
    pub(crate) fn new(seed: u64) -> Self {
        Self(FixedState::with_seed(seed))
    }

    /// The fingerprint of a key (the same for a borrowed view and its owned key, as
    /// long as both hash the same fields the same way).
    pub(crate) fn of<K: Hash + ?Sized>(&self, key: &K) -> u64 {
        self.0.hash_one(key)
    }
}

/// Ids by fingerprint.
#[derive(Debug, Default)]
pub(crate) struct FpIndex {
    first: IntMap<u64, u64>,
    /// Ids whose fingerprint another live id held when they were added.
    collided: Vec<(u64, u64)>,
}

impl FpIndex {
    /// The id under `fp` that `is_it` accepts.
    pub(crate) fn find(&self, fp: u64, mut is_it: impl FnMut(u64) -> bool) -> Option<u64> {
        let id = *self.first.get(&fp)?;
        if is_it(id) {
            return Some(id);
        }
        self.collided.iter().find(|&&(f, id)| f == fp && is_it(id)).map(|&(_, id)| id)
    }

    /// Whether any id is filed under `fp`.
    #[cfg(test)]
    pub(crate) fn contains(&self, fp: u64) -> bool {
        self.first.contains_key(&fp)
    }

    /// File `id` under `fp`.
    pub(crate) fn insert(&mut self, fp: u64, id: u64) {
        match self.first.entry(fp) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.collided.push((fp, id)),
        }
    }

    /// Remove `id` from under `fp`; an id that collided with it takes its place.
    pub(crate) fn remove(&mut self, fp: u64, id: u64) {
        if self.first.get(&fp) == Some(&id) {
            self.first.remove(&fp);
            if let Some(i) = self.collided.iter().position(|&(f, _)| f == fp) {
                let (_, next) = self.collided.swap_remove(i);
                self.first.insert(fp, next);
            }
        } else if let Some(i) = self.collided.iter().position(|&e| e == (fp, id)) {
            self.collided.swap_remove(i);
        }
    }

    /// Ids filed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.first.len() + self.collided.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_ids_are_told_apart_by_the_callers_check_and_survive_removal() {
        let mut ix = FpIndex::default();
        ix.insert(7, 1);
        ix.insert(7, 2);
        ix.insert(7, 3);
        ix.insert(9, 4);
        assert_eq!(ix.find(7, |id| id == 2), Some(2));
        assert_eq!(ix.find(7, |id| id == 3), Some(3));
        assert_eq!(ix.find(7, |id| id == 5), None);
        assert_eq!(ix.find(8, |_| true), None);
        ix.remove(7, 1);
        assert!(ix.contains(7), "a collided id took the removed one's place");
        assert_eq!(ix.find(7, |id| id == 2), Some(2));
        assert_eq!(ix.find(7, |id| id == 3), Some(3));
        assert_eq!(ix.find(7, |id| id == 1), None);
        ix.remove(7, 3);
        ix.remove(7, 2);
        assert!(!ix.contains(7));
        ix.remove(9, 5);
        assert_eq!(ix.find(9, |id| id == 4), Some(4), "removing an id not filed changes nothing");
        assert_eq!(ix.len(), 1);
    }

    #[test]
    fn a_view_and_its_owned_key_share_a_fingerprint() {
        let fp = Fingerprints::new(42);
        let owned = (String::from("z9hG4bK1"), 5060u16);
        let view: (&str, u16) = ("z9hG4bK1", 5060);
        assert_eq!(fp.of(&owned), fp.of(&view));
        assert_ne!(fp.of(&owned), Fingerprints::new(43).of(&owned), "the seed matters");
    }
}
