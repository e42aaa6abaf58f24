//! The retention sweeper across the fleet: expired rows are written straight into the
//! database, both instances sweep every couple of seconds, and the rows must all go with each
//! deleted exactly once: the deletions both instances report on `/metrics` add up to the rows
//! written, no more (work done twice) and no fewer (rows left or lost counts).

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};

use super::{deploy::Deployment, http::counter};

/// More than one batch (the sweeper deletes 1,000 rows per statement), so both instances can
/// take part.
const EXPIRED_SESSIONS: u64 = 2_500;
const EXPIRED_IDEMPOTENCY_RECORDS: u64 = 1_200;

pub async fn sweeper_runs_once(d: &Deployment) -> Result<String> {
    let before = deleted(d).await?;
    let (user, org) = (&d.org.user_id, &d.org.org_id);
    // Well past the retention (30 days for sessions, 24 hours for idempotency records), in
    // UTC as the server writes its timestamps.
    d.query(&format!(
        "INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at, last_active_at) \
         SELECT gen_random_uuid()::text, '{user}', t - interval '41 days', \
                t - interval '40 days', NULL, t - interval '41 days' \
         FROM generate_series(1, {EXPIRED_SESSIONS}), (SELECT now() AT TIME ZONE 'utc' AS t) now"
    ))?;
    d.query(&format!(
        "INSERT INTO idempotency_keys (org_id, idempotency_key, request_hash, response_body, \
                                       user_id, created_at) \
         SELECT '{org}', 'expired-' || n, 'x', NULL, NULL, \
                (now() AT TIME ZONE 'utc') - interval '2 days' \
         FROM generate_series(1, {EXPIRED_IDEMPOTENCY_RECORDS}) n"
    ))?;

    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut sessions, mut records) = (Split::default(), Split::default());
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = deleted(d).await?;
        sessions = now.sessions.minus(&before.sessions);
        records = now.records.minus(&before.records);
        if sessions.total() >= EXPIRED_SESSIONS && records.total() >= EXPIRED_IDEMPOTENCY_RECORDS {
            break;
        }
    }
    let left_sessions: u64 = d
        .query("SELECT count(*) FROM sessions WHERE expires_at < (now() AT TIME ZONE 'utc') - interval '30 days'")?
        .parse()?;
    let left_records: u64 = d
        .query("SELECT count(*) FROM idempotency_keys WHERE idempotency_key LIKE 'expired-%'")?
        .parse()?;
    let (ok_runs, errors) = (runs(d, "ok").await?, runs(d, "error").await?);
    ensure!(
        ok_runs.a > 0 && ok_runs.b > 0,
        "sweeps done: {ok_runs}: the sweeper runs on every instance"
    );
    ensure!(
        sessions.total() == EXPIRED_SESSIONS
            && records.total() == EXPIRED_IDEMPOTENCY_RECORDS
            && left_sessions == 0
            && left_records == 0
            && errors.total() == 0,
        "deleted sessions {sessions} of {EXPIRED_SESSIONS} ({left_sessions} left), \
         idempotency records {records} of {EXPIRED_IDEMPOTENCY_RECORDS} ({left_records} left), \
         failed sweeps: {errors}"
    );
    Ok(format!(
        "{EXPIRED_SESSIONS} expired sessions deleted once ({sessions}), \
         {EXPIRED_IDEMPOTENCY_RECORDS} idempotency records ({records}); none left; \
         sweeps {ok_runs}, none failed"
    ))
}

/// Rows deleted per instance, as `/metrics` counts them.
#[derive(Default, Clone, Copy)]
struct Split {
    a: u64,
    b: u64,
}

impl Split {
    fn total(&self) -> u64 {
        self.a + self.b
    }

    fn minus(&self, earlier: &Split) -> Split {
        Split {
            a: self.a - earlier.a,
            b: self.b - earlier.b,
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a {} + b {}", self.a, self.b)
    }
}

struct Deleted {
    sessions: Split,
    records: Split,
}

async fn deleted(d: &Deployment) -> Result<Deleted> {
    let [a, b] = &d.instances;
    let read = |base: &str, kind: &'static str| {
        let base = base.to_owned();
        async move {
            let label = format!("kind=\"{kind}\"");
            Ok::<u64, anyhow::Error>(counter(&base, "sweeper_deleted_total", &label).await? as u64)
        }
    };
    Ok(Deleted {
        sessions: Split {
            a: read(&a.base_url, "sessions").await?,
            b: read(&b.base_url, "sessions").await?,
        },
        records: Split {
            a: read(&a.base_url, "idempotency").await?,
            b: read(&b.base_url, "idempotency").await?,
        },
    })
}

/// Sweeps per instance with `outcome`, as `/metrics` counts them.
async fn runs(d: &Deployment, outcome: &str) -> Result<Split> {
    let label = format!("outcome=\"{outcome}\"");
    let [a, b] = &d.instances;
    Ok(Split {
        a: counter(&a.base_url, "sweeper_runs_total", &label).await? as u64,
        b: counter(&b.base_url, "sweeper_runs_total", &label).await? as u64,
    })
}
