//! What the scenarios that run the real server share (`judge`, `fleet`): the debug build of
//! the server, a free port, and PostgreSQL through `psql` (a database of their own on the
//! server at `TEST_DATABASE_URL`, dropped afterwards).

use std::{
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The maintenance URL the scenarios create and drop their databases through.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into())
}

/// Builds the server's debug binary (once per run: cargo is a no-op when it is current).
pub fn build_server() -> Result<PathBuf> {
    let root = crate::workspace_root();
    println!("== building users-api");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args(["build", "--package", "users-api", "--bin", "users-api"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| root.join(dir))
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("debug").join("users-api"))
}

/// A port nobody listens on now (its user binds it a moment later).
pub fn free_port() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Runs `sql`.
pub fn psql(url: &str, sql: &str) -> Result<()> {
    query(url, sql).map(drop)
}

/// Runs `sql` with `psql -At`; returns what it printed, trimmed.
pub fn query(url: &str, sql: &str) -> Result<String> {
    let output = Command::new("psql")
        .args([
            "-At",
            "--no-psqlrc",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .context("running psql (apt-get install postgresql-client)")?;
    if !output.status.success() {
        bail!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The same server URL with `name` as its database.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    match query {
        Some(query) => format!("{}/{name}?{query}", &base[..path_start]),
        None => format!("{}/{name}", &base[..path_start]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        let url = "postgres://postgres@127.0.0.1:5432/postgres";
        assert_eq!(
            with_database(url, "f"),
            "postgres://postgres@127.0.0.1:5432/f"
        );
        assert_eq!(
            with_database("postgres://u@h/p?sslmode=disable", "f"),
            "postgres://u@h/f?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "f"), "postgres://u@h/f");
    }
}
