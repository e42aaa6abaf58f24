//! The `users-api` binary as scripts and newcomers use it: `migrate`, `admin create-org --json`,
//! `admin reset-password`, each command's `--help`, clear failures for bad configuration, and a
//! first start that prints how to get in (a restart: how to get in again).

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::Value;
use users_api::{
    auth::{self, Principal, SigningKeys, TokenSettings, Tokens},
    bootstrap::{DEMO_ADMIN_PASSWORD, DEMO_ORG_ID},
    db::{DatabaseUrl, Db, Timeouts},
};

use crate::{
    fixtures::{me_status, sign_in},
    helpers::{database_url_arg, spawn_app},
};

const BIN: &str = env!("CARGO_BIN_EXE_users-api");

pub fn users_api(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    command
}

#[test]
fn migrate_applies_the_migrations_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let output = users_api(dir.path())
        .args(["migrate", "--database-url", "sqlite://db/x.db"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("db/x.db").exists());
}

#[tokio::test]
async fn admin_create_org_prints_one_json_object_whose_credentials_work() {
    let dir = tempfile::tempdir().unwrap();
    let output = users_api(dir.path())
        .args([
            "admin",
            "create-org",
            "--name",
            "Initech",
            "--admin-email",
            "Boss@Initech.test",
            "--json",
        ])
        .args(["--issuer", "cli-test", "--audience", "cli-test"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one line: {stdout}"
    );
    let created: Value = serde_json::from_str(&stdout).unwrap();
    for key in ["org_id", "user_id", "session_token", "api_key"] {
        assert!(
            created[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {created}"
        );
    }

    let url = DatabaseUrl::Sqlite(dir.path().join("data/users-api.db").display().to_string());
    let db = Db::connect(&url, Timeouts::default()).await.unwrap();
    let keys = SigningKeys::load_or_create(&dir.path().join("data/signing-key.pem")).unwrap();
    let settings = TokenSettings {
        issuer: "cli-test".into(),
        audience: "cli-test".into(),
        lifetime: Duration::from_secs(60),
    };
    let tokens = Tokens::new(keys, settings);
    let session =
        auth::authenticate(&db, &tokens, created["session_token"].as_str().unwrap()).await;
    match session.unwrap() {
        Principal::User { user, .. } => {
            assert_eq!(user.id.to_string(), created["user_id"].as_str().unwrap());
            assert_eq!(user.role, users_api::domain::Role::Admin);
        }
        other => panic!("expected a user, got {other:?}"),
    }
    let key = auth::authenticate(&db, &tokens, created["api_key"].as_str().unwrap()).await;
    assert!(
        matches!(key.unwrap(), Principal::ApiKey(k) if k.org_id.to_string() == created["org_id"].as_str().unwrap())
    );
}

#[test]
fn each_command_help_lists_only_its_own_flags_and_environment_variables_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let output = users_api(dir.path())
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let serve_only = [
        "--addr",
        "--cors-origins",
        "--sweep-interval",
        "--header-read-timeout",
    ];
    for (command, has, lacks) in [
        (
            &[][..],
            &["--addr", "--database-url", "--signing-key-file"][..],
            &[][..],
        ),
        (&["serve"], &["--addr", "--secrets-key-file"], &[]),
        (
            &["migrate"],
            &["--database-url", "--database-migration-timeout"],
            &["--secrets-key-file", "--signing-key-file"],
        ),
        (
            &["admin", "create-org"],
            &[
                "--admin-email",
                "--database-url",
                "--signing-key-file",
                "--secrets-key-file",
            ],
            &["--previous-signing-key-file"],
        ),
        (
            &["admin", "reset-password"],
            &["--email", "--org", "--database-url"],
            &["--secrets-key-file", "--signing-key-file"],
        ),
        (
            &["admin", "rotate-secrets"],
            &["--database-url", "--previous-secrets-key-file"],
            &["--signing-key-file", "--issuer"],
        ),
    ] {
        let text = help(command);
        for flag in has {
            assert!(text.contains(flag), "{command:?} lacks {flag}:\n{text}");
        }
        let foreign = if command.first().is_some_and(|c| *c != "serve") {
            &serve_only[..]
        } else {
            &[][..]
        };
        for flag in lacks.iter().chain(foreign) {
            assert!(!text.contains(flag), "{command:?} lists {flag}:\n{text}");
        }
    }

    let output = users_api(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "sqlite://from-env/x.db")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("from-env/x.db").exists());
}

/// `admin reset-password` gives the user a new password that signs in, printed once, and ends
/// every session they had; with the address in several organizations it asks which.
#[tokio::test]
async fn admin_reset_password_prints_a_password_that_signs_in_and_revokes_the_old_sessions() {
    let app = spawn_app().await;
    let email = app.admin.admin_email.clone();
    let other = app.create_org("Other", &email).await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = database_url_arg(&app.database_url);
    let reset = |extra: &[&str]| {
        users_api(dir.path())
            .args(["admin", "reset-password", "--email", &email.to_uppercase()])
            .args(["--database-url", &database_url])
            .args(extra)
            .output()
            .unwrap()
    };

    let ambiguous = reset(&[]);
    assert_eq!(ambiguous.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&ambiguous.stderr);
    let error = last_line(&stderr);
    assert!(
        error.starts_with("users-api: users of 2 organizations"),
        "{stderr}"
    );
    for part in [
        "--org",
        &app.admin.org_id.to_string(),
        &other.org_id.to_string(),
    ] {
        assert!(error.contains(part), "{stderr}");
    }
    assert_eq!(
        me_status(&app, &app.admin.session_token).await,
        200,
        "nothing changed"
    );

    let org = app.admin.org_id.to_string();
    let output = reset(&["--org", &org]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let password = stdout
        .lines()
        .find_map(|line| line.strip_prefix("password"))
        .unwrap_or_else(|| panic!("no password in {stdout}"))
        .trim();
    assert!(password.len() >= 20, "{stdout}");
    assert!(stdout.contains("sessions      1 revoked"), "{stdout}");

    assert_eq!(me_status(&app, &app.admin.session_token).await, 401);
    assert_eq!(
        me_status(&app, &other.session_token).await,
        200,
        "another user's"
    );
    let old = sign_in(
        &app,
        &app.admin.org_id,
        &email,
        &app.admin.admin_password,
        None,
    )
    .await;
    assert!(old.is_err(), "the old password no longer signs in");
    let token = sign_in(&app, &app.admin.org_id, &email, password, None)
        .await
        .expect("the printed password signs in")
        .into_inner()
        .data
        .token;
    assert_eq!(me_status(&app, &token).await, 200);

    let unknown = users_api(dir.path())
        .args(["admin", "reset-password", "--email", "nobody@example.com"])
        .args(["--database-url", &database_url])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        last_line(&String::from_utf8_lossy(&unknown.stderr)),
        "users-api: no user has the address nobody@example.com"
    );
}

/// The error line, after any warning logged before it (a test database's directory is not
/// private, for one).
fn last_line(stderr: &str) -> &str {
    stderr.trim().lines().last().unwrap_or_default()
}

/// Each failure is one line naming what is wrong and where (`host:port`), never the password.
#[test]
fn a_bad_database_url_is_one_clear_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    for (url, names) in [
        ("mysql://root@localhost/x", "unsupported database URL"),
        (
            "postgres://nobody@127.0.0.1:1/none",
            "cannot connect to PostgreSQL at 127.0.0.1:1: ",
        ),
        (
            "postgres://nobody:hunter2@db.example:port/none",
            "invalid PostgreSQL URL postgres://***@db.example:port/none: ",
        ),
    ] {
        let output = users_api(dir.path())
            .args(["migrate", "--database-url", url])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{url}: {stderr}");
        assert!(
            stderr.starts_with(&format!("users-api: {names}")),
            "{url}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{url}: {stderr}");
    }
}

#[test]
fn the_first_start_prints_working_demo_credentials_once_and_sigterm_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (banner, status) = start_and_stop(dir.path(), true, "127.0.0.1:0", &[]);
    assert!(banner.contains("API key:       uak_"), "{banner}");
    assert!(banner.contains("/docs/"), "{banner}");
    // On loopback, the credentials of the spec's sign-in example.
    assert!(banner.contains(&DEMO_ORG_ID.to_string()), "{banner}");
    assert!(
        banner.contains(&format!("password:      {DEMO_ADMIN_PASSWORD}\n")),
        "{banner}"
    );
    assert!(status.success(), "SIGTERM drains and exits 0: {status:?}");
    assert!(dir.path().join("data/users-api.db").exists());
    assert!(dir.path().join("data/signing-key.pem").exists());

    let (again, status) = start_and_stop(dir.path(), false, "127.0.0.1:0", &[]);
    assert!(
        !again.contains("session token:"),
        "printed only on the first start: {again}"
    );
    // Instead, how to get in again.
    assert!(
        again.contains("users-api admin reset-password --email <address>"),
        "{again}"
    );
    assert!(again.contains("admin@demo.example"), "{again}");
    assert!(again.contains("users-api admin create-org"), "{again}");
    assert!(status.success());
}

/// A server other machines can reach gets no well-known password.
#[test]
fn a_first_start_on_every_interface_gives_the_demo_admin_a_random_password() {
    let dir = tempfile::tempdir().unwrap();
    let (banner, status) = start_and_stop(dir.path(), true, "0.0.0.0:0", &[]);
    let password = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .expect("a password line")
        .trim();
    assert_eq!(password.len(), 20, "{banner}");
    assert_ne!(password, DEMO_ADMIN_PASSWORD);
    assert!(status.success());
}

/// `--no-demo` leaves an empty database empty and says how to create an organization; a
/// later start without it creates the demo organization then.
#[test]
fn no_demo_leaves_an_empty_database_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (printed, status) = start_and_stop(dir.path(), false, "127.0.0.1:0", &["--no-demo"]);
    assert!(status.success());
    assert!(!printed.contains("session token:"), "{printed}");
    assert!(
        printed.contains("users-api admin create-org --name <name> --admin-email <address>"),
        "{printed}"
    );
    let (banner, _) = start_and_stop(dir.path(), true, "127.0.0.1:0", &[]);
    assert!(banner.contains("session token:"), "{banner}");
}

/// Starts the binary with no configuration but `addr` (a free port) and `flags`. On the first start, reads the
/// banner and uses its session token for `GET /v1/me`. Then sends SIGTERM and returns what it
/// printed and how it exited.
fn start_and_stop(
    dir: &std::path::Path,
    first_start: bool,
    addr: &str,
    flags: &[&str],
) -> (String, std::process::ExitStatus) {
    let mut child = users_api(dir)
        .env("RUST_LOG", "info")
        .args(["--addr", addr])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    if first_start {
        while !banner.contains("curl") {
            assert!(
                stdout.read_line(&mut banner).unwrap() > 0,
                "banner ended early: {banner}"
            );
        }
    }
    // Keep draining stderr after the address is found, as a supervisor would: a closed pipe
    // would make the server's log writes fail.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("listening") && line.contains("docs") {
                let addr = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|a| a.split_whitespace().next());
                let _ = found.send(addr.unwrap_or_default().to_owned());
            }
        }
    });
    let address = address
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs where it listens");
    if first_start {
        let token = banner
            .lines()
            .find_map(|l| l.trim().strip_prefix("session token: "))
            .expect("a session token line")
            .trim()
            .to_owned();
        let response = get_me(&address, &token);
        assert!(response.contains("admin@demo.example"), "{response}");
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    (banner + &rest, exit)
}

/// `GET /v1/me` with `token`; panics unless it answers 200.
fn get_me(address: &str, token: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(format!("http://{address}/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    })
}

/// `admin signing-keys` lists the fleet's keys and retires one; a process holding a retired
/// key refuses to issue tokens with it, in one line that says what to do.
#[test]
fn a_retired_signing_key_is_listed_as_such_and_its_holder_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = users_api(dir.path()).args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stdout, stderr)
    };
    let create = [
        "admin",
        "create-org",
        "--name",
        "A",
        "--admin-email",
        "a@a.test",
    ];
    let (status, _, stderr) = run(&create);
    assert_eq!(status, Some(0), "{stderr}");

    let (status, listed, _) = run(&["admin", "signing-keys"]);
    assert_eq!(status, Some(0));
    let kid = listed
        .split_whitespace()
        .next()
        .expect("one key")
        .to_owned();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(!listed.contains("retired"), "{listed}");

    let (status, retired, _) = run(&["admin", "signing-keys", "--retire", &kid]);
    assert_eq!(status, Some(0));
    assert!(
        retired.starts_with(&format!("retired {kid}\n")),
        "{retired}"
    );
    assert!(
        retired.contains("  retired "),
        "listed as retired: {retired}"
    );
    let (status, _, again) = run(&["admin", "signing-keys", "--retire", &kid]);
    assert_eq!(status, Some(1), "{again}");

    let (status, _, refused) = run(&create);
    assert_eq!(status, Some(1));
    assert_eq!(refused.trim().lines().count(), 1, "{refused}");
    assert!(
        refused.contains(&format!("the signing key {kid}")),
        "{refused}"
    );
    assert!(refused.contains("was retired"), "{refused}");
}
