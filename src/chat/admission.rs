//! Connection caps: how many chat connections the server holds, in all and per peer address.
//!
//! A [`Slot`] is taken when an upgrade is about to be accepted and given back when it is
//! dropped, which happens however the connection ends (close, error, abort at shutdown), so the
//! counts cannot leak. Both counts live under one lock and are checked and taken in one step, so
//! concurrent upgrades racing for the last slot never admit more than the cap.
//!
//! Peers are grouped by address: an IPv4 address, or the /64 prefix of an IPv6 address (one
//! host or home network usually holds a whole /64, so counting single IPv6 addresses would let
//! one machine open connections from 2^64 of them). IPv4-mapped IPv6 addresses count as IPv4.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::handshake::Rejection;

/// Seconds a refused client is told to wait before trying again (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 10;

/// The caps; `0` for `per_address` means no per-address cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Chat connections in all.
    pub total: usize,
    /// Chat connections from one address (IPv4) or /64 prefix (IPv6).
    pub per_address: usize,
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `total` connections already.
    Full {
        /// The cap.
        total: usize,
    },
    /// The peer's address holds `per_address` connections already.
    AddressFull {
        /// The cap.
        per_address: usize,
    },
}

impl Refusal {
    /// The 503 response with `Retry-After`.
    #[must_use]
    pub fn rejection(self) -> Rejection {
        let reason = match self {
            Self::Full { total } => {
                format!("The chat is full ({total} connections). Try again in a few seconds.\n")
            }
            Self::AddressFull { per_address } => format!(
                "Too many connections from your address ({per_address}). Close one and try \
                 again.\n"
            ),
        };
        Rejection::new(503, reason).with_header("Retry-After", &RETRY_AFTER_SECS.to_string())
    }
}

/// The shared counts behind the caps.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<AddressKey, usize>,
}

/// The unit a per-address cap counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum AddressKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl AddressKey {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let octets = v6.octets();
                    let mut prefix = [0; 8];
                    prefix.copy_from_slice(&octets[..8]);
                    Self::V6Prefix(prefix)
                }
            },
        }
    }
}

impl Admission {
    /// Caps as given.
    #[must_use]
    pub fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// The caps.
    #[must_use]
    pub fn limits(&self) -> AdmissionLimits {
        self.limits
    }

    /// Takes a slot for a connection from `peer`, or says which cap is reached.
    ///
    /// # Errors
    /// The [`Refusal`] when a cap is reached; nothing is taken then.
    pub fn try_admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refusal> {
        let key = AddressKey::of(peer);
        let mut counts = self.lock();
        if counts.total >= self.limits.total {
            return Err(Refusal::Full {
                total: self.limits.total,
            });
        }
        let per_address = counts.by_address.get(&key).copied().unwrap_or(0);
        if self.limits.per_address != 0 && per_address >= self.limits.per_address {
            return Err(Refusal::AddressFull {
                per_address: self.limits.per_address,
            });
        }
        counts.total += 1;
        counts.by_address.insert(key, per_address + 1);
        Ok(Slot {
            admission: Arc::clone(self),
            key,
        })
    }

    /// Connections admitted and not yet ended.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.lock().total
    }

    fn release(&self, key: AddressKey) {
        let mut counts = self.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.by_address.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                counts.by_address.remove(&key);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts are updated in single statements; a panic elsewhere cannot leave them torn.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
#[must_use = "the slot is freed when dropped"]
pub struct Slot {
    admission: Arc<Admission>,
    key: AddressKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.release(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_total_cap_holds_and_dropped_slots_are_given_back() {
        let admission = Admission::new(AdmissionLimits {
            total: 2,
            per_address: 0,
        });
        let a = admission.try_admit(ip("10.0.0.1")).unwrap();
        let _b = admission.try_admit(ip("10.0.0.2")).unwrap();
        assert_eq!(
            admission.try_admit(ip("10.0.0.3")).unwrap_err(),
            Refusal::Full { total: 2 }
        );
        drop(a);
        assert_eq!(admission.connections(), 1);
        let _c = admission.try_admit(ip("10.0.0.3")).unwrap();
    }

    #[test]
    fn the_per_address_cap_counts_ipv4_addresses_and_ipv6_prefixes() {
        let admission = Admission::new(AdmissionLimits {
            total: 100,
            per_address: 2,
        });
        let _a = admission.try_admit(ip("192.0.2.1")).unwrap();
        let _b = admission.try_admit(ip("::ffff:192.0.2.1")).unwrap();
        assert_eq!(
            admission.try_admit(ip("192.0.2.1")).unwrap_err(),
            Refusal::AddressFull { per_address: 2 }
        );
        let _c = admission.try_admit(ip("192.0.2.2")).unwrap();
        let _d = admission.try_admit(ip("2001:db8:1:2::1")).unwrap();
        let e = admission.try_admit(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert!(
            admission.try_admit(ip("2001:db8:1:2::77")).is_err(),
            "same /64"
        );
        let _f = admission.try_admit(ip("2001:db8:1:3::1")).unwrap();
        drop(e);
        let _g = admission.try_admit(ip("2001:db8:1:2::77")).unwrap();
    }

    #[test]
    fn racing_threads_never_exceed_the_cap() {
        let admission = Admission::new(AdmissionLimits {
            total: 50,
            per_address: 0,
        });
        let slots: Vec<Vec<Slot>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        (0..100)
                            .filter_map(|_| admission.try_admit(ip("127.0.0.1")).ok())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(slots.iter().map(Vec::len).sum::<usize>(), 50);
        drop(slots);
        assert_eq!(admission.connections(), 0);
    }

    #[test]
    fn refusals_are_503_with_retry_after() {
        let rejection = Refusal::Full { total: 7 }.rejection();
        assert_eq!(rejection.status(), 503);
        assert_eq!(rejection.header("Retry-After"), Some("10"));
        assert!(rejection.reason().contains("full (7"));
        let rejection = Refusal::AddressFull { per_address: 3 }.rejection();
        assert_eq!(rejection.status(), 503);
        assert!(rejection.reason().contains("your address (3)"));
    }
}
