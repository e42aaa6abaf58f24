//! Brute-force limits on sign-in, per account and per client address (GCRA token buckets from
//! `governor`): every attempt takes a token before any password is hashed, so the limit also
//! caps the CPU an attacker can make the service spend. In memory, per instance: behind a load
//! balancer each instance counts on its own.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::domain::OrgId;

/// Sign-in attempts allowed per minute, as a burst that refills evenly over the minute.
#[derive(Debug, Clone, Copy)]
pub struct SignInLimits {
    pub per_account: NonZeroU32,
    pub per_address: NonZeroU32,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            per_account: NonZeroU32::new(10).expect("non-zero"),
            per_address: NonZeroU32::new(60).expect("non-zero"),
        }
    }
}

pub struct SignInThrottle {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

/// Buckets are dropped once full again; this many keys trigger the sweep.
const SWEEP_ABOVE: usize = 10_000;

/// The account a sign-in (or a proof of the current password or TOTP code) is counted against.
pub fn account_key(org_id: &OrgId, email_key: &str) -> String {
    format!("{org_id}/{email_key}")
}

impl SignInThrottle {
    pub fn new(limits: SignInLimits) -> Self {
        Self {
            per_account: RateLimiter::keyed(Quota::per_minute(limits.per_account)),
            per_address: RateLimiter::keyed(Quota::per_minute(limits.per_address)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one attempt for `account` (organization and lower-cased address) from `address`;
    /// `Err` holds how long to wait before the next attempt can succeed.
    pub fn attempt(&self, account: &str, address: IpAddr) -> Result<(), Duration> {
        for limiter_len in [self.per_account.len(), self.per_address.len()] {
            if limiter_len > SWEEP_ABOVE {
                self.per_account.retain_recent();
                self.per_address.retain_recent();
            }
        }
        let now = self.clock.now();
        self.per_address
            .check_key(&address)
            .map_err(|wait| wait.wait_time_from(now))?;
        self.per_account
            .check_key(&account.to_owned())
            .map_err(|wait| wait.wait_time_from(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_limited_whatever_the_address_and_an_address_whatever_the_account() {
        let throttle = SignInThrottle::new(SignInLimits {
            per_account: NonZeroU32::new(3).unwrap(),
            per_address: NonZeroU32::new(5).unwrap(),
        });
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for address in [a, b, a] {
            assert!(throttle.attempt("org/ada@example.com", address).is_ok());
        }
        let wait = throttle.attempt("org/ada@example.com", b).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Address a has used 2 of 5 (and b 2, one of them refused by the account limit).
        for n in 0..3 {
            assert!(throttle.attempt(&format!("org/{n}@example.com"), a).is_ok());
        }
        assert!(throttle.attempt("org/other@example.com", a).is_err());
    }
}
