//! The README's test command: the whole suite on SQLite, then again on PostgreSQL when
//! `TEST_DATABASE_URL` (default: the local server) answers.

use std::{net::TcpStream, process::Command, time::Duration};

use anyhow::{Result, bail};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn run(require_postgres: bool, args: &[String]) -> Result<()> {
    println!("== tests on SQLite");
    cargo_test(&["--workspace"], args, None)?;

    let url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
    if !reachable(&url) {
        if require_postgres {
            bail!("PostgreSQL at {url} is unreachable (start it, or set TEST_DATABASE_URL)");
        }
        println!("== PostgreSQL at {url} is unreachable: skipped its run (set TEST_DATABASE_URL)");
        return Ok(());
    }
    println!("== tests on PostgreSQL ({url})");
    // The same selection as the first run: any other one changes feature unification and
    // rebuilds the dependency graph. The unit tests it repeats take a few seconds.
    cargo_test(&["--workspace"], args, Some(&url))
}

fn cargo_test(selection: &[&str], args: &[String], database: Option<&str>) -> Result<()> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(crate::workspace_root())
        .arg("test")
        .args(selection);
    if !args.is_empty() {
        command.arg("--").args(args);
    }
    match database {
        Some(url) => command.env("TEST_DATABASE_URL", url),
        None => command.env_remove("TEST_DATABASE_URL"),
    };
    let status = command.status()?;
    if !status.success() {
        bail!("cargo test failed ({status})");
    }
    Ok(())
}

/// Whether something listens at the URL's host and port.
fn reachable(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}
