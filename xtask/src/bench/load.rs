//! Drives the server with `wrk` and samples the server's resident memory while it runs: the sum
//! over its process tree (a server may fork workers), sampled, and each process's own high-water
//! mark (`VmHWM`, reset when the run starts) summed at its end.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, Result, bail};

/// `PATCH /v1/me` that alternates the time zone, so that every request really writes.
const PATCH_SCRIPT: &str = r#"wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
local zones = { "Europe/Paris", "America/New_York" }
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"timezone":"' .. zones[n % 2 + 1] .. '"}')
end
"#;

pub struct Scripts {
    pub patch: PathBuf,
}

/// `POST /v1/sessions` with the admin's credentials: every request a full sign-in.
pub fn sign_in_script(work: &Path, org_id: &str, email: &str, password: &str) -> Result<PathBuf> {
    let body = serde_json::json!({"org_id": org_id, "email": email, "password": password});
    post_script(
        &work.join("sign_in.lua"),
        "application/json",
        &body.to_string(),
    )
}

/// A script that sends the same `POST` with `body` on every request.
pub fn post_script(path: &Path, content_type: &str, body: &str) -> Result<PathBuf> {
    let script = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"{content_type}\"\nwrk.body = [[{body}]]\n"
    );
    std::fs::write(path, script)?;
    Ok(path.to_owned())
}

pub fn write_scripts(work: &Path) -> Result<Scripts> {
    let patch = work.join("patch_me.lua");
    std::fs::write(&patch, PATCH_SCRIPT)?;
    Ok(Scripts { patch })
}

pub struct Load {
    pub base: String,
    /// Sent with every request, as `Name: value` (the credentials, for one).
    pub headers: Vec<String>,
    pub seconds: u32,
    pub connections: u32,
    pub pid: u32,
    /// How long a response may take before wrk counts it a timeout (an error); `None` keeps
    /// wrk's 2 s.
    pub timeout_seconds: Option<u32>,
}

#[derive(Clone)]
pub struct Measurement {
    pub requests_per_second: f64,
    pub p50: String,
    pub p99: String,
    /// The largest resident set of the whole process tree seen while sampling.
    pub peak_rss_kb: u64,
    /// Each process's high-water mark during the run, summed: at least the sampled peak.
    pub hwm_kb: u64,
    /// What `wrk` printed (a script's `done` can report through it).
    pub output: String,
}

impl Load {
    /// One `wrk` run. Any non-2xx response or socket error fails the run: a number measured
    /// over errors would flatter the server.
    pub fn run(&self, case: &str, path: &str, script: Option<&Path>) -> Result<Measurement> {
        let sampler = RssSampler::start(self.pid);
        let mut command = Command::new("wrk");
        command
            .args(["-t", "2", "-c", &self.connections.to_string()])
            .args(["-d", &format!("{}s", self.seconds), "--latency"]);
        for header in &self.headers {
            command.args(["-H", header]);
        }
        if let Some(timeout) = self.timeout_seconds {
            command.args(["--timeout", &format!("{timeout}s")]);
        }
        if let Some(script) = script {
            command.arg("-s").arg(script);
        }
        let output = command.arg(format!("{}{path}", self.base)).output()?;
        let (peak_rss_kb, hwm_kb) = sampler.stop();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            bail!("wrk failed for {case}: {text}");
        }
        for failure in ["Non-2xx or 3xx responses", "Socket errors"] {
            if let Some(line) = text.lines().find(|l| l.contains(failure)) {
                bail!(
                    "{case}: {} — a run with errors is not a measurement",
                    line.trim()
                );
            }
        }
        let measurement = Measurement {
            requests_per_second: field(&text, "Requests/sec:")?
                .parse()
                .context("Requests/sec")?,
            p50: field(&text, "50%")?,
            p99: field(&text, "99%")?,
            peak_rss_kb,
            hwm_kb,
            output: text,
        };
        if measurement.requests_per_second <= 0.0 {
            bail!("{case}: no request completed in {} s", self.seconds);
        }
        println!(
            "   {case}: {:.0} requests/s, p50 {}, p99 {}, peak RSS {:.1} MB",
            measurement.requests_per_second,
            measurement.p50,
            measurement.p99,
            peak_rss_kb as f64 / 1024.0
        );
        Ok(measurement)
    }
}

/// The value after `label` on the first wrk output line that starts with it.
fn field(text: &str, label: &str) -> Result<String> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .with_context(|| format!("no `{label}` in wrk's output:\n{text}"))
}

/// Polls `/proc/PID/status` of the process tree every 20 ms and keeps the largest summed resident
/// set seen; the tree is walked once, at the start (the servers fork their workers before).
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
    processes: Vec<u32>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let processes = process_tree(pid);
        for process in &processes {
            // "5" resets the process's VmHWM to its current resident set (Linux ≥ 4.0).
            let _ = std::fs::write(format!("/proc/{process}/clear_refs"), "5");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let sampled = processes.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                let sum = sampled.iter().map(|&p| status_kb(p, "VmRSS:").unwrap_or(0));
                peak = peak.max(sum.sum());
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        Self {
            stop,
            thread,
            processes,
        }
    }

    /// The sampled peak and the summed high-water marks, in KiB.
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let peak = self.thread.join().unwrap_or(0);
        let hwm = self.processes.iter();
        let hwm = hwm.map(|&p| status_kb(p, "VmHWM:").unwrap_or(0)).sum();
        (peak, hwm)
    }
}

/// `pid` and all its descendants, from each process's parent in `/proc/*/stat`.
fn process_tree(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            // `pid (comm) state ppid …`, where comm may hold spaces and parentheses.
            let after_comm = &stat[stat.rfind(')')? + 1..];
            let parent = after_comm.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, parent))
        })
        .collect();
    let mut tree = vec![pid];
    let mut next = 0;
    while next < tree.len() {
        let parent = tree[next];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        next += 1;
    }
    tree
}

fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The status code of one request, or `None` when nothing answers.
pub fn status(base: &str, method: &str, path: &str, token: &str, body: &str) -> Option<u16> {
    let authority = base.strip_prefix("http://")?;
    let mut stream = TcpStream::connect(authority).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A webhook receiver on loopback for the bench: answers every request `204` and counts them.
pub struct Receiver {
    pub url: String,
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Receiver {
    pub fn start() -> Result<Self> {
        use std::{
            io::{BufRead, BufReader, Read},
            sync::atomic::Ordering,
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let received = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut writer = match stream.try_clone() {
                        Ok(writer) => writer,
                        Err(_) => return,
                    };
                    let mut reader = BufReader::new(stream);
                    // Keep-alive: one request after another on the connection.
                    loop {
                        let mut length = 0usize;
                        let mut line = String::new();
                        let mut lines = 0;
                        loop {
                            line.clear();
                            match reader.read_line(&mut line) {
                                Ok(0) | Err(_) => return,
                                Ok(_) => {}
                            }
                            lines += 1;
                            if line == "\r\n" {
                                break;
                            }
                            if let Some((name, value)) = line.split_once(':')
                                && name.eq_ignore_ascii_case("content-length")
                            {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                        if lines <= 1 {
                            return;
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        counter.fetch_add(1, Ordering::Relaxed);
                        if writer
                            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Ok(Self { url, received })
    }

    /// Deliveries received so far.
    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }
}
