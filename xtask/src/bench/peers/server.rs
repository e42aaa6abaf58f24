//! The peers' processes: installed from the lockfiles in `bench/peers/` (again only when a
//! lockfile changes), started on a free port against a fresh database, and given one signed-in
//! user whose credentials the measured requests carry.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command},
    time::Duration,
};

use anyhow::{Context, Result, bail, ensure};

use super::Peer;
use crate::bench::load;

/// The measured user. Plain characters only: the fastapi-users login form sends them unescaped.
pub const EMAIL: &str = "peer@bench.example";
pub const PASSWORD: &str = "benchpassword1";
const NAME: &str = "Bench Peer";
/// better-auth refuses to start in production without a secret of its own.
const SECRET: &str = "bench-only-secret-not-for-production-0123456789";

pub fn peers_dir() -> PathBuf {
    crate::workspace_root().join("bench/peers")
}

fn venv(work: &Path) -> PathBuf {
    work.join("peers/fastapi-users-venv")
}

/// `npm ci` and a venv with `pip install -r`, each skipped while its lockfile is the one it last
/// installed.
pub fn install(work: &Path) -> Result<()> {
    let node = peers_dir().join("better-auth");
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&node);
    install_once(
        &node.join("package-lock.json"),
        &node.join("node_modules/.bench-installed"),
        &mut [npm],
    )?;
    let venv = venv(work);
    let requirements = peers_dir().join("fastapi-users/requirements.txt");
    let mut create = Command::new("python3");
    create.args(["-m", "venv", "--clear"]).arg(&venv);
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "-r"]).arg(&requirements);
    install_once(
        &requirements,
        &venv.join(".bench-installed"),
        &mut [create, pip],
    )
}

fn install_once(lockfile: &Path, stamp: &Path, steps: &mut [Command]) -> Result<()> {
    let lock = std::fs::read_to_string(lockfile)?;
    if std::fs::read_to_string(stamp).is_ok_and(|installed| installed == lock) {
        return Ok(());
    }
    println!("   installing from {}", lockfile.display());
    for step in steps {
        let status = step
            .status()
            .with_context(|| format!("cannot run {step:?}"))?;
        ensure!(status.success(), "{step:?} failed");
    }
    std::fs::write(stamp, lock)?;
    Ok(())
}

/// A running peer; its whole process group (workers included) is killed when dropped.
pub struct PeerServer {
    child: Child,
    pub base: String,
}

impl PeerServer {
    /// Starts `peer` on `url` (a `sqlite://` path or a `postgres://` URL, both fresh), with
    /// `seed` users besides the measured one, and waits until all its workers serve.
    pub fn start(peer: Peer, url: &str, work: &Path, seed: u64) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log_path = work.join(format!("peer-{}.log", peer.slug()));
        let log = std::fs::File::create(&log_path)?;
        let mut command = match peer {
            Peer::BetterAuth => {
                let mut node = Command::new("node");
                node.arg("server.js")
                    .current_dir(peers_dir().join("better-auth"))
                    .env("NODE_ENV", "production")
                    .env("BETTER_AUTH_SECRET", SECRET);
                node
            }
            Peer::FastapiUsers { workers } => {
                let dir = peers_dir().join("fastapi-users");
                // The tables and the seed, once, before uvicorn forks its workers.
                let status = Command::new(venv(work).join("bin/python"))
                    .arg("setup_db.py")
                    .current_dir(&dir)
                    .env("DATABASE_URL", url)
                    .env("SEED_USERS", seed.to_string())
                    .env("PYTHONDONTWRITEBYTECODE", "1")
                    .status()?;
                ensure!(status.success(), "the fastapi-users set-up failed");
                let mut uvicorn = Command::new(venv(work).join("bin/uvicorn"));
                uvicorn
                    .args([
                        "app:app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        &port.to_string(),
                    ])
                    .args(["--workers", &workers.to_string(), "--no-access-log"])
                    .current_dir(dir)
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                uvicorn
            }
        };
        let child = command
            .env("DATABASE_URL", url)
            .env("PORT", port.to_string())
            .env("SEED_USERS", seed.to_string())
            .process_group(0)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", peer.name()))?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        // uvicorn's workers each log this line once their application has started.
        let workers = match peer {
            Peer::BetterAuth => 0,
            Peer::FastapiUsers { workers } => workers as usize,
        };
        for _ in 0..1200 {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.matches("Application startup complete").count() >= workers
                && load::status(&server.base, "GET", "/healthz", "", "") == Some(200)
            {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "{} did not become ready; see {}",
            peer.name(),
            log_path.display()
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Signs the measured user up, then in: the headers every measured request carries.
    pub fn sign_up_and_in(&self, peer: Peer) -> Result<Vec<String>> {
        let (path, body) = match peer {
            Peer::BetterAuth => ("/api/auth/sign-up/email", serde_json::json!({"name": NAME})),
            Peer::FastapiUsers { .. } => ("/auth/register", serde_json::json!({"name": NAME})),
        };
        let mut body = body;
        body["email"] = EMAIL.into();
        body["password"] = PASSWORD.into();
        let (status, _, text) = http(
            "POST",
            &self.url(path),
            &[],
            Some(("application/json", body.to_string())),
        )?;
        ensure!(
            (200..300).contains(&status),
            "signing up answered {status}: {text}"
        );
        self.sign_in(peer)
    }

    pub fn sign_in(&self, peer: Peer) -> Result<Vec<String>> {
        let (content_type, body) = peer.sign_in_body();
        let path = peer.request(super::Case::SignIn).1;
        let (status, headers, text) =
            http("POST", &self.url(path), &[], Some((content_type, body)))?;
        ensure!(status == 200, "signing in answered {status}: {text}");
        Ok(match peer {
            Peer::BetterAuth => {
                let cookie = headers
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .find(|value| value.starts_with("better-auth.session_token="))
                    .and_then(|value| value.split(';').next())
                    .context("signing in set no session cookie")?;
                // A request with a cookie must name a trusted origin (better-auth's CSRF check).
                vec![
                    format!("Cookie: {cookie}"),
                    format!("Origin: {}", self.base),
                ]
            }
            Peer::FastapiUsers { .. } => {
                let json: serde_json::Value = serde_json::from_str(&text)?;
                let token = json["access_token"].as_str().context("no access_token")?;
                vec![format!("Authorization: Bearer {token}")]
            }
        })
    }

    /// The measured user's name, as the session read (`GET`) returns it.
    pub fn read_name(&self, peer: Peer, headers: &[String]) -> Result<String> {
        let path = peer.request(super::Case::Me).1;
        let (status, _, text) = http("GET", &self.url(path), headers, None)?;
        ensure!(
            status == 200,
            "reading the user back answered {status}: {text}"
        );
        let json: serde_json::Value = serde_json::from_str(&text)?;
        let user = match peer {
            Peer::BetterAuth => &json["user"],
            Peer::FastapiUsers { .. } => &json,
        };
        Ok(user["name"].as_str().context("no name")?.to_owned())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        // The group: uvicorn's master, its workers and multiprocessing's resource tracker.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// One request; answers the status, the headers and the body.
fn http(
    method: &str,
    url: &str,
    headers: &[String],
    body: Option<(&str, String)>,
) -> Result<(u16, reqwest::header::HeaderMap, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut request = reqwest::Client::new().request(method.parse()?, url);
        for header in headers {
            let (name, value) = header.split_once(": ").context("a `Name: value` header")?;
            request = request.header(name, value);
        }
        if let Some((content_type, body)) = body {
            request = request.header("Content-Type", content_type).body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Ok((status, headers, response.text().await?))
    })
}
