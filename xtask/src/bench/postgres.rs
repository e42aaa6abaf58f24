//! The PostgreSQL side of the bench: `psql` for set-up, and the database ceiling — `pgbench`
//! replaying, at the same concurrency, the very statements one `PATCH /v1/me` runs, captured from
//! PostgreSQL's own statement log (so the ceiling follows the handler when its SQL changes).

use std::{path::Path, process::Command, time::Duration};

use anyhow::{Context, Result, bail};

use super::{Options, Server, load};

/// The PostgreSQL server to bench against (no database name).
pub fn server() -> String {
    std::env::var("BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn psql(sql: &str) -> Result<()> {
    let output = Command::new("psql")
        .arg(format!("{}/postgres", server()))
        .args(["-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .context("psql is not installed")?;
    if !output.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Runs one `PATCH /v1/me` against a server whose connections log every statement, and returns
/// those statements with their parameters inlined, but for the outbox's: an event's id and
/// sequence are unique and cannot be replayed, so the ceiling is the PATCH's own writes
/// without its event (what the outbox costs is the ratio's share of the gap).
pub fn capture_patch_sql(
    binary: &Path,
    url: &str,
    database: &str,
    token: &str,
    work: &Path,
) -> Result<Vec<String>> {
    let log = std::fs::read_dir("/var/log/postgresql")
        .context("PostgreSQL's log is not in /var/log/postgresql")?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "log"))
        .max_by_key(|entry| entry.metadata().and_then(|m| m.modified()).ok())
        .map(|entry| entry.path())
        .context("no PostgreSQL log file in /var/log/postgresql")?;
    psql(&format!(
        "ALTER DATABASE {database} SET log_statement = 'all'"
    ))?;
    let captured = (|| {
        let server = Server::start(binary, url, work)?;
        let offset = std::fs::metadata(&log)?.len() as usize;
        let body = r#"{"timezone":"Europe/Paris"}"#;
        if load::status(&server.base, "PATCH", "/v1/me", token, body) != Some(200) {
            bail!("the PATCH whose SQL is captured did not answer 200");
        }
        std::thread::sleep(Duration::from_millis(300));
        let text = std::fs::read(&log)?;
        Ok(String::from_utf8_lossy(&text[offset.min(text.len())..]).into_owned())
    })();
    psql(&format!("ALTER DATABASE {database} RESET log_statement"))?;
    let statements: Vec<String> = statements(&captured?, database)
        .into_iter()
        .filter(|sql| !sql.contains("\"events\"") && !sql.contains("event_sequences"))
        .collect();
    if statements.is_empty() {
        bail!("no statements of {database} in {}", log.display());
    }
    Ok(statements)
}

/// The minimal durable write a `PATCH /v1/me` could be (issue 19's second database ceiling):
/// one transaction holding only its `UPDATE "users" … RETURNING …`, with the same columns.
pub fn minimal_write(statements: &[String]) -> Result<Vec<String>> {
    let update = statements
        .iter()
        .find(|sql| sql.starts_with("UPDATE \"users\" SET") && sql.contains("RETURNING"))
        .context("no UPDATE \"users\" … RETURNING among the PATCH's statements")?;
    Ok(vec!["BEGIN".into(), update.clone(), "COMMIT".into()])
}

/// The statements of `database` in a PostgreSQL log excerpt, parameters inlined as literals.
fn statements(log: &str, database: &str) -> Vec<String> {
    let mut statements: Vec<String> = Vec::new();
    let marker = format!("@{database} ");
    for line in log.lines().filter(|l| l.contains(&marker)) {
        if let Some((_, rest)) = line.split_once("LOG:  execute ") {
            if let Some((_, sql)) = rest.split_once(": ") {
                statements.push(sql.to_owned());
            }
        } else if let Some((_, sql)) = line.split_once("LOG:  statement: ") {
            statements.push(sql.to_owned());
        } else if let Some((_, params)) = line.split_once("DETAIL:  parameters: ")
            && let Some(last) = statements.last_mut()
        {
            *last = inline(last, &parameters(params));
        }
    }
    statements
}

/// `$1 = 'a', $2 = NULL` → `["'a'", "NULL"]`, as SQL literals in order.
fn parameters(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut rest = text;
    while let Some((_, after)) = rest.split_once(" = ") {
        if let Some(after_null) = after.strip_prefix("NULL") {
            values.push("NULL".to_owned());
            rest = after_null;
            continue;
        }
        let Some(quoted) = after.strip_prefix('\'') else {
            break;
        };
        let mut end = 0;
        let bytes = quoted.as_bytes();
        while end < bytes.len() {
            if bytes[end] == b'\'' {
                if bytes.get(end + 1) == Some(&b'\'') {
                    end += 2;
                    continue;
                }
                break;
            }
            end += 1;
        }
        values.push(format!("'{}'", &quoted[..end]));
        rest = &quoted[(end + 1).min(quoted.len())..];
    }
    values
}

/// Replaces `$N` placeholders, highest first so that `$1` never eats the start of `$10`.
fn inline(sql: &str, values: &[String]) -> String {
    let mut sql = sql.to_owned();
    for (index, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", index + 1), value);
    }
    sql
}

/// Transactions per second of `pgbench` running `statements` as one transaction script.
pub fn pgbench(url: &str, statements: &[String], work: &Path, options: &Options) -> Result<f64> {
    let script = work.join("pgbench.sql");
    let text: String = statements.iter().map(|s| format!("{s};\n")).collect();
    std::fs::write(&script, text)?;
    let output = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &options.connections.to_string()])
        .args(["-T", &options.seconds.to_string(), "-f"])
        .arg(&script)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench's output:\n{text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_inlined_as_literals() {
        let values = parameters("$1 = 'it''s', $2 = NULL, $3 = '2026-01-01 00:00:00'");
        assert_eq!(values, ["'it''s'", "NULL", "'2026-01-01 00:00:00'"]);
        assert_eq!(
            inline("SELECT $1, $2, $3", &values),
            "SELECT 'it''s', NULL, '2026-01-01 00:00:00'"
        );
    }

    #[test]
    fn the_minimal_write_is_the_update_alone_in_a_transaction() {
        let update = r#"UPDATE "users" SET "timezone" = 'x' WHERE "id" = 'y' RETURNING "id""#;
        let captured = [
            r#"SELECT "users"."id" FROM "users" FOR UPDATE"#.to_owned(),
            update.to_owned(),
            r#"UPDATE "sessions" SET "last_active_at" = 'z'"#.to_owned(),
        ];
        assert_eq!(
            minimal_write(&captured).unwrap(),
            ["BEGIN", update, "COMMIT"]
        );
        assert!(minimal_write(&captured[..1]).is_err());
    }

    #[test]
    fn only_the_databases_statements_are_kept() {
        let log = "\
t [1] postgres@other LOG:  execute s1: SELECT 1
t [2] postgres@bench LOG:  statement: BEGIN
t [2] postgres@bench LOG:  execute s2: UPDATE users SET a = $1 WHERE id = $2
t [2] postgres@bench DETAIL:  parameters: $1 = 'x', $2 = 'y'
t [2] postgres@bench LOG:  statement: COMMIT";
        assert_eq!(
            statements(log, "bench"),
            ["BEGIN", "UPDATE users SET a = 'x' WHERE id = 'y'", "COMMIT"]
        );
    }
}
