//! Deadlines in first-in-first-out lanes, one lane per delay.
//!
//! Every transaction timer runs for one of a handful of delays (T1 doubled up to T2, T4,
//! 64·T1). Deadlines armed with the same delay fall due in the order they were armed,
//! so each delay gets a plain queue: arming appends, expiry pops the front, and the next
//! deadline is the earliest of a few fronts. A binary heap over every transaction was
//! `O(log n)` cache misses per expiry: at 1,000 calls/s some 64,000 transactions linger
//! (Timers J, L, M run 64·T1), and sifting the heap's 2 MB was half of `handle_input`'s
//! own `perf` samples. A deadline whose delay has no lane (more
//! than [`MAX_LANES`] distinct delays) or that would fall before its lane's last one
//! (a clock that went back) goes to a small heap instead, so the order is always exact.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

/// More distinct delays than this go to the heap (the RFC timers need about seven).
pub const MAX_LANES: usize = 16;

#[derive(Debug)]
struct Lane<T> {
    delay: Duration,
    queue: VecDeque<(Instant, T)>,
}

/// Deadlines carrying a `T` each, popped in time order.
#[derive(Debug)]
pub struct Deadlines<T> {
    lanes: Vec<Lane<T>>,
    heap: BinaryHeap<Reverse<(Instant, T)>>,
}

impl<T: Copy + Ord> Default for Deadlines<T> {
    fn default() -> Self {
        Self { lanes: Vec::new(), heap: BinaryHeap::new() }
    }
}

impl<T: Copy + Ord> Deadlines<T> {
    /// Add a deadline `at`, armed at `now`.
    pub fn push(&mut self, now: Instant, at: Instant, item: T) {
        let delay = at.saturating_duration_since(now);
        let lane = match self.lanes.iter().position(|l| l.delay == delay) {
            Some(i) => Some(i),
            None if self.lanes.len() < MAX_LANES => {
                self.lanes.push(Lane { delay, queue: VecDeque::new() });
                Some(self.lanes.len() - 1)
            }
            None => None,
        };
        match lane.map(|i| &mut self.lanes[i].queue) {
            Some(q) if q.back().is_none_or(|&(last, _)| last <= at) => q.push_back((at, item)),
            _ => self.heap.push(Reverse((at, item))),
        }
    }

    /// The earliest deadline.
    #[must_use]
    pub fn next(&self) -> Option<Instant> {
        self.earliest().map(|(at, _)| at)
    }

    /// Remove and return the earliest deadline if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, T)> {
        match self.earliest()? {
            (at, _) if at > now => None,
            (_, Some(i)) => self.lanes[i].queue.pop_front(),
            (_, None) => self.heap.pop().map(|Reverse(d)| d),
        }
    }

    /// The earliest deadline and where it waits: a lane's index, or `None` for the heap.
    fn earliest(&self) -> Option<(Instant, Option<usize>)> {
        let mut best: Option<(Instant, Option<usize>)> = self.heap.peek().map(|Reverse((at, _))| (*at, None));
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(&(at, _)) = lane.queue.front()
                && best.is_none_or(|(b, _)| at < b)
            {
                best = Some((at, Some(i)));
            }
        }
        best
    }

    /// Deadlines held, including those whose item has since gone.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lanes.iter().map(|l| l.queue.len()).sum::<usize>() + self.heap.len()
    }

    /// True when no deadline is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(d: &mut Deadlines<u32>, now: Instant) -> Vec<u32> {
        std::iter::from_fn(|| d.pop_due(now).map(|(_, x)| x)).collect()
    }

    #[test]
    fn deadlines_of_different_delays_pop_in_time_order() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Deadlines::default();
        d.push(t0, t0 + ms(32_000), 1);
        d.push(t0, t0 + ms(500), 2);
        d.push(t0 + ms(100), t0 + ms(600), 3);
        d.push(t0 + ms(100), t0 + ms(5_100), 4);
        d.push(t0 + ms(200), t0 + ms(1_200), 5);
        assert_eq!(d.next(), Some(t0 + ms(500)));
        assert_eq!(d.pop_due(t0 + ms(499)), None, "nothing is due early");
        assert_eq!(drain(&mut d, t0 + ms(1_200)), vec![2, 3, 5]);
        assert_eq!(d.next(), Some(t0 + ms(5_100)));
        assert_eq!(drain(&mut d, t0 + ms(40_000)), vec![4, 1]);
        assert!(d.is_empty());
        assert_eq!(d.next(), None);
    }

    #[test]
    fn a_deadline_before_its_lanes_last_still_pops_first() {
        // the same delay armed at an earlier `now` after a later one (a clock that went
        // back, or a caller passing an old instant): the heap keeps the order exact
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut d = Deadlines::default();
        d.push(t0 + s(10), t0 + s(12), 1);
        d.push(t0, t0 + s(2), 2);
        assert_eq!(d.len(), 2);
        assert_eq!(drain(&mut d, t0 + s(20)), vec![2, 1]);
    }

    #[test]
    fn more_delays_than_lanes_go_to_the_heap_in_order() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let n = (MAX_LANES + 8) as u32;
        // delays 24, 23, ..., 1 ms: every one its own delay, due in reverse push order
        for i in 0..n {
            d.push(t0, t0 + Duration::from_millis(u64::from(n - i)), i);
        }
        assert_eq!(d.lanes.len(), MAX_LANES);
        assert_eq!(d.heap.len(), 8);
        assert_eq!(drain(&mut d, t0 + Duration::from_secs(1)), (0..n).rev().collect::<Vec<_>>());
    }

    #[test]
    fn ties_pop_every_entry() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        for i in 0..5 {
            d.push(t0, t0 + Duration::from_secs(1), i);
        }
        assert_eq!(drain(&mut d, t0 + Duration::from_secs(1)), vec![0, 1, 2, 3, 4]);
    }
}
