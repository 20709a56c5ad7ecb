//! Grow the process's file-descriptor table once, at start, to hold every socket svar may
//! open.
//!
//! Linux grows a process's descriptor table by doubling when a new descriptor does not
//! fit, and in a process of more than one thread it then waits for an RCU grace period
//! (`expand_fdtable` calls `synchronize_rcu`): several milliseconds on this machine. An
//! anchored call binds four sockets, on the SIP thread, so a freshly started svar
//! stalled its SIP thread for 6–14 ms each time the table doubled: at 56, 120, 248, 504
//! and 1,016 calls (each call's setup in that moment was late by as much; BENCHMARKS.md,
//! session 16). The table never shrinks, so growing it once costs one such wait, at start.

use std::fs::File;
use std::os::fd::RawFd;

/// Make room for descriptors `0..fds` (the table is sized for the highest descriptor in
/// use): a descriptor duplicated to number `fds - 1` makes the kernel size the table for
/// it, and closing it leaves the table as it is. `fds` must be within the open-files
/// limit.
///
/// # Errors
/// The duplicate could not be made (a limit below `fds`, or `/dev/null` missing).
pub(crate) fn reserve(fds: usize) -> std::io::Result<()> {
    let Some(highest) = fds.checked_sub(1) else { return Ok(()) };
    let highest = RawFd::try_from(highest).map_err(|_| std::io::Error::other("descriptor number out of range"))?;
    let null = File::open("/dev/null")?;
    // dropped at once: the descriptor closes, the table keeps its size
    rustix::io::fcntl_dupfd_cloexec(&null, highest)?;
    Ok(())
}

/// The size of this process's descriptor table (`FDSize` in `/proc/self/status`).
#[cfg(test)]
fn table_size() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status.lines().find_map(|l| l.strip_prefix("FDSize:")).and_then(|v| v.trim().parse().ok()).expect("an FDSize line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_grown_at_once_and_the_duplicate_is_closed() {
        let limit = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024);
        let before = table_size();
        // well past the current size (so the table must grow), within the limit
        let want = usize::try_from(limit).unwrap_or(usize::MAX).min((before * 8).max(4096));
        assert!(want > before, "the open-files limit ({limit}) leaves no room to grow a {before}-slot table");
        reserve(want).expect("reserved");
        assert!(table_size() >= want, "table of {} slots, {want} asked for", table_size());
        let highest = format!("/proc/self/fd/{}", want - 1);
        assert!(std::fs::symlink_metadata(&highest).is_err(), "{highest} is still open");
    }

    #[test]
    fn nothing_to_reserve_is_not_an_error() {
        assert!(reserve(0).is_ok());
    }
}
