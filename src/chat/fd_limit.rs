//! The process's open-file limit, which caps how many connections a server can hold at all.
//!
//! Every connection is a file descriptor, and the usual soft `RLIMIT_NOFILE` (1024) is far below
//! what a chat server is configured for. The hard limit is what an unprivileged process may
//! raise its soft limit to, so the server raises it that far at start and warns when even that
//! is too low for its connection cap.

use std::io;

/// Descriptors needed beyond connections and handshakes: the listener, standard streams, the
/// runtime's own.
pub const FD_HEADROOM: u64 = 64;

/// The open-file limit before and after [`raise_fd_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit found at start.
    pub before: u64,
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit (the most the soft limit can be raised to without privileges).
    pub hard: u64,
}

impl FdLimit {
    /// Whether `sockets` (every connection and handshake the server may hold) plus
    /// [`FD_HEADROOM`] fit under the soft limit.
    #[must_use]
    pub fn fits(&self, sockets: u64) -> bool {
        sockets.saturating_add(FD_HEADROOM) <= self.soft
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (never lowers it).
///
/// # Errors
/// When the limit cannot be read or set.
#[cfg(unix)]
pub fn raise_fd_limit() -> io::Result<FdLimit> {
    use rlimit::Resource;
    let (before, hard) = Resource::NOFILE.get()?;
    if before < hard {
        Resource::NOFILE.set(hard, hard)?;
    }
    let (soft, hard) = Resource::NOFILE.get()?;
    Ok(FdLimit { before, soft, hard })
}

/// Where there is no `RLIMIT_NOFILE`: nothing to raise.
///
/// # Errors
/// Always: the limit is unknown here.
#[cfg(not(unix))]
pub fn raise_fd_limit() -> io::Result<FdLimit> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no RLIMIT_NOFILE on this platform",
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let limit = raise_fd_limit().unwrap();
        assert_eq!(limit.soft, limit.hard);
        assert!(limit.before <= limit.soft);
        assert_eq!(
            rlimit::Resource::NOFILE.get().unwrap(),
            (limit.hard, limit.hard)
        );
    }

    #[test]
    fn fits_leaves_headroom() {
        let limit = FdLimit {
            before: 1024,
            soft: 1024,
            hard: 1024,
        };
        assert!(limit.fits(960));
        assert!(!limit.fits(961));
    }
}
