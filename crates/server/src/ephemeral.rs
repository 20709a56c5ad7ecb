//! Whether the RTP port range overlaps the kernel's ephemeral ports (those it picks for
//! outgoing connections and unbound sockets, `net.ipv4.ip_local_port_range`) without
//! their being reserved (`net.ipv4.ip_local_reserved_ports`). Linux's defaults
//! (32768–60999) overlap svar's default range (20000–39999): any program's outgoing
//! socket may then hold a port svar needs, and the call given that port block fails (the
//! block is set aside for 10 minutes, `media::ports::SET_ASIDE`).

use std::ops::RangeInclusive;

/// The ports of `rtp` that are ephemeral and not reserved, as ranges, from the two
/// sysctl files' text. `None` when the files do not read as the kernel writes them.
#[must_use]
pub(crate) fn unreserved_overlap(
    rtp: RangeInclusive<u16>,
    local_port_range: &str,
    reserved: &str,
) -> Option<Vec<RangeInclusive<u16>>> {
    let mut bounds = local_port_range.split_whitespace().map(str::parse::<u16>);
    let (Some(Ok(lo)), Some(Ok(hi)), None) = (bounds.next(), bounds.next(), bounds.next()) else { return None };
    let mut reserved_ranges = Vec::new();
    for item in reserved.trim().split(',').filter(|s| !s.is_empty()) {
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        reserved_ranges.push(a.trim().parse::<u16>().ok()?..=b.trim().parse::<u16>().ok()?);
    }
    let (start, end) = ((*rtp.start()).max(lo), (*rtp.end()).min(hi));
    let mut out: Vec<RangeInclusive<u16>> = Vec::new();
    for port in start..=end {
        if reserved_ranges.iter().any(|r| r.contains(&port)) {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.end().checked_add(1) == Some(port) => *last = *last.start()..=port,
            _ => out.push(port..=port),
        }
    }
    Some(out)
}

/// Read the sysctls and describe the unreserved overlap with `rtp`, if any: the text of
/// a warning, with the line that reserves the ports.
#[must_use]
pub(crate) fn check(rtp: RangeInclusive<u16>) -> Option<String> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let reserved = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports").unwrap_or_default();
    let overlap = unreserved_overlap(rtp.clone(), &range, &reserved)?;
    let ports: usize = overlap.iter().map(|r| usize::from(*r.end() - *r.start()) + 1).sum();
    if ports == 0 {
        return None;
    }
    let (first, last) = (overlap.first().map_or(0, |r| *r.start()), overlap.last().map_or(0, |r| *r.end()));
    Some(format!(
        "{ports} of the RTP ports {}-{} are also the kernel's ephemeral ports ({}); another program's socket \
         may hold one and fail a call. Reserve them: sysctl -w net.ipv4.ip_local_reserved_ports={first}-{last} \
         (or choose [media] ports below {})",
        rtp.start(),
        rtp.end(),
        range.split_whitespace().collect::<Vec<_>>().join("-"),
        range.split_whitespace().next().unwrap_or("32768"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ranges_overlap_and_a_reservation_removes_the_overlap() {
        // Linux's default ephemeral range against svar's default RTP range
        assert_eq!(unreserved_overlap(20_000..=39_999, "32768\t60999\n", "\n"), Some(vec![32_768..=39_999]));
        // reserved in part: what is left, as ranges
        assert_eq!(
            unreserved_overlap(20_000..=39_999, "32768\t60999\n", "33000-33999,35000\n"),
            Some(vec![32_768..=32_999, 34_000..=34_999, 35_001..=39_999])
        );
        assert_eq!(unreserved_overlap(20_000..=39_999, "32768 60999", "32768-39999"), Some(vec![]));
        // a range below the ephemeral ports does not overlap
        assert_eq!(unreserved_overlap(10_000..=20_000, "32768 60999", ""), Some(vec![]));
        // text the kernel would not write is no answer, not a guess
        assert_eq!(unreserved_overlap(10_000..=20_000, "32768", ""), None);
        assert_eq!(unreserved_overlap(10_000..=20_000, "32768 60999", "x-y"), None);
    }
}
