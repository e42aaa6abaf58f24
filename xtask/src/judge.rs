//! `cargo xtask judge`: the external judges of the contract, run against the real server on
//! SQLite and on PostgreSQL. Our own tests can share our own blind spots; these tools cannot.
//!
//! For each database: a fresh database, `users-api admin create-org --json` three times (one
//! organization for Schemathesis, one for its unhooked run, one for the judges that act as a
//! person), the server on a free port with sign-in limits raised and private webhook URLs
//! allowed, then the six judges (spec lint, Schemathesis with and without hooks, a TypeScript
//! SDK consumer, a webhook receiver in Python, Swagger UI in headless Chromium), then the server
//! is stopped and the database dropped. Each judge prints its own verdict; the run ends with one
//! line `N passed, N failed` and exits non-zero on any failure. The tools live in `judge/`
//! (pinned; installed by `judge/install.sh`, which this runs first). Artifacts go to
//! `target/judge/`.
//!
//! This module never changes the committed spec or the judges' configuration: a judge that
//! fails is reported, never retried or relaxed.

mod judges;
mod stage;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

pub use stage::Stage;

/// The databases the judges run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Database {
    Sqlite,
    Postgres,
}

impl Database {
    pub fn name(self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres => "postgres",
        }
    }
}

/// Where the judges' tools and outputs live.
pub struct Paths {
    pub root: PathBuf,
    /// `judge/`: configuration, scripts, `node_modules`, `.venv`.
    pub tools: PathBuf,
    /// `target/judge/`: logs, reports, screenshots (gitignored).
    pub out: PathBuf,
}

pub fn run(only: Option<Database>, skip_install: bool) -> Result<()> {
    let started = Instant::now();
    let root = crate::workspace_root();
    let paths = Paths {
        tools: root.join("judge"),
        out: root.join("target").join("judge"),
        root,
    };
    std::fs::create_dir_all(&paths.out)?;
    if !skip_install {
        install(&paths.tools)?;
    }
    let server = crate::services::build_server()?;

    let databases = match only {
        Some(db) => vec![db],
        None => vec![Database::Sqlite, Database::Postgres],
    };
    let (mut passed, mut failed) = (0, 0);
    for db in databases {
        println!("\n==== judges on {}", db.name());
        match Stage::start(db, &server, &paths) {
            Ok(stage) => {
                for judge in judges::ALL {
                    if judges::run(*judge, &stage, &paths) {
                        passed += 1;
                    } else {
                        failed += 1;
                    }
                }
                stage.stop();
            }
            Err(error) => {
                println!(
                    "judges on {}: cannot start the server: {error:#}",
                    db.name()
                );
                failed += judges::ALL.len();
            }
        }
    }
    println!(
        "\njudges took {:.0} s; artifacts in {}",
        started.elapsed().as_secs_f64(),
        paths.out.display()
    );
    // The last line, as CI reads it; the exit status says the same.
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// `judge/install.sh`: installs whatever is missing (Chromium, the venv, `node_modules`) and is
/// a quick no-op when everything is there.
fn install(tools: &Path) -> Result<()> {
    let status = Command::new("bash")
        .arg(tools.join("install.sh"))
        .status()
        .context("running judge/install.sh")?;
    if !status.success() {
        bail!("judge/install.sh failed ({status})");
    }
    Ok(())
}
