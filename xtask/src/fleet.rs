//! `cargo xtask fleet`: a real deployment, checked end to end. Two `users-api` instances on one
//! fresh PostgreSQL database, each started in a directory of its own, behind nginx configured
//! by the committed example `deploy/nginx/users-api.conf`, round-robin. Then, through nginx and
//! at each instance directly: sign-in, tokens across instances, revocation, the sign-in limits
//! holding at their configured values across both instances, per-client buckets from
//! `X-Forwarded-For`, what nginx passes through, the retention sweeper deleting each row once,
//! and one instance SIGKILLed mid-traffic with no acknowledged write lost.
//!
//! One line per check (`ok` or `FAIL`), then `N passed, N failed`; exits non-zero on any
//! failure. Bounded: the checks get `DEADLINE`, after which whatever runs is abandoned and
//! counted as failed. Every process it starts is killed and the database dropped on the way
//! out; logs and the generated nginx configuration stay in `target/fleet/`.

mod checks;
mod crash;
mod deploy;
mod http;
mod nginx;
mod sweep;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

use deploy::{Deployment, Settings};

/// The whole scenario after the build; CI's budget for it is three minutes.
const DEADLINE: Duration = Duration::from_secs(150);

const SETTINGS: Settings = Settings {
    sign_in_limit_per_account: 5,
    sign_in_limit_per_address: 8,
    sweep_interval: "2s",
    trusted_proxies: "127.0.0.1/32",
};

/// Passed and failed checks, each printed as it is recorded.
#[derive(Default)]
pub struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    pub fn record(&mut self, check: &str, outcome: Result<String>) {
        match outcome {
            Ok(detail) => {
                self.passed += 1;
                println!("ok   {check}: {detail}");
            }
            Err(error) => {
                self.failed += 1;
                println!("FAIL {check}: {error:#}");
            }
        }
    }
}

pub fn run() -> Result<()> {
    let nginx = find_nginx()?;
    let binary = crate::services::build_server()?;
    let out = crate::workspace_root().join("target/fleet");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(&out)?;

    let started = Instant::now();
    let mut report = Report::default();
    match Deployment::start(&binary, &nginx, &out, &SETTINGS) {
        Ok(mut deployment) => {
            println!(
                "two instances ({}, {}) behind nginx at {}; logs in {}",
                deployment.instances[0].base_url,
                deployment.instances[1].base_url,
                deployment.nginx_url,
                out.display()
            );
            let runtime = tokio::runtime::Runtime::new()?;
            let finished = runtime.block_on(async {
                tokio::time::timeout(DEADLINE, scenario(&mut deployment, &mut report)).await
            });
            if finished.is_err() {
                report.record(
                    "the scenario finishes in time",
                    Err(anyhow::anyhow!(
                        "still running after {} s",
                        DEADLINE.as_secs()
                    )),
                );
            }
            deployment.stop();
        }
        Err(error) => report.record("the deployment starts", Err(error)),
    }
    println!(
        "fleet scenario took {:.0} s; logs in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    // The last line, as CI reads it; the exit status says the same.
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn scenario(d: &mut Deployment, report: &mut Report) {
    let people = match checks::People::create(d).await {
        Ok(people) => people,
        Err(error) => {
            return report.record("users for the checks are created through nginx", Err(error));
        }
    };
    report.record(
        "sign-in through nginx",
        checks::sign_in_through_nginx(d, &people).await,
    );
    report.record(
        "a token issued by one instance works on the other",
        checks::tokens_across(d, &people).await,
    );
    report.record(
        "signed out on one instance, refused on the other at once",
        checks::revocation(d, &people).await,
    );
    report.record(
        "per-account sign-in limit holds across both instances",
        checks::account_limit(d, &people, &SETTINGS).await,
    );
    checks::address_limit_and_forwarded_for(d, &SETTINGS, report).await;
    report.record(
        "nginx passes X-Request-Id, large headers and bodies through, hides /metrics",
        checks::proxy_details(d).await,
    );
    report.record(
        "the retention sweeper deletes each expired row once across both instances",
        sweep::sweeper_runs_once(d).await,
    );
    crash::kill_mid_traffic(d, &people, report).await;
}

/// nginx from PATH or Debian's `/usr/sbin` (not on a non-root PATH).
fn find_nginx() -> Result<PathBuf> {
    for candidate in [Path::new("nginx"), Path::new("/usr/sbin/nginx")] {
        if Command::new(candidate).arg("-v").output().is_ok() {
            return Ok(candidate.to_owned());
        }
    }
    bail!("nginx is not installed: apt-get install -y nginx (.ci/run does)")
}
