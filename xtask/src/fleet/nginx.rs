//! nginx for the fleet: the committed example (`deploy/nginx/users-api.conf`) with only what
//! must differ on this machine replaced, wrapped in a minimal main configuration and run in the
//! foreground as one process, every path it writes under `target/fleet/`.

use std::{
    fs::File,
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::deploy::ready;

/// The example configuration that CI runs as written (bar the lines `site_config` replaces).
pub const EXAMPLE: &str = "deploy/nginx/users-api.conf";

/// The committed example with only what must differ on this machine replaced: its upstream's
/// `server` lines (`upstreams`, as `host:port`), its `listen` line (a free loopback port) and its
/// access log (under `out`). Each must be found, so the example cannot drift from what runs.
fn site_config(example: &str, port: u16, upstreams: &[String], out: &Path) -> Result<String> {
    let mut servers_written = false;
    let (mut listens, mut logs) = (0, 0);
    let mut config = String::new();
    for line in example.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed.starts_with("server ") && trimmed.contains(":8080") {
            let options = trimmed
                .split_whitespace()
                .skip(2)
                .collect::<Vec<_>>()
                .join(" ");
            if !servers_written {
                for addr in upstreams {
                    config.push_str(&format!("{indent}server {addr} {options}\n"));
                }
                servers_written = true;
            }
        } else if trimmed.starts_with("listen ") {
            listens += 1;
            config.push_str(&format!("{indent}listen 127.0.0.1:{port};\n"));
        } else if trimmed.starts_with("access_log ") {
            logs += 1;
            let log = out.join("nginx-access.log");
            config.push_str(&format!(
                "{indent}access_log {} users_api;\n",
                log.display()
            ));
        } else {
            config.push_str(line);
            config.push('\n');
        }
    }
    if !servers_written || listens != 1 || logs != 1 {
        bail!(
            "{EXAMPLE} no longer has the upstream `server …:8080` lines, one `listen` and \
             one `access_log` that the fleet scenario replaces"
        );
    }
    Ok(config)
}

/// nginx in the foreground, one process (`master_process off`, so killing it leaves no
/// worker behind), with every path it writes under `out`.
pub fn start(nginx: &Path, out: &Path, port: u16, upstreams: &[String]) -> Result<Child> {
    let example = std::fs::read_to_string(crate::workspace_root().join(EXAMPLE))?;
    let site = out.join("users-api.conf");
    std::fs::write(&site, site_config(&example, port, upstreams, out)?)?;
    let temp = out.join("nginx-temp");
    std::fs::create_dir_all(&temp)?;
    let main = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {out}/nginx.pid;\n\
         error_log {out}/nginx-error.log warn;\nevents {{ worker_connections 256; }}\n\
         http {{\n  client_body_temp_path {temp}/body;\n  proxy_temp_path {temp}/proxy;\n  \
         fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n  \
         scgi_temp_path {temp}/scgi;\n  include {site};\n}}\n",
        out = out.display(),
        temp = temp.display(),
        site = site.display(),
    );
    let conf = out.join("nginx.conf");
    std::fs::write(&conf, main)?;
    let test = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(out)
        .arg("-c")
        .arg(&conf)
        .output()?;
    if !test.status.success() {
        bail!("nginx -t: {}", String::from_utf8_lossy(&test.stderr));
    }
    let log = File::create(out.join("nginx-stderr.log"))?;
    Command::new(nginx)
        .arg("-p")
        .arg(out)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting nginx")
}

pub fn wait(url: &str, nginx: &mut Child) -> Result<()> {
    let addr: SocketAddr = url.trim_start_matches("http://").parse()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = nginx.try_wait()? {
            bail!("nginx exited ({status}); see target/fleet/nginx-*.log");
        }
        if ready(addr) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nginx did not answer within 10 s; see target/fleet/nginx-*.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstreams() -> Vec<String> {
        vec!["127.0.0.1:4001".into(), "127.0.0.1:4002".into()]
    }

    #[test]
    fn the_committed_example_runs_with_only_its_addresses_and_log_replaced() {
        let example = std::fs::read_to_string(crate::workspace_root().join(EXAMPLE)).unwrap();
        let config = site_config(&example, 4000, &upstreams(), Path::new("/out")).unwrap();
        assert!(config.contains("server 127.0.0.1:4001 max_fails=1 fail_timeout=5s;\n"));
        assert!(config.contains("server 127.0.0.1:4002 max_fails=1 fail_timeout=5s;\n"));
        assert!(config.contains("listen 127.0.0.1:4000;\n"));
        assert!(config.contains("access_log /out/nginx-access.log users_api;\n"));
        assert!(!config.contains(":8080"), "{config}");
        // Everything else is kept as committed.
        assert_eq!(config.lines().count(), example.lines().count());
        assert!(config.contains("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"));
    }

    #[test]
    fn an_example_without_the_lines_to_replace_is_refused() {
        let example = "upstream users_api {\n    server unix:/run/users-api.sock;\n}\n";
        assert!(site_config(example, 4000, &upstreams(), Path::new("/out")).is_err());
    }
}
