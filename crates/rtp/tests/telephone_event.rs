//! RFC 4733 key presses from packet sequences as networks deliver them.

use proptest::prelude::*;
use rtp::Key;
use rtp::telephone_event::{Detector, KeyEvent, Payload};

fn packets(key: char, timestamp: u32, steps: u16) -> Vec<(u32, Payload)> {
    let event = Key::from_char(key).expect("key").event_code();
    let mut out: Vec<(u32, Payload)> =
        (1..=steps).map(|i| (timestamp, Payload { event, end: false, volume: 10, duration: i * 160 })).collect();
    // The end packet, three times (RFC 4733 §2.5.1.4).
    for _ in 0..3 {
        out.push((timestamp, Payload { event, end: true, volume: 10, duration: steps * 160 + 160 }));
    }
    out
}

fn keys(events: &[KeyEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            KeyEvent::End { key, .. } => Some(key.as_char()),
            KeyEvent::Start { .. } => None,
        })
        .collect()
}

fn run(stream: &[(u32, Payload)]) -> Vec<KeyEvent> {
    let mut d = Detector::new();
    let mut out: Vec<KeyEvent> = stream.iter().flat_map(|(ts, p)| d.packet(*ts, *p)).collect();
    out.extend(d.flush());
    out
}

#[test]
fn the_payload_round_trips() {
    let p = Payload { event: 11, end: true, volume: 10, duration: 1280 };
    assert_eq!(p.to_bytes(), [11, 0x8A, 0x05, 0x00]);
    assert_eq!(Payload::parse(&p.to_bytes()), Ok(p));
    assert!(Payload::parse(&[1, 2, 3]).is_err());
}

#[test]
fn one_press_is_one_start_and_one_end_despite_the_triple_end() {
    let events = run(&packets('5', 1000, 6));
    assert_eq!(
        events,
        vec![
            KeyEvent::Start { key: Key::from_char('5').expect("k"), timestamp: 1000 },
            KeyEvent::End { key: Key::from_char('5').expect("k"), timestamp: 1000, duration: 1120 },
        ]
    );
}

#[test]
fn duplicates_and_late_packets_are_ignored() {
    let mut stream = packets('1', 8000, 4);
    stream.insert(2, stream[1]);
    let mut second = packets('2', 16_000, 4);
    second.insert(1, (8000, stream[0].1)); // a late packet of the first key
    stream.extend(second);
    assert_eq!(keys(&run(&stream)), "12");
}

#[test]
fn a_key_whose_end_packets_were_lost_ends_when_the_next_starts() {
    let mut first = packets('4', 100, 5);
    first.truncate(5); // all three end packets lost
    let mut stream = first;
    stream.extend(packets('#', 4000, 5));
    let events = run(&stream);
    assert_eq!(keys(&events), "4#");
    assert!(events.contains(&KeyEvent::End { key: Key::from_char('4').expect("k"), timestamp: 100, duration: 800 }));
}

#[test]
fn the_last_key_ends_on_flush_when_its_end_was_lost() {
    let mut stream = packets('9', 100, 5);
    stream.truncate(5);
    let mut d = Detector::new();
    let events: Vec<KeyEvent> = stream.iter().flat_map(|(ts, p)| d.packet(*ts, *p)).collect();
    assert_eq!(keys(&events), "");
    assert_eq!(keys(&[d.flush().expect("an end")]), "9");
    assert_eq!(d.flush(), None, "ended once");
}

#[test]
fn timestamps_wrap_around() {
    let mut stream = packets('7', u32::MAX - 80, 3);
    stream.extend(packets('8', 2000, 3));
    assert_eq!(keys(&run(&stream)), "78");
}

proptest! {
    /// Whatever the network does to the packets of a sequence of presses (duplicates,
    /// local reordering, loss of anything but each press's first packet), each press is
    /// reported exactly once and in order.
    #[test]
    fn every_press_once_and_in_order(
        digits in prop::collection::vec(0u8..12, 1..12),
        dup in prop::collection::vec(0usize..3, 120),
        drop in prop::collection::vec(prop::bool::weighted(0.15), 120),
        swap in prop::collection::vec(prop::bool::weighted(0.2), 120),
    ) {
        let mut stream = Vec::new();
        let mut ts = 12_345u32;
        let mut expected = String::new();
        for d in &digits {
            let key = Key::from_event(*d).expect("key");
            expected.push(key.as_char());
            let mut press = packets(key.as_char(), ts, 4);
            let mut kept = vec![press.remove(0)];
            for (i, p) in press.into_iter().enumerate() {
                if !drop[(i + ts as usize) % drop.len()] {
                    kept.push(p);
                }
            }
            stream.extend(kept);
            ts = ts.wrapping_add(2400);
        }
        let mut noisy = Vec::new();
        for (i, p) in stream.iter().enumerate() {
            for _ in 0..=dup[i % dup.len()] {
                noisy.push(*p);
            }
        }
        // Swap neighbours inside one press only (presses are 300 ms apart).
        for i in 1..noisy.len() {
            if swap[i % swap.len()] && noisy[i].0 == noisy[i - 1].0 {
                noisy.swap(i, i - 1);
            }
        }
        prop_assert_eq!(keys(&run(&noisy)), expected);
    }
}
