//! Brute-force limits on sign-in, per account and per client address: GCRA token buckets, a
//! burst of the limit that refills evenly over a minute. Every attempt — a sign-in, or a proof of
//! the current password or TOTP code in `PATCH /v1/me` — takes a token from both buckets before
//! any password is hashed, so the limit also caps the CPU an attacker can make the service spend.
//! A refused attempt answers how long until the next one can succeed (`Retry-After`).
//!
//! Where the buckets live is chosen by backend when the state is built:
//! - PostgreSQL: in the database (`db::sign_in_limits`), so every instance of a fleet counts
//!   against the same buckets; one statement per attempt, and nothing else touches the table.
//!   A refused attempt takes from neither bucket (but for the loser of a race for a last token,
//!   which may have taken from its other one). If the database cannot be reached the attempt
//!   fails with it (503): the limiter never fails open. The sweeper deletes full buckets.
//! - SQLite: in memory (`governor`), as one process is the whole service. There an attempt that
//!   its account's limit refuses has already spent one of its address's tokens.
//!
//! Both follow one rule, `Gcra::take`; the tests hold `governor` and the SQL statement to it.

use std::{collections::HashMap, net::IpAddr, num::NonZeroU32, sync::Mutex, time::Duration};

use chrono::{NaiveDateTime, TimeDelta};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use sha2::{Digest, Sha256};

use crate::{
    db::{
        Db, Pools,
        sign_in_limits::{self, Bucket, Taken},
    },
    domain::OrgId,
    error::ApiError,
};

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

/// The account a sign-in (or a proof of the current password or TOTP code) is counted against.
pub fn account_key(org_id: &OrgId, email_key: &str) -> String {
    format!("{org_id}/{email_key}")
}

/// A quota as GCRA reads it, in whole microseconds (the precision PostgreSQL stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// The time one token takes to come back: a minute over the limit.
    pub step: Duration,
    /// How far past now a bucket's theoretical arrival time may be and still give a token:
    /// `limit − 1` steps, so a full bucket gives `limit` tokens at once.
    pub tolerance: Duration,
}

impl Gcra {
    /// `limit` attempts a minute, as `governor::Quota::per_minute` (which counts nanoseconds).
    pub fn per_minute(limit: NonZeroU32) -> Self {
        let step = Duration::from_micros((60_000_000 / u64::from(limit.get())).max(1));
        Self {
            step,
            tolerance: step * (limit.get() - 1),
        }
    }

    /// The rule: a bucket whose theoretical arrival time is `tat` (`None`: never used, or swept
    /// once full) gives a token at `now` when `tat − tolerance ≤ now`, and its new `tat` is
    /// `max(tat, now) + step`; otherwise it is unchanged, and a token comes at
    /// `tat − tolerance`, `Err` of the wait until then.
    pub fn take(
        &self,
        tat: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Result<NaiveDateTime, Duration> {
        let tat = tat.unwrap_or(now);
        let earliest = tat - delta(self.tolerance);
        if now < earliest {
            return Err((earliest - now).to_std().unwrap_or_default());
        }
        Ok(tat.max(now) + delta(self.step))
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// The sign-in limiter of a backend (see the module docs).
pub enum SignInThrottle {
    /// SQLite: buckets in this process's memory.
    InMemory(InMemory),
    /// PostgreSQL: buckets in the database, shared by every instance.
    Shared(Shared),
}

impl SignInThrottle {
    /// The limiter that suits `db`'s backend.
    pub fn for_database(db: &Db, limits: SignInLimits) -> Self {
        match db.pools() {
            Pools::Postgres(_) => Self::Shared(Shared::new(db.clone(), limits)),
            Pools::Sqlite { .. } => Self::InMemory(InMemory::new(limits)),
        }
    }

    /// Takes one attempt for `account` (`account_key`) from `address`: 429 with the wait until
    /// the next attempt can succeed, or 503 if the shared buckets cannot be reached.
    pub async fn attempt(&self, account: &str, address: IpAddr) -> Result<(), ApiError> {
        match self {
            Self::InMemory(limiter) => limiter.attempt(account, address),
            Self::Shared(limiter) => limiter.attempt(account, address).await,
        }
        .map_err(|refusal| match refusal {
            Refusal::Wait(wait) => ApiError::rate_limited(wait),
            Refusal::Failed(error) => error,
        })
    }

    /// Fills `account`'s bucket again (a password reset redeemed: the owner is back in).
    pub async fn forgive(&self, account: &str) -> Result<(), ApiError> {
        match self {
            Self::InMemory(limiter) => {
                limiter.forgive(account);
                Ok(())
            }
            Self::Shared(limiter) => {
                sign_in_limits::forget(&limiter.db, &stored_account_key(account)).await
            }
        }
    }
}

enum Refusal {
    Wait(Duration),
    Failed(ApiError),
}

/// Buckets in memory, for one process.
pub struct InMemory {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    /// `governor` cannot drop one key's bucket, so a forgiven account counts on under a new
    /// generation of its key (the old bucket goes with `retain_recent`).
    generations: Mutex<HashMap<String, u64>>,
}

/// Buckets are dropped once full again; this many keys trigger the sweep.
const SWEEP_ABOVE: usize = 10_000;

impl InMemory {
    pub fn new(limits: SignInLimits) -> Self {
        Self {
            per_account: RateLimiter::keyed(Quota::per_minute(limits.per_account)),
            per_address: RateLimiter::keyed(Quota::per_minute(limits.per_address)),
            clock: DefaultClock::default(),
            generations: Mutex::new(HashMap::new()),
        }
    }

    fn forgive(&self, account: &str) {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        *generations.entry(account.to_owned()).or_default() += 1;
    }

    /// The governor key of `account`'s current generation.
    fn bucket_key(&self, account: &str) -> String {
        let generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        match generations.get(account) {
            Some(generation) => format!("{account}#{generation}"),
            None => account.to_owned(),
        }
    }

    fn attempt(&self, account: &str, address: IpAddr) -> Result<(), Refusal> {
        for limiter_len in [self.per_account.len(), self.per_address.len()] {
            if limiter_len > SWEEP_ABOVE {
                self.per_account.retain_recent();
                self.per_address.retain_recent();
            }
        }
        let now = self.clock.now();
        self.per_address
            .check_key(&address)
            .map_err(|wait| Refusal::Wait(wait.wait_time_from(now)))?;
        self.per_account
            .check_key(&self.bucket_key(account))
            .map_err(|wait| Refusal::Wait(wait.wait_time_from(now)))
    }
}

/// Buckets in PostgreSQL, for a fleet.
pub struct Shared {
    db: Db,
    per_account: Gcra,
    per_address: Gcra,
}

impl Shared {
    pub fn new(db: Db, limits: SignInLimits) -> Self {
        Self {
            db,
            per_account: Gcra::per_minute(limits.per_account),
            per_address: Gcra::per_minute(limits.per_address),
        }
    }

    async fn attempt(&self, account: &str, address: IpAddr) -> Result<(), Refusal> {
        let (account, address) = stored_keys(account, address);
        let buckets = [
            bucket(&account, self.per_account),
            bucket(&address, self.per_address),
        ];
        match sign_in_limits::take(&self.db, buckets, None).await {
            Ok(Taken::Both) => Ok(()),
            Ok(Taken::Refused { wait }) => Err(Refusal::Wait(wait)),
            Err(error) => Err(Refusal::Failed(error)),
        }
    }
}

fn bucket(key: &str, quota: Gcra) -> Bucket<'_> {
    Bucket {
        key,
        step: quota.step,
        tolerance: quota.tolerance,
    }
}

/// The keys of an attempt's two rows in `sign_in_limits`. An account is stored as a SHA-256
/// of its key: the table holds no addresses (attempts name accounts that do not exist, and
/// anything a client sends as an e-mail), and no key is longer than 72 characters.
pub fn stored_keys(account: &str, address: IpAddr) -> (String, String) {
    (stored_account_key(account), format!("address:{address}"))
}

fn stored_account_key(account: &str) -> String {
    format!(
        "account:{}",
        hex::encode(Sha256::digest(account.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limit(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[tokio::test]
    async fn an_account_is_limited_whatever_the_address_and_an_address_whatever_the_account() {
        let throttle = SignInThrottle::InMemory(InMemory::new(SignInLimits {
            per_account: limit(3),
            per_address: limit(5),
        }));
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for address in [a, b, a] {
            assert!(
                throttle
                    .attempt("org/ada@example.com", address)
                    .await
                    .is_ok()
            );
        }
        let refused = throttle
            .attempt("org/ada@example.com", b)
            .await
            .unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        assert!(
            refused.retry_after.is_some_and(|s| (1..=20).contains(&s)),
            "{:?}",
            refused.retry_after
        );
        // Address a has used 2 of 5 (and b 2, one of them refused by the account limit).
        for n in 0..3 {
            let account = format!("org/{n}@example.com");
            assert!(throttle.attempt(&account, a).await.is_ok());
        }
        assert!(throttle.attempt("org/other@example.com", a).await.is_err());
    }

    #[tokio::test]
    async fn a_forgiven_account_has_its_whole_burst_again_but_its_address_does_not() {
        let throttle = SignInThrottle::InMemory(InMemory::new(SignInLimits {
            per_account: limit(2),
            per_address: limit(5),
        }));
        let address = "10.0.0.1".parse().unwrap();
        for _ in 0..2 {
            assert!(throttle.attempt("org/ada", address).await.is_ok());
        }
        assert!(throttle.attempt("org/ada", address).await.is_err());
        throttle.forgive("org/ada").await.unwrap();
        for _ in 0..2 {
            assert!(throttle.attempt("org/ada", address).await.is_ok());
        }
        assert!(throttle.attempt("org/ada", address).await.is_err());
    }

    #[test]
    fn a_quota_is_a_minute_over_the_limit_per_step_and_a_burst_of_the_limit() {
        let ten = Gcra::per_minute(limit(10));
        assert_eq!(ten.step, Duration::from_secs(6));
        assert_eq!(ten.tolerance, Duration::from_secs(54));
        assert_eq!(Gcra::per_minute(limit(1)).tolerance, Duration::ZERO);
        // Whole microseconds, never zero: a huge limit is a tiny step, not an unlimited one.
        assert_eq!(
            Gcra::per_minute(limit(7)).step,
            Duration::from_micros(8_571_428)
        );
        let huge = Gcra::per_minute(limit(4_000_000_000));
        assert_eq!(huge.step, Duration::from_micros(1));
    }

    #[test]
    fn a_full_bucket_gives_the_limit_at_once_then_one_token_a_step_and_refusals_cost_nothing() {
        let quota = Gcra::per_minute(limit(3));
        let start = crate::db::now();
        let at = |ms: i64| start + TimeDelta::milliseconds(ms);
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(quota.take(tat, at(0)).unwrap());
        }
        assert_eq!(tat, Some(at(60_000)));
        assert_eq!(quota.take(tat, at(0)), Err(Duration::from_secs(20)));
        // Refusals leave the bucket as it was, so the wait only shrinks.
        assert_eq!(quota.take(tat, at(5_000)), Err(Duration::from_secs(15)));
        assert_eq!(quota.take(tat, at(19_999)), Err(Duration::from_millis(1)));
        tat = Some(quota.take(tat, at(20_000)).unwrap());
        assert_eq!(tat, Some(at(80_000)));
        // After a minute of silence the bucket is full again: the same as no row at all.
        let rested = at(80_000);
        assert_eq!(quota.take(tat, rested), quota.take(None, rested));
    }

    /// `Gcra::take` against `governor` itself (a fake clock), over bursts, waits just short of
    /// and exactly at a token, and rests of every length.
    #[test]
    fn the_rule_gives_exactly_what_governor_gives() {
        for n in [1, 3, 10, 60] {
            let clock = FakeRelativeClock::default();
            let limiter =
                RateLimiter::direct_with_clock(Quota::per_minute(limit(n)), clock.clone());
            let quota = Gcra::per_minute(limit(n));
            let start = crate::db::now();
            let mut tat = None;
            let mut elapsed = Duration::ZERO;
            let step = quota.step;
            let advances = [
                Duration::ZERO,
                Duration::ZERO,
                Duration::from_millis(1),
                step - Duration::from_micros(1),
                Duration::from_micros(1),
                step / 2,
                Duration::ZERO,
                step * 3,
                Duration::from_secs(61),
            ];
            for (i, advance) in advances.iter().cycle().take(120).enumerate() {
                clock.advance(*advance);
                elapsed += *advance;
                let now = start + delta(elapsed);
                let expected = limiter
                    .check()
                    .map_err(|wait| wait.wait_time_from(clock.now()));
                let got = quota.take(tat, now);
                match (&expected, &got) {
                    (Ok(()), Ok(next)) => tat = Some(*next),
                    (Err(want), Err(wait)) => assert_eq!(want, wait, "limit {n}, attempt {i}"),
                    _ => panic!("limit {n}, attempt {i}: governor {expected:?}, rule {got:?}"),
                }
            }
        }
    }

    #[test]
    fn stored_keys_hash_the_account_and_fit_an_index_whatever_was_sent() {
        let address: IpAddr = "2001:db8::1".parse().unwrap();
        let (account, stored_address) = stored_keys(&"x".repeat(100_000), address);
        assert_eq!(account.len(), "account:".len() + 64);
        assert_eq!(stored_address, "address:2001:db8::1");
        let (other, _) = stored_keys("org/ada@example.com", address);
        assert_ne!(account, other);
        // Taken in this order by every attempt, so two never wait on each other in a cycle.
        assert!(account < stored_address);
    }
}
