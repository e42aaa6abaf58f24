//! `cargo xtask bench --peers`: users-api's cases on what its users would pick instead —
//! better-auth (Node) and fastapi-users (uvicorn with 1 and 2 workers) from `bench/peers/` —
//! on SQLite and PostgreSQL, a fresh database each, with the same `wrk` settings. Every run has
//! zero non-2xx responses (`Load::run`); each update case's last write is read back. The report
//! is a table beside users-api's numbers with the ratios, and each peer's defaults that matter.

mod server;

use std::{fmt::Write as _, path::Path};

use anyhow::{Context, Result, ensure};

use super::{
    Backend, Database, Options, Row, SIGN_IN_CASE,
    load::{self, Load, Measurement},
};
use server::PeerServer;

/// wrk's timeout for the peers: its default 2 s fails the slower peers' runs outright (a
/// single-threaded server behind 32 connections, or an argon2 hash of 64 MiB on the event loop).
const PEER_TIMEOUT_SECONDS: u32 = 30;

/// The shortest sign-in run: fastapi-users hashes on its event loop, so with 8 connections its
/// first answers come only after 8 hashes (seconds on a busy machine), and a short run would
/// end before any. The default run (15 s) is longer anyway.
const SIGN_IN_MIN_SECONDS: u32 = 10;

#[derive(Clone, Copy, PartialEq)]
enum Case {
    /// Each framework's ceiling: a route that does nothing.
    Trivial,
    /// Read the signed-in user through its session.
    Me,
    /// Every request writes a new name.
    Update,
    SignIn,
}

impl Case {
    const ALL: [Case; 4] = [Case::Trivial, Case::Me, Case::Update, Case::SignIn];

    /// The users-api case it stands beside, as `bench.rs` names it.
    fn users_api(self) -> &'static str {
        match self {
            Case::Trivial => "GET /healthz",
            Case::Me => "GET /v1/me",
            Case::Update => "PATCH /v1/me",
            Case::SignIn => SIGN_IN_CASE,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Peer {
    BetterAuth,
    FastapiUsers { workers: u32 },
}

impl Peer {
    const ALL: [Peer; 3] = [
        Peer::BetterAuth,
        Peer::FastapiUsers { workers: 1 },
        Peer::FastapiUsers { workers: 2 },
    ];

    fn name(self) -> String {
        match self {
            Peer::BetterAuth => format!("better-auth {}", version("better-auth")),
            Peer::FastapiUsers { workers } => format!(
                "fastapi-users {}, {workers} worker{}",
                version("fastapi-users"),
                if workers == 1 { "" } else { "s" }
            ),
        }
    }

    fn slug(self) -> String {
        match self {
            Peer::BetterAuth => "better-auth".into(),
            Peer::FastapiUsers { workers } => format!("fastapi-users-{workers}"),
        }
    }

    /// The method and path of `case`.
    fn request(self, case: Case) -> (&'static str, &'static str) {
        match (self, case) {
            (_, Case::Trivial) => ("GET", "/healthz"),
            (Peer::BetterAuth, Case::Me) => ("GET", "/api/auth/get-session"),
            (Peer::BetterAuth, Case::Update) => ("POST", "/api/auth/update-user"),
            (Peer::BetterAuth, Case::SignIn) => ("POST", "/api/auth/sign-in/email"),
            (Peer::FastapiUsers { .. }, Case::Me) => ("GET", "/users/me"),
            (Peer::FastapiUsers { .. }, Case::Update) => ("PATCH", "/users/me"),
            (Peer::FastapiUsers { .. }, Case::SignIn) => ("POST", "/auth/jwt/login"),
        }
    }

    /// The sign-in body: JSON for better-auth, the OAuth2 password form for fastapi-users.
    fn sign_in_body(self) -> (&'static str, String) {
        let (email, password) = (server::EMAIL, server::PASSWORD);
        match self {
            Peer::BetterAuth => (
                "application/json",
                serde_json::json!({"email": email, "password": password}).to_string(),
            ),
            Peer::FastapiUsers { .. } => (
                "application/x-www-form-urlencoded",
                format!("username={email}&password={password}"),
            ),
        }
    }
}

/// The version pinned in `bench/peers/` (package.json pins exactly; requirements.txt is frozen).
fn version(package: &str) -> String {
    let pinned = || -> Option<String> {
        if package == "better-auth" {
            let path = server::peers_dir().join("better-auth/package.json");
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
            return json["dependencies"][package].as_str().map(str::to_owned);
        }
        let path = server::peers_dir().join("fastapi-users/requirements.txt");
        let text = std::fs::read_to_string(path).ok()?;
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{package}==")))?;
        Some(line.split_once("==")?.1.to_owned())
    };
    pinned().unwrap_or_else(|| "(unpinned?)".into())
}

struct PeerRow {
    backend: Backend,
    peer: Peer,
    case: Case,
    result: Measurement,
}

/// Installs and measures the peers; answers the report's peers section, with ratios against
/// users-api's `rows` of the same run (none when they are empty).
pub fn run(options: &Options, work: &Path, users_api: &[Row]) -> Result<String> {
    for tool in ["node", "npm", "python3"] {
        ensure!(
            std::process::Command::new(tool)
                .arg("--version")
                .output()
                .is_ok(),
            "`{tool}` is not installed; the peers need Node ≥ 20 and Python ≥ 3.10"
        );
    }
    server::install(work)?;
    let mut rows = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for peer in Peer::ALL {
            println!("== {} on {}", peer.name(), backend.name());
            let database = Database::create(backend, work)?;
            let measured = measure(peer, &database.url, options, work);
            database.drop_quietly();
            for (case, result) in measured? {
                rows.push(PeerRow {
                    backend,
                    peer,
                    case,
                    result,
                });
            }
        }
    }
    render(options, &rows, users_api)
}

/// `--peers-only`: the peers' section alone, in `target/bench/peers.md`.
pub fn run_alone(options: &Options, work: &Path) -> Result<()> {
    let report = format!("# Peers, without users-api\n\n{}", run(options, work, &[])?);
    let path = work.join("peers.md");
    std::fs::write(&path, report)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The four cases on one peer, on a fresh database at `url`.
fn measure(
    peer: Peer,
    url: &str,
    options: &Options,
    work: &Path,
) -> Result<Vec<(Case, Measurement)>> {
    let server = PeerServer::start(peer, url, work, options.users)?;
    let credentials = server.sign_up_and_in(peer)?;
    let load = Load {
        base: server.base.clone(),
        headers: credentials.clone(),
        seconds: options.seconds,
        connections: options.connections,
        pid: server.pid(),
        // A slow answer counts, in the latencies, rather than failing the run.
        timeout_seconds: Some(PEER_TIMEOUT_SECONDS),
    };
    let mut results = Vec::new();
    for case in [Case::Trivial, Case::Me] {
        let (method, path) = peer.request(case);
        results.push((case, load.run(&format!("{method} {path}"), path, None)?));
    }
    let (method, path) = peer.request(Case::Update);
    let script = update_script(work, method)?;
    let update = load.run(&format!("{method} {path}"), path, Some(&script))?;
    let stored = server.read_name(peer, &credentials)?;
    ensure!(
        landed(&stored, &update.output),
        "the name read back, {stored:?}, is not one the run wrote"
    );
    println!("   read back: {stored}");
    // Few connections, as for users-api: the hash is the work, and the rest would only queue.
    let (content_type, body) = peer.sign_in_body();
    let script = load::post_script(&work.join("peer_sign_in.lua"), content_type, &body)?;
    let (method, path) = peer.request(Case::SignIn);
    let sign_in = Load {
        headers: Vec::new(),
        connections: options.connections.min(8),
        seconds: options.seconds.max(SIGN_IN_MIN_SECONDS),
        ..load
    }
    .run(&format!("{method} {path}"), path, Some(&script))?;
    // The sign-ins' sessions work: a fresh one reads a name written. (Not necessarily the one
    // read above: the writes still queued when wrk stopped land after it.)
    let later = server.read_name(peer, &server.sign_in(peer)?)?;
    ensure!(
        landed(&later, &update.output),
        "a fresh session read {later:?}, not a name the run wrote"
    );
    results.push((Case::Update, update));
    results.push((Case::SignIn, sign_in));
    Ok(results)
}

/// Every request writes a name never written before, `w-<thread>-<n>`; `done` prints each
/// thread's last `n`, which the read-back is checked against.
fn update_script(work: &Path, method: &str) -> Result<std::path::PathBuf> {
    let script = format!(
        r#"local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
n = 0
wrk.method = "{method}"
wrk.headers["Content-Type"] = "application/json"
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, '{{"name":"w-' .. id .. '-' .. n .. '"}}')
end
function done()
  for _, thread in ipairs(threads) do
    io.write("written: ", thread:get("id"), " ", thread:get("n"), "\n")
  end
end
"#
    );
    let path = work.join("peer_update.lua");
    std::fs::write(&path, script)?;
    Ok(path)
}

/// Whether `stored` is a name the run wrote (`w-<thread>-<n>`, `n` at most that thread's last).
/// Not necessarily one of the last sent: concurrent writes land in no set order, and a write
/// that waited on SQLite's lock can land seconds after wrk stopped waiting for its answer.
fn landed(stored: &str, wrk_output: &str) -> bool {
    let parse = |text: &str| -> Option<(String, u64)> {
        let (thread, n) = text.split_once(['-', ' '])?;
        Some((thread.to_owned(), n.trim().parse().ok()?))
    };
    let Some((thread, n)) = stored.strip_prefix("w-").and_then(parse) else {
        return false;
    };
    wrk_output
        .lines()
        .filter_map(|line| line.strip_prefix("written: ").and_then(parse))
        .any(|(t, last)| t == thread && (1..=last).contains(&n))
}

/// What a reader needs beside the numbers: each peer's defaults that decide them, read from the
/// pinned versions' installed source (see bench/peers/README.md).
const DEFAULTS: &str = include_str!("../../../bench/peers/DEFAULTS.md");

fn render(options: &Options, rows: &[PeerRow], users_api: &[Row]) -> Result<String> {
    let mut out = String::new();
    writeln!(out, "\n## Peers\n")?;
    writeln!(
        out,
        "`cargo xtask bench --peers`, after users-api's cases in the same run: `wrk` with {} \
         connections ({} for sign-in) for {} s per case (sign-in at least {SIGN_IN_MIN_SECONDS} s; \
         timeout {PEER_TIMEOUT_SECONDS} s), {} seeded users besides the measured \
         one, a fresh database per peer. Every run had zero non-2xx responses; each update case \
         was read back, right after it and with a fresh session after sign-in. Memory: the peak of the resident set summed over the server's \
         process tree, and each process's high-water mark (VmHWM) during the case, summed.\n",
        options.connections,
        options.connections.min(8),
        options.seconds,
        options.users
    )?;
    writeln!(
        out,
        "| database | case | server | requests/s | p50 | p99 | peak RSS | VmHWM (sum) | users-api ÷ this |"
    )?;
    writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|")?;
    let megabytes = |kb: u64| format!("{:.1} MB", kb as f64 / 1024.0);
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for case in Case::ALL {
            let ours = users_api
                .iter()
                .find(|row| row.backend == backend && row.case == case.users_api());
            let mut line = |server: String, path: String, result: &Measurement, ratio: String| {
                writeln!(
                    out,
                    "| {} | {} | {server} `{path}` | {:.digits$} | {} | {} | {} | {} | {ratio} |",
                    backend.name(),
                    case.users_api(),
                    result.requests_per_second,
                    result.p50,
                    result.p99,
                    megabytes(result.peak_rss_kb),
                    megabytes(result.hwm_kb),
                    digits = if result.requests_per_second < 10.0 {
                        1
                    } else {
                        0
                    },
                )
            };
            if let Some(row) = ours {
                line(
                    "users-api".into(),
                    case.users_api().into(),
                    &row.result,
                    "".into(),
                )?;
            }
            for row in rows
                .iter()
                .filter(|r| r.backend == backend && r.case == case)
            {
                let ratio = ours.map_or(String::new(), |ours| {
                    let ratio = ours.result.requests_per_second / row.result.requests_per_second;
                    format!("{ratio:.1}×")
                });
                let (method, path) = row.peer.request(case);
                line(
                    row.peer.name(),
                    format!("{method} {path}"),
                    &row.result,
                    ratio,
                )?;
            }
        }
    }
    writeln!(out, "\n{}", DEFAULTS.trim_end()).context("the defaults")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::landed;

    #[test]
    fn a_read_back_name_must_be_one_the_run_wrote() {
        let output = "Requests/sec: 10\nwritten: 1 500\nwritten: 2 480\n";
        assert!(landed("w-1-500", output));
        assert!(landed("w-2-36", output));
        assert!(!landed("w-2-481", output));
        assert!(!landed("w-3-1", output));
        assert!(!landed("Bench Peer", output));
    }
}
