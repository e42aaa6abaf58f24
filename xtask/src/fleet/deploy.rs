//! The deployment under test: a fresh PostgreSQL database, two `users-api` instances on it,
//! each started in a directory of its own (so each generates its own signing key, as a new
//! user's second instance would), and nginx in front of them with `deploy/nginx/users-api.conf`
//! as committed. Dropping it kills every process it started and drops the database; logs and
//! configuration stay under `target/fleet/` for a look.

use std::{
    fs::File,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::nginx;
use crate::services::{free_port, postgres_admin_url, psql, query, with_database};

/// The limits and timings the instances run with: small, so the checks see them bite.
pub struct Settings {
    pub sign_in_limit_per_account: u32,
    pub sign_in_limit_per_address: u32,
    /// `--sweep-interval`: short, so both instances sweep within the run.
    pub sweep_interval: &'static str,
    /// `--trusted-proxies`: nginx's own address only (see `checks::forwarded_for`).
    pub trusted_proxies: &'static str,
}

pub struct Instance {
    pub name: &'static str,
    pub base_url: String,
    /// Its working directory: `data/signing-key.pem` in it is its own signing key.
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Instance {
    /// SIGKILL, as a crash or the OOM killer would: no shutdown, connections cut mid-request.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("SIGKILL")?;
            child.wait()?;
        }
        Ok(())
    }
}

/// What `users-api admin create-org --json` printed.
pub struct Org {
    pub org_id: String,
    pub user_id: String,
    pub api_key: String,
}

pub struct Deployment {
    pub instances: [Instance; 2],
    /// nginx, in front of both: `http://127.0.0.1:PORT`.
    pub nginx_url: String,
    pub org: Org,
    /// The database's own URL, for `psql`.
    pub database_url: String,
    nginx: Option<Child>,
    /// The maintenance URL and the database to drop.
    admin_url: String,
    database: String,
}

impl Deployment {
    pub fn start(
        binary: &Path,
        nginx_binary: &Path,
        out: &Path,
        settings: &Settings,
    ) -> Result<Self> {
        let admin_url = postgres_admin_url();
        let database = format!(
            "users_api_fleet_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let instances = [instance("a", out)?, instance("b", out)?];
        psql(&admin_url, &format!("CREATE DATABASE {database}"))?;
        let database_url = with_database(&admin_url, &database);
        // From here on, dropping `deployment` drops the database too.
        let mut deployment = Deployment {
            instances,
            nginx_url: String::new(),
            org: Org {
                org_id: String::new(),
                user_id: String::new(),
                api_key: String::new(),
            },
            database_url,
            nginx: None,
            admin_url,
            database,
        };
        // Every instance must share the secrets key (it encrypts TOTP secrets); signing keys
        // they need not share, and do not here.
        let secrets_key = out.join("secrets-key");
        for index in 0..2 {
            // One after the other: the first applies the migrations.
            let child = deployment.serve(binary, index, &secrets_key, settings)?;
            deployment.instances[index].child = Some(child);
            wait_ready(&mut deployment.instances[index])?;
        }
        deployment.org = create_org(binary, &deployment, &secrets_key)?;
        let port = free_port()?.port();
        let upstreams: Vec<String> = (deployment.instances.iter())
            .map(|i| i.base_url.trim_start_matches("http://").to_owned())
            .collect();
        deployment.nginx = Some(nginx::start(nginx_binary, out, port, &upstreams)?);
        deployment.nginx_url = format!("http://127.0.0.1:{port}");
        nginx::wait(
            &deployment.nginx_url,
            deployment.nginx.as_mut().expect("started"),
        )?;
        Ok(deployment)
    }

    fn serve(
        &self,
        binary: &Path,
        index: usize,
        secrets_key: &Path,
        settings: &Settings,
    ) -> Result<Child> {
        let instance = &self.instances[index];
        let log = File::create(instance.dir.join("server.log"))?;
        let addr = instance.base_url.trim_start_matches("http://");
        Command::new(binary)
            .current_dir(&instance.dir)
            .args(["serve", "--no-demo", "--addr", addr])
            .args(["--database-url", &self.database_url])
            .arg("--secrets-key-file")
            .arg(secrets_key)
            .args(["--trusted-proxies", settings.trusted_proxies])
            .args([
                "--sign-in-limit-per-account",
                &settings.sign_in_limit_per_account.to_string(),
            ])
            .args([
                "--sign-in-limit-per-address",
                &settings.sign_in_limit_per_address.to_string(),
            ])
            .args(["--sweep-interval", settings.sweep_interval])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting instance {}", instance.name))
    }

    /// One value from the database (`psql -At`).
    pub fn query(&self, sql: &str) -> Result<String> {
        query(&self.database_url, sql)
    }

    /// Stops nginx and every instance, then drops the database.
    pub fn stop(&mut self) {
        if let Some(mut nginx) = self.nginx.take() {
            let _ = nginx.kill();
            let _ = nginx.wait();
        }
        for instance in &mut self.instances {
            let _ = instance.kill();
        }
        if !self.database.is_empty() {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
            if let Err(error) = psql(&self.admin_url, &drop) {
                println!("could not drop {}: {error:#}", self.database);
            }
            self.database.clear();
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // Also on an early return or a panic: never leave a process or a database behind.
        self.stop();
    }
}

fn instance(name: &'static str, out: &Path) -> Result<Instance> {
    let dir = out.join(format!("instance-{name}"));
    std::fs::create_dir_all(&dir)?;
    Ok(Instance {
        name,
        base_url: format!("http://{}", free_port()?),
        dir,
        child: None,
    })
}

/// Waits until the instance answers `/readyz` with 200.
fn wait_ready(instance: &mut Instance) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = instance.dir.join("server.log");
    let addr: SocketAddr = instance.base_url.trim_start_matches("http://").parse()?;
    while Instant::now() < deadline {
        if let Some(child) = instance.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "instance {} exited ({status}); see {}",
                instance.name,
                log.display()
            );
        }
        if ready(addr) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "instance {} not ready within 30 s; see {}",
        instance.name,
        log.display()
    )
}

/// `users-api admin create-org --json`, in instance a's directory (its signing key issues
/// the admin's first token).
fn create_org(binary: &Path, deployment: &Deployment, secrets_key: &Path) -> Result<Org> {
    let output = Command::new(binary)
        .current_dir(&deployment.instances[0].dir)
        .args(["admin", "create-org", "--name", "Fleet", "--json"])
        .args(["--admin-email", "admin@fleet.test"])
        .args(["--database-url", &deployment.database_url])
        .arg("--secrets-key-file")
        .arg(secrets_key)
        .output()
        .context("running users-api admin create-org")?;
    if !output.status.success() {
        bail!(
            "admin create-org: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let printed: Value = serde_json::from_slice(&output.stdout).context("create-org --json")?;
    let field = |name: &str| {
        printed[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("admin create-org printed no {name}"))
    };
    Ok(Org {
        org_id: field("org_id")?,
        user_id: field("user_id")?,
        api_key: field("api_key")?,
    })
}

/// Whether `GET /readyz` at `addr` answers 200 (HTTP/1.0: the connection closes after it).
pub fn ready(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let mut head = [0u8; 12];
    write!(stream, "GET /readyz HTTP/1.0\r\nHost: {addr}\r\n\r\n").is_ok()
        && stream.read_exact(&mut head).is_ok()
        && &head[8..12] == b" 200"
}
