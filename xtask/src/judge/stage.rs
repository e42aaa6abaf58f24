//! One stage for the judges: a fresh database, the server running on a free port (it creates
//! the demo organization; webhook URLs may be private, for the receivers the judges run), and
//! three seeded organizations. `stop` ends the server and drops the database; nothing outlives
//! the run but logs under `target/judge/<database>/`.

use std::{
    fs::File,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{Database, Paths};
use crate::services::{free_port, postgres_admin_url, psql, with_database};

/// Sign-in attempts per minute, per account and per address, for the judges' server.
const SIGN_IN_LIMIT: &str = "100000";

/// What `users-api admin create-org --json` printed for one organization.
pub struct Seeded {
    pub org_id: String,
    /// The admin's e-mail address and password, for `POST /v1/sessions`.
    pub email: String,
    pub password: String,
    /// A session token of the admin.
    pub token: String,
    /// An API key of the organization, with every scope.
    pub api_key: String,
}

pub struct Stage {
    pub database: Database,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    /// The organization Schemathesis works in. It changes its admin's profile at random
    /// (the address too, or clears it), so it has an organization of its own.
    pub fuzzed: Seeded,
    /// The organization of the judges that act as a person would (the TypeScript consumer,
    /// Swagger UI): its admin still has the seeded address and password.
    pub person: Seeded,
    /// The organization of the unhooked Schemathesis run, as an outside team's would be.
    pub outsider: Seeded,
    /// `target/judge/<database>/`.
    pub out: PathBuf,
    server: Child,
    /// For PostgreSQL: the maintenance URL and the database to drop.
    postgres: Option<(String, String)>,
}

impl Stage {
    pub fn start(database: Database, binary: &Path, paths: &Paths) -> Result<Stage> {
        let out = paths.out.join(database.name());
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        std::fs::create_dir_all(&out)?;
        let (url, postgres) = match database {
            Database::Sqlite => (format!("sqlite://{}", out.join("users.db").display()), None),
            Database::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("judge_{}_{}", std::process::id(), database.name());
                psql(
                    &admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )?;
                psql(&admin, &format!("CREATE DATABASE {name}"))?;
                (with_database(&admin, &name), Some((admin, name)))
            }
        };
        let key = out.join("signing-key.pem");
        let common = |command: &mut Command| {
            command
                .arg("--database-url")
                .arg(&url)
                .arg("--signing-key-file")
                .arg(&key);
        };

        let seed = |name: &str, email: &str| -> Result<Seeded> {
            let mut create = Command::new(binary);
            create.args([
                "admin",
                "create-org",
                "--name",
                name,
                "--admin-email",
                email,
                "--json",
            ]);
            common(&mut create);
            create_org(&mut create)
        };
        let addr = free_port()?;
        let log = File::create(out.join("server.log"))?;
        let mut serve = Command::new(binary);
        serve
            .arg("--addr")
            .arg(addr.to_string())
            // The judges sign in far more often than a person: Schemathesis' own sign-in cases,
            // and a throwaway session for each call that revokes one (see judge/hooks.py). The
            // limits themselves are tested in tests/api/sign_in.rs.
            .args(["--sign-in-limit-per-account", SIGN_IN_LIMIT])
            .args(["--sign-in-limit-per-address", SIGN_IN_LIMIT])
            // The webhook judges' receivers listen on 127.0.0.1 over plain HTTP.
            .arg("--webhooks-allow-private-urls")
            .stdout(log.try_clone()?)
            .stderr(log);
        common(&mut serve);
        // The server starts on the empty database, so that it creates the demo organization
        // (on loopback: with the credentials of the spec's sign-in example, which the Swagger
        // UI judge executes unedited); the judges' own organizations come after.
        let mut server = serve.spawn().context("starting users-api")?;
        let log = out.join("server.log");
        let seeded = wait_ready(&mut server, addr, &log).and_then(|()| {
            let fuzzed = seed("Judges", "judge@example.com")?;
            let person = seed("Judges in person", "person@example.com")?;
            Ok((
                fuzzed,
                person,
                seed("Outside team", "outsider@example.com")?,
            ))
        });
        let (fuzzed, person, outsider) = match seeded {
            Ok(seeded) => seeded,
            Err(error) => {
                let _ = server.kill();
                let _ = server.wait();
                return Err(error);
            }
        };
        let stage = Stage {
            database,
            base_url: format!("http://{addr}"),
            addr,
            fuzzed,
            person,
            outsider,
            out,
            server,
            postgres,
        };
        println!(
            "server on {} ({}), log in {}",
            stage.base_url,
            database.name(),
            log.display()
        );
        Ok(stage)
    }

    /// Stops the server and drops the PostgreSQL database (the SQLite file stays, for a look).
    pub fn stop(mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        if let Some((admin, name)) = &self.postgres
            && let Err(error) = psql(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
        {
            println!("could not drop {name}: {error:#}");
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        // Also on a panic or an early return: never leave a server behind.
        let _ = self.server.kill();
    }
}

/// Waits until the server answers `/readyz` with 200.
fn wait_ready(server: &mut Child, addr: SocketAddr, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = server.try_wait()? {
            bail!("the server exited ({status}); see {}", log.display());
        }
        if http_get(addr, "/readyz").is_ok_and(|(status, _)| status == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "the server was not ready within 60 s; see {}",
        log.display()
    )
}

/// Runs `users-api admin create-org --json` and reads what it printed.
fn create_org(create: &mut Command) -> Result<Seeded> {
    let output = create
        .output()
        .context("running users-api admin create-org")?;
    if !output.status.success() {
        bail!(
            "admin create-org failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let seeded: Value = serde_json::from_slice(&output.stdout)
        .context("admin create-org --json printed no JSON")?;
    let field = |name: &str| {
        seeded[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("admin create-org printed no {name}"))
    };
    Ok(Seeded {
        org_id: field("org_id")?,
        email: field("admin_email")?,
        password: field("admin_password")?,
        token: field("session_token")?,
        api_key: field("api_key")?,
    })
}

/// A plain HTTP/1.0 GET (no chunked bodies, the connection closes): enough to poll `/readyz`
/// and fetch the served spec without an HTTP client dependency.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    Ok((status, body.to_owned()))
}
