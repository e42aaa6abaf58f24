//! Webhooks (issue 16): endpoints subscribe to an organization's change events, which the
//! `dispatcher` delivers to them signed per Standard Webhooks (`signing`), at least once, in
//! sequence order per endpoint, to public addresses only (`ssrf`). Endpoints and every delivery
//! attempt are in the database (`db::webhooks`), so delivery survives a restart and several
//! instances share the work, one instance per endpoint at a time.

pub mod dispatcher;
pub mod signing;
pub mod ssrf;

use std::time::Duration;

use rand::Rng;

pub use dispatcher::{Dispatcher, spawn};

/// The default retry schedule: 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then every 12 h for as long
/// as the whole stays within 3 days (five times: the last retry is 2 days 19 h after the first
/// failure).
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,30s,2m,10m,1h,6h,12h,12h,12h,12h,12h";

/// How webhooks are delivered (`--webhook-*` flags).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Lift the public-address and `https://` rules (development and tests only).
    pub allow_private_urls: bool,
    /// A delivery is a success only with a 2xx within this.
    pub timeout: Duration,
    /// The waits between attempts of one event; once exhausted, the endpoint is disabled.
    pub retry_schedule: RetrySchedule,
    /// Deliveries in flight at once on this instance, all endpoints together (one per
    /// endpoint).
    pub max_concurrent: usize,
    /// How often the dispatcher looks for due work.
    pub poll_interval: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_urls: false,
            timeout: Duration::from_secs(10),
            retry_schedule: RetrySchedule::parse(DEFAULT_RETRY_SCHEDULE)
                .expect("the default schedule parses"),
            max_concurrent: 64,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// The waits between attempts of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// A comma-separated list of durations (`5s,30s,2m`), as `--webhook-retry-schedule` takes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let waits = text
            .split(',')
            .map(|wait| crate::config::parse_duration(wait.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if waits.is_empty() {
            return Err("name at least one wait".into());
        }
        Ok(Self(waits))
    }

    /// The wait after the `failed`-th failed attempt of an event (1 for the first), with
    /// jitter (±20 %); `None` once the schedule is exhausted.
    pub fn wait_after(&self, failed: u32) -> Option<Duration> {
        let wait = *self.0.get((failed as usize).checked_sub(1)?)?;
        Some(wait.mul_f64(rand::thread_rng().gen_range(0.8..1.2)))
    }

    /// How many attempts an event gets in all.
    pub fn attempts(&self) -> usize {
        self.0.len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_stays_within_three_days() {
        let schedule = RetrySchedule::parse(DEFAULT_RETRY_SCHEDULE).unwrap();
        let total: Duration = schedule.0.iter().sum();
        assert!(total <= Duration::from_secs(3 * 86_400), "{total:?}");
        assert!(total + Duration::from_secs(12 * 3600) > Duration::from_secs(3 * 86_400));
        assert_eq!(schedule.attempts(), 12);
    }

    #[test]
    fn waits_follow_the_schedule_with_jitter_then_stop() {
        let schedule = RetrySchedule::parse("1s, 10s").unwrap();
        assert_eq!(schedule.wait_after(0), None);
        let first = schedule.wait_after(1).unwrap();
        assert!(first >= Duration::from_millis(800) && first < Duration::from_millis(1200));
        let second = schedule.wait_after(2).unwrap();
        assert!(second >= Duration::from_secs(8) && second < Duration::from_secs(12));
        assert_eq!(schedule.wait_after(3), None);
        assert!(RetrySchedule::parse("").is_err());
        assert!(RetrySchedule::parse("1s,,2s").is_err());
        assert!(RetrySchedule::parse("1x").is_err());
    }
}
