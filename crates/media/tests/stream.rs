//! The outgoing stream stays continuous across sources; the pool hands out no port
//! twice and gets every one back; the ringback tone has its frequency and cadence.

use media::ports::{PortError, PortPool, QUARANTINE};
use media::stream::{Header, OutStream};
use media::tone::Cadence;
use proptest::prelude::*;

#[test]
fn a_prompt_then_the_other_party_then_music_then_a_new_party_is_one_stream() {
    let mut out = OutStream::new(0xCAFE, 65_530, 4_000_000_000);
    let mut sent: Vec<(u64, Header)> = Vec::new();
    // 1 s prompt, 20 ms frames.
    for i in 0..50u64 {
        sent.push((i * 160, out.own(i * 160)));
    }
    // The other party: their SSRC, sequence numbers near wrap, one loss, one swap.
    let clock0 = 50 * 160 + 40; // they start a little later
    let theirs: Vec<u16> = vec![65_534, 65_535, 0, 2, 1, 3, 4];
    for (k, s) in theirs.iter().enumerate() {
        let in_ts = 7u32.wrapping_sub(160 * 3).wrapping_add(u32::from(s.wrapping_sub(65_534)) * 160);
        sent.push((clock0 + k as u64 * 160, out.relay(clock0 + k as u64 * 160, 0xBEEF, *s, in_ts)));
    }
    // Music on hold for 200 ms, then a new party.
    let moh0 = clock0 + 7 * 160 + 500;
    for i in 0..10u64 {
        sent.push((moh0 + i * 160, out.own(moh0 + i * 160)));
    }
    let new0 = moh0 + 10 * 160 + 20;
    for k in 0..5u16 {
        sent.push((
            new0 + u64::from(k) * 160,
            out.relay(new0 + u64::from(k) * 160, 0x1234, 100 + k, 555 + u32::from(k) * 160),
        ));
    }

    assert!(sent.iter().all(|(_, h)| h.ssrc == 0xCAFE), "one SSRC");
    let markers: Vec<usize> = sent.iter().enumerate().filter(|(_, (_, h))| h.marker).map(|(i, _)| i).collect();
    assert_eq!(markers, vec![0, 50, 57, 67], "a marker on each change of source");
    // Sequence numbers: +1 everywhere except the other party's own loss and swap.
    let seqs: Vec<u16> = sent.iter().map(|(_, h)| h.seq).collect();
    assert_eq!(seqs[0], 65_530);
    assert_eq!(seqs[49].wrapping_add(1), seqs[50], "relay continues after the prompt");
    let relayed: Vec<u16> = seqs[50..57].iter().map(|s| s.wrapping_sub(seqs[50])).collect();
    assert_eq!(relayed, vec![0, 1, 2, 4, 3, 5, 6], "their gap and swap are kept");
    assert_eq!(seqs[56].wrapping_add(1), seqs[57], "music continues after the highest relayed");
    assert_eq!(seqs[66].wrapping_add(1), seqs[67], "the new party continues after the music");
    // Timestamps continue by the media time elapsed at each change of source.
    for &i in &markers[1..] {
        let (prev_clock, prev) = sent[..i].iter().max_by_key(|(c, h)| (*c, h.seq)).copied().expect("earlier");
        let (clock, h) = sent[i];
        assert_eq!(h.timestamp.wrapping_sub(prev.timestamp), (clock - prev_clock) as u32, "at packet {i}");
    }
    // Within the prompt, 160 per frame.
    assert!(sent[..50].windows(2).all(|w| w[1].1.timestamp.wrapping_sub(w[0].1.timestamp) == 160));
}

proptest! {
    /// Any mix of own frames and relayed sources: at every change of source the sequence
    /// number is one after the highest sent, and no source's packets collide.
    #[test]
    fn changes_of_source_continue_the_sequence(segments in prop::collection::vec((any::<bool>(), any::<u32>(), any::<u16>(), 1usize..30), 1..20)) {
        let mut out = OutStream::new(1, 0, 0);
        let mut clock = 0u64;
        let mut highest: Option<u16> = None;
        for (own, ssrc, seq0, n) in segments {
            for k in 0..n {
                let h = if own { out.own(clock) } else { out.relay(clock, ssrc, seq0.wrapping_add(k as u16), 0) };
                if k == 0 && let Some(hi) = highest {
                    // A relayed source with the same SSRC as the one before continues itself.
                    if h.marker {
                        prop_assert_eq!(h.seq, hi.wrapping_add(1));
                    }
                }
                highest = Some(match highest { Some(hi) if hi.wrapping_sub(h.seq) < 0x8000 => hi, _ => h.seq });
                clock += 160;
            }
        }
    }
}

#[test]
fn the_port_pool_gets_every_port_back_after_ten_thousand_calls() {
    let mut pool = PortPool::new(20_000, 20_100);
    let now = std::time::Instant::now();
    let total = pool.available();
    // blocks 20000–20003 … 20096–20099: the last port of the range would start no block
    assert_eq!(total, 25);
    let mut live = std::collections::VecDeque::new();
    for call in 0..10_000 {
        let port = pool.take(now).expect("a free block");
        assert_eq!(port % 2, 0, "RTP on even ports");
        assert!(port + 3 <= 20_100, "the whole block in the range");
        assert!(!live.contains(&port), "port {port} handed out twice");
        live.push_back(port);
        if live.len() > 15 || call % 7 == 0 {
            pool.release(live.pop_front().expect("one"), now).expect("in use");
        }
    }
    while let Some(p) = live.pop_front() {
        pool.release(p, now).expect("in use");
    }
    assert_eq!((pool.in_use(), pool.available()), (0, total), "no leak");
    assert_eq!(pool.release(20_000, now), Err(PortError::NotInUse(20_000)), "a double release is refused");
    for _ in 0..total {
        pool.take(now).expect("block");
    }
    assert_eq!(pool.take(now), Err(PortError::Exhausted(25)));
    // an odd first port and a range that ends mid-block
    let odd = PortPool::new(30_001, 30_010);
    assert_eq!(odd.available(), 2, "blocks at 30002 and 30006; 30010 alone is no block");
}

#[test]
fn a_released_block_rests_before_reuse_and_rested_blocks_come_before_new_ones() {
    let t0 = std::time::Instant::now();
    let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
    let mut pool = PortPool::new(20_000, 20_039); // ten blocks
    let first = pool.take(at(0)).expect("block");
    assert_eq!(first, 20_000, "lowest first");
    pool.release(first, at(10)).expect("in use");
    // still resting: a new block, not the one just released
    assert_eq!(pool.take(at(10) + QUARANTINE / 2).expect("block"), 20_004);
    // rested: it comes back before any block never used
    assert_eq!(pool.take(at(10) + QUARANTINE).expect("block"), 20_000);
    // at a steady rate the rotation stays small: one call every 100 ms, each held 1 s,
    // uses about (1 s + QUARANTINE) / 100 ms blocks and never the rest of the range
    let mut pool = PortPool::new(20_000, 29_999);
    let mut live: std::collections::VecDeque<(u16, u64)> = std::collections::VecDeque::new();
    let mut seen = std::collections::HashSet::new();
    for i in 0..2_000u64 {
        let now = i * 100;
        while live.front().is_some_and(|&(_, end)| end <= now) {
            let (p, end) = live.pop_front().expect("one");
            pool.release(p, at(end)).expect("in use");
        }
        let p = pool.take(at(now)).expect("block");
        seen.insert(p);
        live.push_back((p, now + 1_000));
    }
    let expected = (1_000 + QUARANTINE.as_millis() as usize) / 100;
    assert!(seen.len() <= expected + 2, "{} blocks in rotation, about {expected} expected", seen.len());
    // with every block busy or resting, a resting one is taken early rather than none
    let mut small = PortPool::new(20_000, 20_007); // two blocks
    let a = small.take(at(0)).expect("block");
    let _b = small.take(at(0)).expect("block");
    small.release(a, at(1)).expect("in use");
    assert_eq!(small.take(at(2)), Ok(a));
}

#[test]
fn danish_ringback_is_425_hz_one_second_on_four_off() {
    let mut tone = Cadence::danish_ringback();
    let frames: Vec<[i16; 160]> = (0..500).map(|_| tone.next_frame()).collect(); // 10 s
    let loud: Vec<bool> = frames.iter().map(|f| f.iter().any(|s| s.abs() > 1000)).collect();
    // On for 50 frames (1 s), off for 200 (4 s), twice.
    for (i, on) in loud.iter().enumerate() {
        assert_eq!(*on, (i % 250) < 50, "frame {i}");
    }
    // Frequency by zero crossings over the first second: 425 cycles, 850 crossings.
    let first: Vec<i16> = frames[..50].iter().flatten().copied().collect();
    let crossings = first.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    assert!((845..=855).contains(&crossings), "{crossings} zero crossings in 1 s");
    // The µ-law frames decode back to the tone.
    let mut tone = Cadence::danish_ringback();
    let ulaw = tone.next_ulaw();
    let back: Vec<i16> = ulaw.iter().map(|c| rtp::g711::ulaw_decode(*c)).collect();
    let reference = Cadence::danish_ringback().next_frame();
    assert!(back.iter().zip(reference.iter()).all(|(a, b)| (i32::from(*a) - i32::from(*b)).abs() < 300));
}

#[test]
fn a_block_that_could_not_be_bound_is_set_aside_then_tried_again_last() {
    use media::ports::SET_ASIDE;
    let t0 = std::time::Instant::now();
    let mut pool = PortPool::new(20_000, 20_011); // three blocks
    let taken = pool.take(t0).expect("block");
    assert_eq!(taken, 20_000);
    pool.set_aside(taken, t0).expect("in use");
    assert_eq!((pool.in_use(), pool.available(), pool.set_aside_count()), (0, 2, 1));
    assert_eq!(pool.set_aside(taken, t0), Err(PortError::NotInUse(taken)), "set aside once");
    // long past the quarantine, the other blocks go round and the set-aside one stays out
    let later = t0 + QUARANTINE * 10;
    for _ in 0..5 {
        let p = pool.take(later).expect("block");
        assert_ne!(p, taken, "a block set aside is not handed out");
        pool.release(p, later).expect("in use");
    }
    // once set aside long enough it comes back, after the blocks never used
    let much_later = t0 + SET_ASIDE;
    assert_eq!(pool.set_aside_count(), 1);
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(pool.take(much_later).expect("block"));
    }
    assert!(seen.contains(&taken), "tried again after {SET_ASIDE:?}: {seen:?}");
    assert_eq!((pool.set_aside_count(), pool.in_use()), (0, 3));
}
