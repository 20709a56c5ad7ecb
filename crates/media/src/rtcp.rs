//! RTCP on the legs svar sends on (RFC 3550 §6). svar re-originates every leg's stream
//! (its own SSRC, sequence and timestamps, so a leg hears one continuous stream from
//! prompt to conversation), which makes it a mixer in RFC 3550 §7's terms: the phones'
//! reports describe streams that do not exist on the other leg, so svar ends RTCP on each
//! leg and reports there itself, a sender report about what it sent to that leg with a
//! report block about what it received from it, every five seconds, each compound packet
//! with the SDES CNAME §6.1 requires. What a phone reports about svar's stream (loss and
//! jitter it saw) is kept as the leg's quality.

use std::time::{Duration, Instant};

use rtcp_types::{
    Compound, Packet, ReceiverReport, ReportBlock, ReportBlockBuilder, RtcpPacketWriterExt, Sdes, SdesItem,
    SenderReport,
};

/// How often a leg gets a report (RFC 3550 §6.2's five-second minimum).
pub const INTERVAL: Duration = Duration::from_secs(5);

/// Reception statistics for the stream coming from a leg (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone, Default)]
pub struct ReceiveStats {
    ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<i64>,
    /// Interarrival jitter in timestamp units, times 16 (A.8's integer form).
    jitter16: i64,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiveStats {
    /// A packet arrived; `arrival` is the arrival time in the stream's timestamp units.
    pub fn packet(&mut self, ssrc: u32, seq: u16, timestamp: u32, arrival: u64) {
        if self.ssrc != Some(ssrc) {
            *self = Self { ssrc: Some(ssrc), base_seq: u32::from(seq), max_seq: seq, ..Self::default() };
        } else {
            let delta = seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < 0x8000 {
                if seq < self.max_seq {
                    self.cycles += 1 << 16;
                }
                self.max_seq = seq;
            }
        }
        self.received += 1;
        let transit = arrival as i64 - i64::from(timestamp);
        if let Some(prev) = self.transit {
            // A.8: J += (|D| - J) / 16, kept scaled by 16
            let d = (transit - prev).abs();
            self.jitter16 += d - ((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Has the leg sent anything?
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.ssrc.is_some()
    }

    /// The leg's sender report arrived (for LSR/DLSR in the next report block).
    pub fn sender_report(&mut self, ntp: u64, now: Instant) {
        self.last_sr = Some(((ntp >> 16) as u32, now));
    }

    fn extended_max(&self) -> u32 {
        self.cycles + u32::from(self.max_seq)
    }

    /// Packets expected so far minus packets received (may be negative with duplicates).
    #[must_use]
    pub fn cumulative_lost(&self) -> i64 {
        let expected = i64::from(self.extended_max()) - i64::from(self.base_seq) + 1;
        expected - i64::from(self.received)
    }

    /// Jitter in timestamp units.
    #[must_use]
    pub fn jitter(&self) -> u32 {
        (self.jitter16 >> 4) as u32
    }

    /// A report block about this stream; the loss fraction covers the time since the
    /// last one (A.3).
    fn block(&mut self, now: Instant) -> Option<ReportBlockBuilder> {
        let ssrc = self.ssrc?;
        let expected = self.extended_max().wrapping_sub(self.base_seq).wrapping_add(1);
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)) as u8
        };
        let cumulative = self.cumulative_lost().clamp(-0x80_0000, 0x7F_FFFF);
        let (lsr, dlsr) = self.last_sr.map_or((0, 0), |(lsr, at)| {
            // DLSR in units of 1/65536 s
            (lsr, (now.saturating_duration_since(at).as_micros() * 65_536 / 1_000_000) as u32)
        });
        Some(
            ReportBlock::builder(ssrc)
                .fraction_lost(fraction)
                .cumulative_lost((cumulative as u32) & 0x00FF_FFFF)
                .extended_sequence_number(self.extended_max())
                .interarrival_jitter(self.jitter())
                .last_sender_report_timestamp(lsr)
                .delay_since_last_sender_report_timestamp(dlsr),
        )
    }
}

/// What svar sent on a leg since the call began.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendStats {
    /// Packets.
    pub packets: u32,
    /// Payload octets.
    pub octets: u32,
    /// The RTP timestamp of the last packet and when it was sent.
    pub last: Option<(u32, Instant)>,
}

impl SendStats {
    /// A packet went out.
    pub fn sent(&mut self, timestamp: u32, payload: usize, now: Instant) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload as u32);
        self.last = Some((timestamp, now));
    }
}

/// What the phone on a leg reports about the stream svar sends it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteQuality {
    /// Loss fraction of the last interval, out of 256.
    pub fraction_lost: u8,
    /// Packets lost in all.
    pub cumulative_lost: u32,
    /// Jitter in timestamp units (1/8 ms at 8 kHz).
    pub jitter: u32,
}

/// NTP time (RFC 3550 §4: seconds since 1900 in 32.32 fixed point) for a Unix time in
/// microseconds.
#[must_use]
pub fn ntp_from_unix_micros(us: u64) -> u64 {
    const UNIX_TO_NTP: u64 = 2_208_988_800;
    let secs = us / 1_000_000 + UNIX_TO_NTP;
    let frac = ((us % 1_000_000) << 32) / 1_000_000;
    (secs << 32) | frac
}

/// A report for a leg: a sender report when svar sent anything since the last one, else
/// a receiver report; the block about the leg's stream when it sent anything; CNAME.
#[must_use]
pub fn report(
    ssrc: u32,
    cname: &str,
    sent: &SendStats,
    sent_since_last: bool,
    received: &mut ReceiveStats,
    ntp: u64,
    now: Instant,
) -> Vec<u8> {
    let block = received.block(now);
    let sdes = Sdes::builder()
        .add_chunk(rtcp_types::SdesChunk::builder(ssrc).add_item(SdesItem::builder(SdesItem::CNAME, cname)));
    let compound = if sent_since_last {
        // The RTP timestamp that corresponds to `now` on this stream's clock (8 kHz).
        let rtp = sent
            .last
            .map_or(0, |(ts, at)| ts.wrapping_add((now.saturating_duration_since(at).as_micros() / 125) as u32));
        let mut sr = SenderReport::builder(ssrc)
            .ntp_timestamp(ntp)
            .rtp_timestamp(rtp)
            .packet_count(sent.packets)
            .octet_count(sent.octets);
        if let Some(b) = block {
            sr = sr.add_report_block(b);
        }
        Compound::builder().add_packet(sr).add_packet(sdes)
    } else {
        let mut rr = ReceiverReport::builder(ssrc);
        if let Some(b) = block {
            rr = rr.add_report_block(b);
        }
        Compound::builder().add_packet(rr).add_packet(sdes)
    };
    let mut buf = vec![0u8; 1500];
    match compound.write_into(&mut buf) {
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(_) => Vec::new(),
    }
}

/// What a leg's RTCP says: its sender report's NTP time (for LSR) and what it reports
/// about `our_ssrc`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heard {
    /// NTP time of its sender report, if it sent one.
    pub sender_ntp: Option<u64>,
    /// Its report on svar's stream, if any.
    pub about_us: Option<RemoteQuality>,
    /// It said goodbye (BYE).
    pub bye: bool,
}

/// Read a compound RTCP packet from a leg.
///
/// # Errors
/// Not RTCP.
pub fn read(data: &[u8], our_ssrc: u32) -> Result<Heard, rtcp_types::RtcpParseError> {
    let mut heard = Heard::default();
    let quality = |b: ReportBlock<'_>| RemoteQuality {
        fraction_lost: b.fraction_lost(),
        cumulative_lost: b.cumulative_lost(),
        jitter: b.interarrival_jitter(),
    };
    for p in Compound::parse(data)? {
        match p? {
            Packet::Sr(sr) => {
                heard.sender_ntp = Some(sr.ntp_timestamp());
                if let Some(b) = sr.report_blocks().find(|b| b.ssrc() == our_ssrc) {
                    heard.about_us = Some(quality(b));
                }
            }
            Packet::Rr(rr) => {
                if let Some(b) = rr.report_blocks().find(|b| b.ssrc() == our_ssrc) {
                    heard.about_us = Some(quality(b));
                }
            }
            Packet::Bye(_) => heard.bye = true,
            _ => {}
        }
    }
    Ok(heard)
}
