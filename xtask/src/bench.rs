//! `cargo xtask bench`: the release server under `wrk` on SQLite and on PostgreSQL, each case
//! reported as a ratio to ceilings measured in the same run on the same machine — `GET /healthz`
//! (the framework) and, on PostgreSQL, `pgbench` replaying the exact SQL one request runs (the
//! database). A run in which any response was not a 2xx fails instead of reporting a number;
//! the growth cases (`growth.rs`) repeat requests with far more data behind them.
//! Writes `BENCHMARKS.md`; `--smoke` runs every case for one second with the debug binary and
//! writes `target/bench/smoke.md`, so CI keeps the harness working without paying for a release build.

mod growth;
mod load;
mod peers;
mod postgres;

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use load::{Load, Measurement};
use users_api::domain::Cursor;
use uuid::Uuid;

pub struct Options {
    pub smoke: bool,
    /// Seconds per case.
    pub seconds: u32,
    pub connections: u32,
    /// Users seeded into the organization besides its admin.
    pub users: u64,
    /// Users in the organization for the pagination cases (seeded after the others).
    pub list_users: u64,
    /// A prebuilt server to measure instead of this checkout's.
    pub binary: Option<PathBuf>,
    /// Whether better-auth and fastapi-users run too (`peers.rs`).
    pub peers: Peers,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Peers {
    No,
    /// After users-api's cases, with a peers table in the report.
    Also,
    /// The peers alone, written to `target/bench/peers.md` (for working on the peers).
    Only,
}

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// One measured case of one backend.
struct Row {
    backend: Backend,
    case: &'static str,
    result: Measurement,
    /// What the throughput is compared with, as (ceiling name, its requests per second).
    ceilings: Vec<(&'static str, f64)>,
}

pub fn run(options: &Options) -> Result<()> {
    for tool in ["wrk", "pgbench"] {
        if Command::new(tool).arg("--version").output().is_err() {
            bail!("`{tool}` is not installed: apt-get install -y wrk postgresql-client");
        }
    }
    let work = crate::workspace_root().join("target/bench");
    std::fs::create_dir_all(&work)?;
    if options.peers == Peers::Only {
        return peers::run_alone(options, &work);
    }
    let binary = match &options.binary {
        Some(binary) => std::path::absolute(binary)?,
        None => build(options.smoke)?,
    };
    let scripts = load::write_scripts(&work)?;

    let mut rows = Vec::new();
    let mut growth = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        println!("== {}", backend.name());
        let database = Database::create(backend, &work)?;
        let org = create_org(&binary, &database.url)?;
        seed_users(&database.url, &org.org_id, 1, options.users)?;
        // The database ceiling: the SQL of one PATCH, captured before the measured server starts.
        let patch_sql = match &database.postgres {
            Some(name) => Some(postgres::capture_patch_sql(
                &binary,
                &database.url,
                name,
                &org.session_token,
                &work,
            )?),
            None => None,
        };
        let server = Server::start(&binary, &database.url, &work)?;
        let load = Load {
            base: server.base.clone(),
            headers: vec![format!("Authorization: Bearer {}", org.session_token)],
            seconds: options.seconds,
            connections: options.connections,
            pid: server.pid(),
            timeout_seconds: None,
        };
        let health = load.run("GET /healthz", "/healthz", None)?;
        let me = load.run("GET /v1/me", "/v1/me", None)?;
        let patch = load.run("PATCH /v1/me", "/v1/me", Some(&scripts.patch))?;
        // What the outbox and delivery cost a write: the same PATCH with one subscribed endpoint
        // (a receiver on loopback answering 204), against the PATCH without one.
        let receiver = load::Receiver::start()?;
        let body = serde_json::json!({"url": receiver.url, "event_types": ["user.updated"]});
        let created = load::status(
            &server.base,
            "POST",
            "/v1/webhook-endpoints",
            &org.session_token,
            &body.to_string(),
        );
        anyhow::ensure!(
            created == Some(201),
            "creating the endpoint answered {created:?}"
        );
        let hooked = load.run(WEBHOOK_CASE, "/v1/me", Some(&scripts.patch))?;
        println!("   deliveries received: {}", receiver.received());
        let mut patch_ceilings = vec![("/healthz", health.requests_per_second)];
        if let Some(sql) = &patch_sql {
            let ceiling = postgres::pgbench(&database.url, sql, &work, options)?;
            println!("   pgbench with the same SQL: {ceiling:.0} requests/s");
            patch_ceilings.push(("pgbench of its SQL", ceiling));
            let minimal = postgres::minimal_write(sql)?;
            let ceiling = postgres::pgbench(&database.url, &minimal, &work, options)?;
            println!("   pgbench with one UPDATE … RETURNING: {ceiling:.0} requests/s");
            patch_ceilings.push(("pgbench of one UPDATE…RETURNING", ceiling));
        }
        let healthz_rps = health.requests_per_second;
        rows.push(Row {
            backend,
            case: "GET /healthz",
            result: health,
            ceilings: vec![],
        });
        rows.push(Row {
            backend,
            case: "GET /v1/me",
            result: me,
            ceilings: vec![("/healthz", healthz_rps)],
        });
        let patch_rps = patch.requests_per_second;
        rows.push(Row {
            backend,
            case: "PATCH /v1/me",
            result: patch,
            ceilings: patch_ceilings,
        });
        rows.push(Row {
            backend,
            case: WEBHOOK_CASE,
            result: hooked,
            ceilings: vec![("PATCH without an endpoint", patch_rps)],
        });
        // Keyset pagination: the first page and one deep in the list must cost the same.
        seed_users(
            &database.url,
            &org.org_id,
            options.users + 1,
            options.list_users,
        )?;
        let deep = Cursor::after(seeded_id(options.list_users - 1_000)).encode();
        let first = load.run("GET /v1/users (first page)", "/v1/users?limit=50", None)?;
        let deep_path = format!("/v1/users?limit=50&cursor={deep}");
        let deep = load.run("GET /v1/users (deep cursor)", &deep_path, None)?;
        let first_rps = first.requests_per_second;
        rows.push(Row {
            backend,
            case: "GET /v1/users?limit=50",
            result: first,
            ceilings: vec![("/healthz", healthz_rps)],
        });
        rows.push(Row {
            backend,
            case: "GET /v1/users?limit=50&cursor=(deep)",
            result: deep,
            ceilings: vec![("the first page", first_rps)],
        });
        growth.extend(growth::run(&growth::Setup {
            backend,
            url: &database.url,
            org: &org,
            load: &load,
            patch_script: &scripts.patch,
            options,
            rows: &rows,
        })?);
        // Sign-in, last: every request stores a session. Few connections, since argon2 runs
        // one hash per core and the rest queue.
        let script =
            load::sign_in_script(&work, &org.org_id, &org.admin_email, &org.admin_password)?;
        let sign_in = Load {
            connections: options.connections.min(8),
            ..load
        }
        .run(SIGN_IN_CASE, "/v1/sessions", Some(&script))?;
        rows.push(Row {
            backend,
            case: SIGN_IN_CASE,
            result: sign_in,
            ceilings: vec![("/healthz", healthz_rps)],
        });
        drop(server);
        database.drop_quietly();
    }

    let mut report = render(options, &rows)? + &growth::render(&growth)?;
    if options.peers == Peers::Also {
        report.push_str(&peers::run(options, &work, &rows)?);
    }
    let path = if options.smoke {
        work.join("smoke.md")
    } else {
        crate::workspace_root().join("BENCHMARKS.md")
    };
    // The hand-written analysis (profiles, what changed, missed targets) below the measured
    // table survives a re-run: everything from its heading on is kept.
    let kept = std::fs::read_to_string(&path)
        .ok()
        .and_then(|old| old.find(ANALYSIS_HEADING).map(|at| old[at..].to_owned()));
    let report = match kept {
        Some(analysis) => format!("{report}\n{analysis}"),
        None => report,
    };
    std::fs::write(&path, report)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// PATCH with one endpoint subscribed to its events (target: at least 85% of PATCH without).
const WEBHOOK_CASE: &str = "PATCH /v1/me, one webhook endpoint";

/// Reported, not targeted: argon2id is slow on purpose, with these parameters.
const SIGN_IN_CASE: &str = "POST /v1/sessions (argon2id m=12 MiB, t=3, p=1)";

/// Where the hand-written part of `BENCHMARKS.md` starts.
const ANALYSIS_HEADING: &str = "## Where the time goes";

/// The server binary: release for real numbers, debug for the smoke run.
fn build(smoke: bool) -> Result<PathBuf> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(crate::workspace_root())
        .args(["build", "--bin", "users-api"]);
    if !smoke {
        command.arg("--release");
    }
    if !command.status()?.success() {
        bail!("cargo build failed");
    }
    let profile = if smoke { "debug" } else { "release" };
    Ok(crate::workspace_root().join(format!("target/{profile}/users-api")))
}

/// A fresh database for one backend's run.
struct Database {
    url: String,
    postgres: Option<String>,
}

impl Database {
    fn create(backend: Backend, work: &Path) -> Result<Self> {
        match backend {
            Backend::Sqlite => {
                let path = work.join("bench.db");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Ok(Self {
                    url: format!("sqlite://{}", path.display()),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let name = format!("users_api_bench_{}", std::process::id());
                postgres::psql(&format!("CREATE DATABASE {name}"))?;
                Ok(Self {
                    url: format!("{}/{name}", postgres::server()),
                    postgres: Some(name),
                })
            }
        }
    }

    fn drop_quietly(self) {
        if let Some(name) = self.postgres {
            let _ = postgres::psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

#[derive(serde::Deserialize)]
struct Org {
    org_id: String,
    admin_email: String,
    admin_password: String,
    session_token: String,
}

fn create_org(binary: &Path, url: &str) -> Result<Org> {
    let output = Command::new(binary)
        .args(["admin", "create-org", "--name", "Bench", "--admin-email"])
        .args(["admin@bench.example", "--json", "--database-url", url])
        .current_dir(crate::workspace_root().join("target/bench"))
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        bail!("create-org failed");
    }
    serde_json::from_slice(&output.stdout).context("create-org prints one JSON object")
}

/// The id of seeded user number `n`: seeded ids sort in seeding order, before any real one.
fn seeded_id(n: u64) -> Uuid {
    Uuid::parse_str(&format!("00000000-0000-7000-8000-{n:012}")).expect("a well-formed UUID")
}

/// Inserts members `from..=to` into the organization in one statement, so the measured queries
/// run against a table of realistic size rather than a single row.
fn seed_users(url: &str, org_id: &str, from: u64, to: u64) -> Result<()> {
    let count = to + 1 - from;
    let postgres = url.starts_with("postgres");
    let (id, now, line) = if postgres {
        ("lpad(n::text, 12, '0')", "now()", "chr(10)")
    } else {
        (
            "printf('%012d', n)",
            "strftime('%Y-%m-%d %H:%M:%f', 'now')",
            "char(10)",
        )
    };
    // The search key is the one the server derives (each value folded, after a line break),
    // stored current, so that no `Db::connect` re-derives a million keys.
    let sql = format!(
        "INSERT INTO users (id, org_id, display_name, first_name, last_name, primary_email, \
         primary_email_key, created_at, updated_at, search_key, search_key_version) \
         WITH RECURSIVE seq(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM seq WHERE n < {to}) \
         SELECT '00000000-0000-7000-8000-' || {id}, '{org_id}', 'Bench user ' || n, 'Bench', \
         'User', 'user' || n || '@bench.example', 'user' || n || '@bench.example', {now}, {now}, \
         {line} || 'bench user ' || n || {line} || 'bench' || {line} || 'user' || {line} || \
         'user' || n || '@bench.example', 1 \
         FROM seq{analyze}",
        analyze = analyze_after_seeding(postgres, "users")
    );
    execute(url, &sql).with_context(|| format!("seeding {count} users"))?;
    println!("   seeded {count} users");
    Ok(())
}

/// On PostgreSQL, `; ANALYZE table`, to follow a bulk insert: autovacuum would refresh the
/// planner's statistics after it, but not before the next case starts (without it, the sessions
/// page read all 1,000 seeded rows through two bitmap indexes and sorted them).
fn analyze_after_seeding(postgres: bool, table: &str) -> String {
    match postgres {
        true => format!("; ANALYZE {table}"),
        false => String::new(),
    }
}

/// Runs `sql` (one or more statements, in one transaction) against the bench's database.
fn execute(url: &str, sql: &str) -> Result<()> {
    let url = users_api::db::DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        // One large statement: give it more than a request's deadline.
        let timeouts = users_api::db::Timeouts {
            operation: std::time::Duration::from_secs(600),
            ..Default::default()
        };
        let db = users_api::db::Db::connect(&url, timeouts).await?;
        db.execute_script(sql)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))
    })
}

/// The server under test; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(binary: &Path, url: &str, work: &Path) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(work.join("server.log"))?;
        let child = Command::new(binary)
            .args([
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                url,
                // The sign-in case measures hashing, not the brute-force limits.
                "--sign-in-limit-per-account",
                "4000000000",
                "--sign-in-limit-per-address",
                "4000000000",
                // The webhook case's receiver is on loopback, over plain HTTP.
                "--webhooks-allow-private-urls",
            ])
            .current_dir(work)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if load::status(&server.base, "GET", "/readyz", "", "") == Some(200) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("the server did not become ready; see target/bench/server.log")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn render(options: &Options, rows: &[Row]) -> Result<String> {
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = if git(&["status", "--porcelain"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mut out = String::new();
    writeln!(out, "# Benchmarks\n")?;
    let measured = match &options.binary {
        Some(binary) => format!("The binary `{}`", binary.display()),
        None => format!("Commit `{commit}`{dirty}"),
    };
    writeln!(
        out,
        "Machine: {cpu}, {cores} cores, server and load generator sharing them. {measured}.  "
    )?;
    writeln!(
        out,
        "Command: `cargo xtask bench{}` — `wrk` with {} connections for {} s per case against \
         the {} build; {} seeded users besides the admin, {} for the pagination cases.\n",
        if options.smoke { " --smoke" } else { "" },
        options.connections,
        options.seconds,
        if options.smoke { "debug" } else { "release" },
        options.users,
        options.list_users,
    )?;
    writeln!(
        out,
        "| backend | case | requests/s | p50 | p99 | peak RSS | ratio to ceiling |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---:|---|")?;
    for row in rows {
        let ratios: Vec<String> = row
            .ceilings
            .iter()
            .map(|(name, ceiling)| {
                let percent = 100.0 * row.result.requests_per_second / ceiling;
                let digits = if percent < 10.0 { 1 } else { 0 };
                format!("{percent:.digits$}% of {name}")
            })
            .collect();
        writeln!(
            out,
            "| {} | `{}` | {:.0} | {} | {} | {:.1} MB | {} |",
            row.backend.name(),
            row.case,
            row.result.requests_per_second,
            row.result.p50,
            row.result.p99,
            row.result.peak_rss_kb as f64 / 1024.0,
            if ratios.is_empty() {
                "(ceiling)".into()
            } else if row.case == SIGN_IN_CASE {
                format!("{} (reported, not targeted)", ratios.join(", "))
            } else {
                ratios.join(", ")
            }
        )?;
    }
    Ok(out)
}

fn git(args: &[&str]) -> String {
    Command::new("git")
        .args(args)
        .current_dir(crate::workspace_root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
