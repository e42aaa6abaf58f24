//! Developer tasks: `cargo xtask <command>`.
//!
//! - `openapi generate|check`: write `spec/openapi.json` from the server's API description, or
//!   fail with a diff when the committed file is stale.
//! - `client generate|check`: the same for the progenitor client in `generated/`.
//! - `typescript generate|check`: the same for the npm package in `generated/typescript/`
//!   (both also build it).
//! - `check`: all three checks (CI runs this).
//! - `test`: the test suite on SQLite, then on PostgreSQL.
//! - `bench`: throughput, latency and memory under `wrk`, written to `BENCHMARKS.md`; with
//!   `--peers`, better-auth and fastapi-users measured the same way beside it.
//! - `judge`: the external judges (spec linters, Schemathesis, a TypeScript consumer, Swagger UI
//!   in Chromium) against the running server on SQLite and PostgreSQL.
//! - `fleet`: two instances on one PostgreSQL behind nginx (`deploy/nginx/`), checked end to end.

mod bench;
mod client;
mod fleet;
mod judge;
mod openapi;
mod services;
mod test;
mod typescript;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "users-api developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The committed OpenAPI document.
    Openapi {
        #[command(subcommand)]
        action: Action,
    },
    /// The generated Rust client crate.
    Client {
        #[command(subcommand)]
        action: Action,
    },
    /// The generated TypeScript package (`@users-api/client`).
    Typescript {
        #[command(subcommand)]
        action: Action,
    },
    /// Fail if the spec, the Rust client or the TypeScript package is stale.
    Check,
    /// Run the tests on SQLite and, when reachable, PostgreSQL (`TEST_DATABASE_URL`).
    Test {
        /// Fail instead of skipping when PostgreSQL is unreachable.
        #[arg(long)]
        require_postgres: bool,
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Measure the release server under `wrk` on SQLite and PostgreSQL; write BENCHMARKS.md.
    Bench {
        /// One second per case, 4 connections, the debug build; writes target/bench/smoke.md (CI).
        #[arg(long)]
        smoke: bool,
        /// Seconds per case.
        #[arg(long, default_value_t = 15)]
        seconds: u32,
        /// Concurrent connections, for wrk and pgbench alike.
        #[arg(long, default_value_t = 32)]
        connections: u32,
        /// Users seeded into the organization.
        #[arg(long, default_value_t = 10_000)]
        users: u64,
        /// Users in the organization for the pagination cases (first page vs a deep cursor).
        #[arg(long, default_value_t = 1_000_000)]
        list_users: u64,
        /// Measure this `users-api` binary instead of building one (e.g. an older commit's
        /// release build, for a before/after comparison under the same harness).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Then the same cases on better-auth and fastapi-users (bench/peers/), installed from
        /// their lockfiles, with a peers table in the report.
        #[arg(long)]
        peers: bool,
        /// The peers' cases alone (no users-api, no ratios), to target/bench/peers.md.
        #[arg(long, conflicts_with = "peers")]
        peers_only: bool,
    },
    /// Run the external judges against the real server on SQLite and PostgreSQL
    /// (`TEST_DATABASE_URL`); installs their tools first (`judge/install.sh`).
    Judge {
        /// Judge one database only.
        #[arg(long, value_enum)]
        only: Option<judge::Database>,
        /// Do not run `judge/install.sh` first.
        #[arg(long)]
        skip_install: bool,
    },
    /// Two instances on one fresh PostgreSQL database behind nginx (the committed example in
    /// `deploy/nginx/`), checked end to end: tokens, revocation and sign-in limits across
    /// instances, X-Forwarded-For, the sweeper, and an instance SIGKILLed mid-traffic.
    Fleet,
}

#[derive(Subcommand, Clone, Copy)]
enum Action {
    /// Write the file.
    Generate,
    /// Fail, printing a diff, when the committed file differs.
    Check,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Openapi {
            action: Action::Generate,
        } => openapi::generate(),
        Command::Openapi {
            action: Action::Check,
        } => openapi::check(),
        Command::Client {
            action: Action::Generate,
        } => client::generate(),
        Command::Client {
            action: Action::Check,
        } => client::check(),
        Command::Typescript {
            action: Action::Generate,
        } => typescript::generate(),
        Command::Typescript {
            action: Action::Check,
        } => typescript::check(),
        Command::Check => {
            let spec = openapi::check();
            let client = client::check();
            let typescript = typescript::check();
            spec.and(client).and(typescript)
        }
        Command::Test {
            require_postgres,
            args,
        } => test::run(require_postgres, &args),
        Command::Bench {
            smoke,
            seconds,
            connections,
            users,
            list_users,
            binary,
            peers,
            peers_only,
        } => {
            if list_users < users + 2_000 {
                bail!("--list-users must exceed --users by at least 2,000 (one deep page)");
            }
            bench::run(&bench::Options {
                smoke,
                seconds: if smoke { 1 } else { seconds },
                connections: if smoke { 4 } else { connections },
                users,
                list_users,
                binary,
                peers: match (peers, peers_only) {
                    (_, true) => bench::Peers::Only,
                    (true, _) => bench::Peers::Also,
                    _ => bench::Peers::No,
                },
            })
        }
        Command::Judge { only, skip_install } => judge::run(only, skip_install),
        Command::Fleet => fleet::run(),
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_owned()
}

/// Compares `expected` with the file at `path`; on a difference prints a unified diff and the
/// command that fixes it.
pub fn compare(path: &Path, expected: &str, fix: &str) -> Result<()> {
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed == expected {
        println!("{} is up to date", path.display());
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(committed.as_str(), expected);
    print!(
        "{}",
        diff.unified_diff()
            .context_radius(3)
            .header("committed", "generated")
    );
    bail!(
        "{} is stale: run `{fix}` and commit the result",
        path.display()
    )
}
