//! A first-in-first-out queue kept in fixed-size blocks, for the engine's long queues
//! whose entries all wait the same time (completed transactions for Timer J, nonces for
//! their lifetime): at 2,000 REGISTERs/s those hold 64,000 and more entries.
//!
//! A `VecDeque` that long grows by doubling: each time it allocates twice the memory,
//! copies every entry across and frees the old buffer, so a server taking on load
//! touched fresh pages for about twice its queue's final size, all on the SIP thread
//! (page faults, and copies that missed every cache; BENCHMARKS.md, session 19). Here an
//! entry is written once, into the back block; a block whose entries have all left is
//! kept as the spare for the next one, so a queue at a steady length allocates nothing.
//! Entries are also reachable by their place in arrival order (`get`), which the
//! completed store's indexes use.

use std::collections::VecDeque;

/// The FIFO. `BLOCK` entries per block.
#[derive(Debug)]
pub(crate) struct Fifo<T, const BLOCK: usize> {
    /// Oldest first. No block is empty, and every block but the first and the last is
    /// full.
    blocks: VecDeque<VecDeque<T>>,
    /// An emptied block, kept for the next one needed.
    spare: Option<VecDeque<T>>,
}

impl<T, const BLOCK: usize> Default for Fifo<T, BLOCK> {
    fn default() -> Self {
        Self { blocks: VecDeque::new(), spare: None }
    }
}

impl<T, const BLOCK: usize> Fifo<T, BLOCK> {
    /// Add at the back.
    pub(crate) fn push_back(&mut self, value: T) {
        match self.blocks.back_mut() {
            Some(last) if last.len() < BLOCK => last.push_back(value),
            _ => {
                let mut block = self.spare.take().unwrap_or_else(|| VecDeque::with_capacity(BLOCK));
                block.push_back(value);
                self.blocks.push_back(block);
            }
        }
    }

    /// Take the oldest.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let first = self.blocks.front_mut()?;
        let value = first.pop_front();
        if first.is_empty() {
            self.spare = self.blocks.pop_front();
        }
        value
    }

    /// The oldest.
    pub(crate) fn front(&self) -> Option<&T> {
        self.blocks.front()?.front()
    }

    /// The entry `index` places after the oldest.
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        let first = self.blocks.front()?;
        if index < first.len() {
            return first.get(index);
        }
        let rest = index - first.len();
        self.blocks.get(1 + rest / BLOCK)?.get(rest % BLOCK)
    }

    pub(crate) fn len(&self) -> usize {
        match (self.blocks.front(), self.blocks.back()) {
            (Some(first), Some(last)) if self.blocks.len() > 1 => {
                first.len() + (self.blocks.len() - 2) * BLOCK + last.len()
            }
            (Some(only), _) => only.len(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::Fifo;

    proptest! {
        /// Any sequence of pushes and pops leaves the same queue as a `VecDeque` given
        /// the same, read at every place.
        #[test]
        fn behaves_as_a_vecdeque(ops in proptest::collection::vec(any::<Option<u16>>(), 0..600)) {
            let mut fifo = Fifo::<u16, 7>::default();
            let mut model = VecDeque::new();
            for op in ops {
                match op {
                    Some(v) => {
                        fifo.push_back(v);
                        model.push_back(v);
                    }
                    None => prop_assert_eq!(fifo.pop_front(), model.pop_front()),
                }
                prop_assert_eq!(fifo.len(), model.len());
                prop_assert_eq!(fifo.front(), model.front());
                for i in 0..=model.len() {
                    prop_assert_eq!(fifo.get(i), model.get(i), "place {}", i);
                }
            }
        }
    }

    #[test]
    fn a_steady_queue_reuses_its_emptied_block() {
        let mut fifo = Fifo::<u32, 4>::default();
        for i in 0..4 {
            fifo.push_back(i);
        }
        for _ in 0..4 {
            fifo.pop_front();
        }
        let spare = fifo.spare.as_ref().map(|b| b.as_slices().0.as_ptr());
        assert!(spare.is_some(), "the emptied block is kept");
        fifo.push_back(9);
        assert!(fifo.spare.is_none(), "and taken for the next block");
        assert_eq!(fifo.blocks.front().map(|b| b.as_slices().0.as_ptr()), spare, "the same memory");
        assert_eq!(fifo.pop_front(), Some(9));
        assert_eq!(fifo.pop_front(), None);
    }
}
