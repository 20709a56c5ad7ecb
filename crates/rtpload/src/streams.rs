//! The streams: for every call, a 20 ms G.711 packet each way; each packet carries its
//! stream and the time it was sent, so the receiving side measures loss and the transit
//! time through the relay. Added jitter is a packet's transit minus the least transit of
//! its stream (what the relay added on top of its best case), reported as percentiles.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtp_types::{RtpPacket, RtpPacketBuilder};

/// Where each call's two sides send: the relay's port facing A and facing B.
pub(crate) type Targets = Vec<(SocketAddr, SocketAddr)>;

/// What a run measured.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// Packets sent (both directions).
    pub(crate) sent: u64,
    /// Packets received back from the relay.
    pub(crate) received: u64,
    /// Microseconds of added transit at the 50th, 99th percentile and the maximum.
    pub(crate) jitter_us: (u64, u64, u64),
    /// Packets that arrived for a stream they were not sent on (a relay mixing calls up).
    pub(crate) misrouted: u64,
}

const FRAME: Duration = Duration::from_millis(20);

fn packet(stream: u32, seq: u16, sent_ns: u64) -> Vec<u8> {
    let mut payload = [0xFFu8; 160];
    payload[..4].copy_from_slice(&stream.to_be_bytes());
    payload[4..12].copy_from_slice(&sent_ns.to_be_bytes());
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(0)
        .sequence_number(seq)
        .timestamp(u32::from(seq).wrapping_mul(160))
        .ssrc(stream)
        .payload(&payload[..])
        .write_vec_unchecked()
}

struct Received {
    transits: Vec<(u32, u32)>,
    misrouted: u64,
}

/// Receive on one side until told to stop: (stream, transit µs) per packet.
fn receive(socket: &UdpSocket, start: Instant, expect_dir: u32, stop: &AtomicBool) -> Received {
    let mut out = Received { transits: Vec::with_capacity(1 << 20), misrouted: 0 };
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok(n) = socket.recv(&mut buf) else { continue };
        let Ok(p) = RtpPacket::parse(&buf[..n]) else { continue };
        let payload = p.payload();
        if payload.len() < 12 {
            continue;
        }
        let now = start.elapsed().as_nanos() as u64;
        let stream = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
        let mut sent = [0u8; 8];
        sent.copy_from_slice(&payload[4..12]);
        let sent = u64::from_be_bytes(sent);
        if stream % 2 != expect_dir {
            out.misrouted += 1;
            continue;
        }
        out.transits.push((stream, (now.saturating_sub(sent) / 1000) as u32));
    }
    out
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Stream every call both ways for `seconds` from sockets `a` (every A side) and `b`
/// (every B side).
///
/// # Errors
/// A socket could not be cloned.
pub(crate) fn run(targets: &Targets, a: UdpSocket, b: UdpSocket, seconds: u64) -> std::io::Result<Report> {
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
    }
    // A's packets arrive at B's socket (stream 2k), B's at A's (stream 2k + 1)
    let rx_b = {
        let (s, stop) = (b.try_clone()?, stop.clone());
        std::thread::spawn(move || receive(&s, start, 0, &stop))
    };
    let rx_a = {
        let (s, stop) = (a.try_clone()?, stop.clone());
        std::thread::spawn(move || receive(&s, start, 1, &stop))
    };
    let sent = AtomicU64::new(0);
    let frames = seconds * 50;
    // Phones are not in step: each call sends at its own phase of the 20 ms frame, in
    // twenty 1 ms slots, so the relay sees a steady stream rather than one burst.
    let slots = 20u32;
    for f in 0..frames {
        let frame_start = start + FRAME * u32::try_from(f).unwrap_or(u32::MAX);
        let seq = f as u16;
        for slot in 0..slots {
            let due = frame_start + Duration::from_millis(u64::from(slot));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            for (k, (to_a_side, to_b_side)) in targets.iter().enumerate().skip(slot as usize).step_by(slots as usize) {
                let k = k as u32;
                let now = start.elapsed().as_nanos() as u64;
                if a.send_to(&packet(2 * k, seq, now), to_a_side).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                let now = start.elapsed().as_nanos() as u64;
                if b.send_to(&packet(2 * k + 1, seq, now), to_b_side).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    // let the last packets arrive
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (ra, rb) = (
        rx_a.join().unwrap_or(Received { transits: vec![], misrouted: 0 }),
        rx_b.join().unwrap_or(Received { transits: vec![], misrouted: 0 }),
    );
    let streams = targets.len() * 2;
    let mut least = vec![u32::MAX; streams];
    for &(s, t) in ra.transits.iter().chain(&rb.transits) {
        if let Some(l) = least.get_mut(s as usize) {
            *l = (*l).min(t);
        }
    }
    let mut added: Vec<u64> = ra
        .transits
        .iter()
        .chain(&rb.transits)
        .filter_map(|&(s, t)| least.get(s as usize).map(|&l| u64::from(t - l)))
        .collect();
    added.sort_unstable();
    Ok(Report {
        sent: sent.load(Ordering::Relaxed),
        received: (ra.transits.len() + rb.transits.len()) as u64,
        jitter_us: (percentile(&added, 0.5), percentile(&added, 0.99), added.last().copied().unwrap_or(0)),
        misrouted: ra.misrouted + rb.misrouted,
    })
}

/// What the IVR run measured: how svar's prompts arrived at the callers.
#[derive(Debug, Clone)]
pub(crate) struct IvrReport {
    /// Sessions whose prompt audio arrived (distinct SSRCs).
    pub(crate) sessions_heard: usize,
    /// Prompt packets received.
    pub(crate) received: u64,
    /// Deviation of packet spacing from 20 ms, µs: p50, p99, max.
    pub(crate) pacing_us: (u64, u64, u64),
}

/// IVR sessions: every caller sends its audio to svar (which listens for keys) and
/// hears the prompts svar plays; the spacing of the prompt packets per session shows
/// whether svar's 20 ms media clock holds under the load.
///
/// # Errors
/// A socket could not be cloned.
pub(crate) fn ivr(targets: &[SocketAddr], a: UdpSocket, seconds: u64) -> std::io::Result<IvrReport> {
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    a.set_read_timeout(Some(Duration::from_millis(100)))?;
    let rx = {
        let (s, stop) = (a.try_clone()?, stop.clone());
        std::thread::spawn(move || {
            let mut arrivals: Vec<(u32, u64)> = Vec::with_capacity(1 << 20);
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let Ok(n) = s.recv(&mut buf) else { continue };
                if let Ok(p) = RtpPacket::parse(&buf[..n]) {
                    arrivals.push((p.ssrc(), start.elapsed().as_nanos() as u64));
                }
            }
            arrivals
        })
    };
    let slots = 20u32;
    for f in 0..seconds * 50 {
        let frame_start = start + FRAME * u32::try_from(f).unwrap_or(u32::MAX);
        for slot in 0..slots {
            let due = frame_start + Duration::from_millis(u64::from(slot));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            for (k, to) in targets.iter().enumerate().skip(slot as usize).step_by(slots as usize) {
                let _ = a.send_to(&packet(2 * k as u32, f as u16, 0), to);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut arrivals = rx.join().unwrap_or_default();
    arrivals.sort_unstable();
    let mut deviations: Vec<u64> = arrivals
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| (w[1].1.saturating_sub(w[0].1) as i64 - 20_000_000).unsigned_abs() / 1000)
        .collect();
    deviations.sort_unstable();
    let mut ssrcs: Vec<u32> = arrivals.iter().map(|a| a.0).collect();
    ssrcs.dedup();
    Ok(IvrReport {
        sessions_heard: ssrcs.len(),
        received: arrivals.len() as u64,
        pacing_us: (
            percentile(&deviations, 0.5),
            percentile(&deviations, 0.99),
            deviations.last().copied().unwrap_or(0),
        ),
    })
}
