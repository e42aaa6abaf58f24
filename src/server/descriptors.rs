//! How many client connections the process can afford: each holds a descriptor, and the
//! database pools, SQLite's files, the signing key and the logs need theirs. Running out does not
//! crash anything, it stalls everything, so the cap keeps a reserve below the open-file limit.

use std::num::NonZeroUsize;

use anyhow::{Context, Result, bail};
use tokio::sync::Semaphore;

/// Descriptors never given to client connections: the database pools (at most 16 connections,
/// up to three files each on SQLite), the listener, stdio, key files and logs, with headroom.
pub const RESERVED_DESCRIPTORS: u64 = 128;

/// Raises the soft open-file limit to the hard one (a process may always do that), then returns
/// the connection cap: `configured`, or all the descriptors above the reserve. A configured cap
/// that would eat into the reserve is refused.
pub fn connection_cap(configured: Option<NonZeroUsize>) -> Result<usize> {
    let limit =
        rlimit::increase_nofile_limit(u64::MAX).context("cannot read the open-file limit")?;
    cap_for(limit, configured)
}

fn cap_for(limit: u64, configured: Option<NonZeroUsize>) -> Result<usize> {
    let available = limit
        .saturating_sub(RESERVED_DESCRIPTORS)
        .min(Semaphore::MAX_PERMITS as u64) as usize;
    match configured {
        _ if available == 0 => bail!(
            "the open-file limit ({limit}) leaves no descriptors for connections once \
             {RESERVED_DESCRIPTORS} are kept for the database and files: raise it (ulimit -n)"
        ),
        Some(cap) if cap.get() > available => bail!(
            "--max-connections {cap} would leave fewer than {RESERVED_DESCRIPTORS} of the \
             {limit} open files for the database and files: use at most {available}, or raise \
             the limit (ulimit -n)"
        ),
        Some(cap) => Ok(cap.get()),
        None => Ok(available),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_a_reserve_below_the_descriptor_limit() {
        let cap = |limit: u64, n: usize| cap_for(limit, NonZeroUsize::new(n)).ok();
        assert_eq!(cap(1024, 0), Some(896));
        assert_eq!(cap(1024, 500), Some(500));
        assert_eq!(cap(1024, 896), Some(896));
        assert_eq!(cap(1024, 897), None);
        assert_eq!(cap(100, 0), None);
        assert_eq!(cap(u64::MAX, 0), Some(Semaphore::MAX_PERMITS));
    }
}
