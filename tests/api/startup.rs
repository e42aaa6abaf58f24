//! The binary's start-up against a database that does not answer — one line, exit status 1, in
//! bounded time — and the permissions of the SQLite files it creates.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use users_api::db::DatabaseUrl;

use crate::{cli::users_api, helpers::spawn_app};

/// Runs `command` to completion; kills it and panics if it takes longer than 30 s.
fn run_bounded(command: &mut Command) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

#[test]
fn start_up_against_a_silent_database_fails_in_time_with_one_line_naming_host_port_and_step() {
    // Accepts connections and never answers: a reachable port with nothing behind it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://users@127.0.0.1:{port}/users");
    let (output, elapsed) = run_bounded(users_api(dir.path()).args([
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--database-connect-timeout",
        "1s",
    ]));
    assert_eq!(output.status.code(), Some(1));
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "users-api: timed out authenticating to PostgreSQL at 127.0.0.1:{port} after 1s \
             (--database-connect-timeout)"
        )
    );
}

/// A migration that cannot finish (its table is locked by another session) stops `migrate` at
/// the deadline: the process exits, it does not wait for the blocked migration thread.
#[tokio::test]
async fn a_migration_that_outlives_its_deadline_fails_with_one_line() {
    let app = spawn_app().await;
    let DatabaseUrl::Postgres(url) = &app.database_url else {
        eprintln!("SQLite migrations are local and take no deadline; this runs on PostgreSQL");
        return;
    };
    let (locker, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    locker
        .batch_execute("BEGIN; LOCK TABLE __diesel_schema_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut migrate = users_api(dir.path());
    migrate.args([
        "migrate",
        "--database-url",
        url,
        "--database-migration-timeout",
        "1s",
    ]);
    let (output, elapsed) = tokio::task::spawn_blocking(move || run_bounded(&mut migrate))
        .await
        .unwrap();
    locker.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let address = url.split('@').nth(1).unwrap().split('/').next().unwrap();
    let address = if address.contains(':') {
        address.to_owned()
    } else {
        format!("{address}:5432")
    };
    assert_eq!(
        stderr.trim(),
        format!(
            "users-api: timed out applying migrations on PostgreSQL at {address} after 1s \
             (--database-migration-timeout)"
        )
    );
}

#[cfg(unix)]
#[test]
fn the_sqlite_files_are_private_whatever_the_umask_and_tightened_when_they_are_not() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mode = |name: &str| {
        let path = data.join(name);
        std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let files = [
        "users-api.db",
        "users-api.db-wal",
        "users-api.db-shm",
        "signing-key.pem",
    ];

    let server = start_with_open_umask(dir.path());
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for name in files {
        assert_eq!(mode(name), 0o600, "{name}");
    }
    stop(server);

    let db = data.join("users-api.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = start_with_open_umask(dir.path());
    for name in files {
        assert_eq!(mode(name), 0o600, "{name} after a restart");
    }
    stop(server);
}

/// Starts the binary with umask 000 in `dir` and returns once it listens (the files are open).
#[cfg(unix)]
fn start_with_open_umask(dir: &std::path::Path) -> Child {
    let mut child = Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_users-api"))
        .args(["--addr", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (listening, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("listening") {
                let _ = listening.send(());
            }
        }
    });
    started
        .recv_timeout(Duration::from_secs(30))
        .expect("the server starts");
    child
}

#[cfg(unix)]
fn stop(mut server: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.wait().unwrap().success());
}
