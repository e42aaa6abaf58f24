//! The growth cases (issue 19, part 4): the same request with little and with much data behind
//! it, each pair measured in one run with the same `Load`. Keyed reads should cost the same
//! however large the table; where a pair is not flat, the report says why. The data is seeded
//! with one `INSERT … SELECT` per table, so the cases stay affordable at a million rows.

use std::{fmt::Write as _, path::Path};

use anyhow::Result;

use super::{
    Backend, Options, Org, Row,
    load::{Load, Measurement},
};

/// Sessions of the admin in the larger sessions case.
const SESSIONS: u64 = 1_000;
/// Sessions of the admin in the smaller one: a full first page (the API's default limit).
const SESSIONS_PAGE: u64 = 50;
/// Teams of the admin in the larger teams case.
const TEAMS: u64 = 200;
/// The feed's page in both events cases (the API's default).
const EVENTS_PAGE: u64 = 100;
/// Where the smaller events case reads.
const EARLY_SEQUENCE: u64 = 10;

/// One request measured with less and with more data.
pub struct Pair {
    backend: Backend,
    case: String,
    small: (String, Measurement),
    large: (String, Measurement),
    /// Why the pair is not flat, where that is expected.
    why: &'static str,
}

/// Everything the growth cases need from the backend's run.
pub struct Setup<'a> {
    pub backend: Backend,
    pub url: &'a str,
    pub org: &'a Org,
    pub load: &'a Load,
    pub patch_script: &'a Path,
    pub options: &'a Options,
    /// The rows measured so far: the main `GET`/`PATCH /v1/me` rows are the smaller user counts.
    pub rows: &'a [Row],
}

/// Runs the growth cases of one backend, after the pagination cases (the organization then
/// holds `options.list_users` users) and before sign-in (which then adds to the admin's 1,000
/// sessions).
pub fn run(setup: &Setup) -> Result<Vec<Pair>> {
    let Setup { url, org, load, .. } = *setup;
    let sql = Sql::of(url, org);
    // The bench's webhook endpoint would deliver every seeded event and every PATCH below:
    // disabled, the cases measure the requests alone, as the main rows do.
    super::execute(url, "UPDATE webhook_endpoints SET disabled = TRUE")?;
    let mut pairs = Vec::new();
    let users = |n: u64| format!("{} users", count(n));
    let small_users = users(setup.options.users + 1);
    let large_users = users(setup.options.list_users + 1);
    let me = load.run("GET /v1/me (more users)", "/v1/me", None)?;
    let patch = load.run(
        "PATCH /v1/me (more users)",
        "/v1/me",
        Some(setup.patch_script),
    )?;
    for (case, large) in [("GET /v1/me", &me), ("PATCH /v1/me", &patch)] {
        pairs.push(setup.pair(
            case,
            (small_users.clone(), setup.main_row(case)?),
            (large_users.clone(), large.clone()),
            "",
        ));
    }

    super::execute(url, &sql.teams(TEAMS))?;
    let teams = load.run("GET /v1/me (200 teams)", "/v1/me", None)?;
    pairs.push(setup.pair(
        "GET /v1/me",
        ("0 teams".into(), me.clone()),
        (format!("{} teams", count(TEAMS)), teams),
        "`Me` lists every team of the user: the response grows with them (an unpaged list)",
    ));
    super::execute(url, &sql.remove_teams())?;

    // A full first page against a thousand rows: the page, not the table, should set the cost.
    super::execute(url, &sql.sessions(1, SESSIONS_PAGE - 1))?;
    let page = load.run("GET /v1/me/sessions (50 sessions)", "/v1/me/sessions", None)?;
    super::execute(url, &sql.sessions(SESSIONS_PAGE, SESSIONS - 1))?;
    let sessions = load.run(
        "GET /v1/me/sessions (1,000 sessions)",
        "/v1/me/sessions",
        None,
    )?;
    pairs.push(setup.pair(
        "GET /v1/me/sessions (first page of 50)",
        (format!("{} sessions", count(SESSIONS_PAGE)), page),
        (format!("{} sessions", count(SESSIONS)), sessions),
        "",
    ));
    let me_sessions = load.run("GET /v1/me (1,000 sessions)", "/v1/me", None)?;
    pairs.push(setup.pair(
        "GET /v1/me",
        ("1 session".into(), me),
        (format!("{} sessions", count(SESSIONS)), me_sessions),
        "`Me` carries the live-session count, which reads one index entry per live session",
    ));

    // The feed holds `list_users` + a page of events, so that both reads return a full page.
    let late = setup.options.list_users;
    super::execute(url, &sql.events(late + EVENTS_PAGE))?;
    let feed = |after: u64| format!("/v1/events?after={after}&limit={EVENTS_PAGE}");
    let early = load.run("GET /v1/events (early)", &feed(EARLY_SEQUENCE), None)?;
    let deep = load.run("GET /v1/events (late)", &feed(late), None)?;
    pairs.push(setup.pair(
        "GET /v1/events (a page of 100)",
        (format!("after sequence {}", count(EARLY_SEQUENCE)), early),
        (format!("after sequence {}", count(late)), deep),
        "",
    ));
    Ok(pairs)
}

impl Setup<'_> {
    fn pair(
        &self,
        case: &str,
        small: (String, Measurement),
        large: (String, Measurement),
        why: &'static str,
    ) -> Pair {
        Pair {
            backend: self.backend,
            case: case.into(),
            small,
            large,
            why,
        }
    }

    /// This backend's main measurement of `case`.
    fn main_row(&self, case: &str) -> Result<Measurement> {
        self.rows
            .iter()
            .find(|row| row.backend == self.backend && row.case == case)
            .map(|row| row.result.clone())
            .ok_or_else(|| anyhow::anyhow!("no main row `{case}` to compare with"))
    }
}

/// The seeding statements, in the backend's dialect.
struct Sql {
    postgres: bool,
    org_id: String,
    /// The admin's id, as an SQL expression.
    admin: String,
}

impl Sql {
    fn of(url: &str, org: &Org) -> Self {
        Self {
            postgres: url.starts_with("postgres"),
            org_id: org.org_id.clone(),
            admin: format!(
                "(SELECT id FROM users WHERE org_id = '{}' AND primary_email = '{}')",
                org.org_id, org.admin_email
            ),
        }
    }

    /// A UUID unique to `n` within `group` (a hex digit): seeded rows of one table never collide
    /// with each other, with the seeded users (group 8) or with ids the server makes.
    fn id(&self, group: char) -> String {
        let digits = match self.postgres {
            true => "lpad(n::text, 12, '0')",
            false => "printf('%012d', n)",
        };
        format!("'00000000-0000-7000-{group}000-' || {digits}")
    }

    /// The timestamp `days` from now, as the server stores them (UTC, no zone).
    fn now_plus(&self, days: u32) -> String {
        match self.postgres {
            true => format!("(now() AT TIME ZONE 'UTC' + interval '{days} days')"),
            false => format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '+{days} days')"),
        }
    }

    /// `SELECT … FROM seq …` over n = `from..=to`, `tail` after `FROM seq`.
    fn numbered(from: u64, to: u64, select: &str, tail: &str) -> String {
        format!(
            "WITH RECURSIVE seq(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM seq \
             WHERE n < {to}) {select} FROM seq{tail}"
        )
    }

    /// Live sessions `from..=to` of the admin (besides its own), signed in from Chrome (so that
    /// listing them parses a real `User-Agent`).
    fn sessions(&self, from: u64, to: u64) -> String {
        let (id, now, later) = (self.id('a'), self.now_plus(0), self.now_plus(30));
        let agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                     (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let rows = Self::numbered(
            from,
            to,
            &format!(
                "SELECT {id}, {admin}, {now}, {later}, NULL, {now}, {now}, 'pwd', '127.0.0.1', \
                 '{agent}'",
                admin = self.admin
            ),
            "",
        );
        format!(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at, \
             last_active_at, authenticated_at, amr, client_address, user_agent) {rows}{}",
            self.analyze("sessions")
        )
    }

    /// `count` teams, the admin a member of each.
    fn teams(&self, count: u64) -> String {
        let (id, now, org) = (self.id('b'), self.now_plus(0), &self.org_id);
        let teams = Self::numbered(
            1,
            count,
            &format!("SELECT {id}, '{org}', 'Bench team ' || n, {now}"),
            "",
        );
        let members = Self::numbered(
            1,
            count,
            &format!("SELECT {id}, {}, 'member', {now}", self.admin),
            "",
        );
        format!(
            "INSERT INTO teams (id, org_id, name, created_at) {teams}; \
             INSERT INTO team_members (team_id, user_id, role, created_at) {members}{}",
            self.analyze("team_members")
        )
    }

    fn analyze(&self, table: &str) -> String {
        super::analyze_after_seeding(self.postgres, table)
    }

    /// The teams that `teams` seeded, and their memberships.
    fn remove_teams(&self) -> String {
        let seeded = format!(
            "SELECT id FROM teams WHERE org_id = '{}' AND name LIKE 'Bench team %'",
            self.org_id
        );
        format!(
            "DELETE FROM team_members WHERE team_id IN ({seeded}); \
             DELETE FROM teams WHERE id IN ({seeded})"
        )
    }

    /// Events up to sequence `last`: copies of the organization's latest event (a real one, so
    /// the feed renders what it would), numbered after it; the sequence moves to `last`.
    fn events(&self, last: u64) -> String {
        let (id, org) = (self.id('9'), &self.org_id);
        // The template is the latest event; the numbers are those not taken yet.
        let copies = Self::numbered(
            1,
            last,
            &format!(
                "SELECT t.org_id, n, {id}, t.kind, t.occurred_at, t.actor_type, t.actor_id, \
                 t.request_id, t.subject_id, t.data"
            ),
            &format!(
                ", (SELECT * FROM events WHERE org_id = '{org}' ORDER BY sequence DESC LIMIT 1) t \
                 WHERE n > (SELECT last FROM event_sequences WHERE org_id = '{org}')"
            ),
        );
        format!(
            "INSERT INTO events (org_id, sequence, id, kind, occurred_at, actor_type, actor_id, \
             request_id, subject_id, data) {copies}; \
             UPDATE event_sequences SET last = {last} WHERE org_id = '{org}' AND last < {last}{}",
            self.analyze("events")
        )
    }
}

/// `1234567` as `1,234,567`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The growth table: each pair as two rows, the larger with its throughput as a share of the
/// smaller's (100% is flat).
pub fn render(pairs: &[Pair]) -> Result<String> {
    let mut out = String::new();
    if pairs.is_empty() {
        return Ok(out);
    }
    writeln!(out, "\n## Growth\n")?;
    writeln!(
        out,
        "The same request with less and with more data behind it, in the same run; \
         the larger's throughput as a share of the smaller's (100% is flat).\n"
    )?;
    writeln!(
        out,
        "| backend | case | data | requests/s | p50 | p99 | peak RSS | larger ÷ smaller |"
    )?;
    writeln!(out, "|---|---|---|---:|---:|---:|---:|---|")?;
    for pair in pairs {
        let share = 100.0 * pair.large.1.requests_per_second / pair.small.1.requests_per_second;
        let why = match pair.why {
            "" => String::new(),
            why => format!(": {why}"),
        };
        for ((data, result), ratio) in [
            (&pair.small, String::new()),
            (&pair.large, format!("{share:.0}%{why}")),
        ] {
            writeln!(
                out,
                "| {} | `{}` | {data} | {:.0} | {} | {} | {:.1} MB | {ratio} |",
                pair.backend.name(),
                pair.case,
                result.requests_per_second,
                result.p50,
                result.p99,
                result.peak_rss_kb as f64 / 1024.0,
            )?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(7), "7");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_000_001), "1,000,001");
    }
}
