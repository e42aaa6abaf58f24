//! The six judges. Each runs tools from `judge/` against one stage, prints what they say, and
//! ends with its own verdict line. Every tool run has an outer timeout, so a hung tool fails its
//! judge instead of the whole run.

use std::{
    fs::File,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{
    Paths, Stage,
    stage::{Seeded, http_get},
};

#[derive(Debug, Clone, Copy)]
pub enum Judge {
    /// openapi-spec-validator, Redocly (`recommended`) and Spectral (`spectral:oas`) on the
    /// served spec, which must also be the committed one.
    SpecLint,
    /// Property-based tests of every operation of the committed spec, all checks, deterministic
    /// (`schemathesis.toml`).
    Schemathesis,
    /// Schemathesis as an outside team runs it: no hooks, valid data only
    /// (`schemathesis-unhooked.toml`); every refusal must be a rule the README lists as one
    /// JSON Schema cannot state (`unhooked_verdict.py`).
    SchemathesisUnhooked,
    /// The `@users-api/client` package (generated/typescript) built, and a consumer of it
    /// checked by `tsc` and run against the server.
    TypeScript,
    /// A webhook receiver in Python (`webhook_receiver.py`) that verifies every delivery with
    /// the PyPI `standardwebhooks` package, and checks that each event the feed shows arrives,
    /// in order, as the feed shows it.
    WebhooksPython,
    /// Swagger UI at `/docs` driven in headless Chromium by `playwright-core`.
    SwaggerUi,
}

pub const ALL: &[Judge] = &[
    Judge::SpecLint,
    Judge::Schemathesis,
    Judge::SchemathesisUnhooked,
    Judge::TypeScript,
    Judge::WebhooksPython,
    Judge::SwaggerUi,
];

impl Judge {
    fn name(self) -> &'static str {
        match self {
            Judge::SpecLint => "spec-lint",
            Judge::Schemathesis => "schemathesis",
            Judge::SchemathesisUnhooked => "schemathesis-unhooked",
            Judge::TypeScript => "typescript-sdk",
            Judge::WebhooksPython => "webhooks-python",
            Judge::SwaggerUi => "swagger-ui",
        }
    }
}

/// Runs one judge and prints its verdict; true when it passed.
pub fn run(judge: Judge, stage: &Stage, paths: &Paths) -> bool {
    let db = stage.database.name();
    println!("\n== judge {} on {db}", judge.name());
    let started = Instant::now();
    let result = match judge {
        Judge::SpecLint => spec_lint(stage, paths),
        Judge::Schemathesis => schemathesis(stage, paths),
        Judge::SchemathesisUnhooked => schemathesis_unhooked(stage, paths),
        Judge::TypeScript => typescript(stage, paths),
        Judge::WebhooksPython => webhooks_python(stage, paths),
        Judge::SwaggerUi => swagger_ui(stage, paths),
    };
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(()) => println!("judge {} on {db}: passed ({secs:.1} s)", judge.name()),
        Err(error) => println!(
            "judge {} on {db}: FAILED ({secs:.1} s): {error:#}",
            judge.name()
        ),
    }
    result.is_ok()
}

fn spec_lint(stage: &Stage, paths: &Paths) -> Result<()> {
    let (status, served) = http_get(stage.addr, "/openapi.json")?;
    if status != 200 {
        bail!("GET /openapi.json answered {status}");
    }
    let file = stage.out.join("openapi.json");
    std::fs::write(&file, &served)?;
    let mut failed = Vec::new();
    let committed = std::fs::read_to_string(paths.root.join("spec/openapi.json"))?;
    if served != committed {
        println!(
            "  served spec: FAILED, it differs from spec/openapi.json \
             (`cargo xtask openapi generate`, or `cargo xtask check` for the diff)"
        );
        failed.push("served spec");
    }
    let file = file.to_string_lossy();
    let tools: [(&str, Command); 3] = [
        (
            "openapi-spec-validator",
            tool(paths, ".venv/bin/openapi-spec-validator", &[&file]),
        ),
        (
            "redocly lint (recommended)",
            tool(
                paths,
                "node_modules/.bin/redocly",
                &["lint", "--config", "redocly.yaml", &file],
            ),
        ),
        (
            "spectral lint (spectral:oas)",
            tool(
                paths,
                "node_modules/.bin/spectral",
                &[
                    "lint",
                    "--ruleset",
                    ".spectral.yaml",
                    "--fail-severity",
                    "error",
                    &file,
                ],
            ),
        ),
    ];
    for (name, mut command) in tools {
        match run_bounded(&mut command, Duration::from_secs(120)) {
            Ok(()) => println!("  {name}: passed"),
            Err(error) => {
                println!("  {name}: FAILED ({error:#})");
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join(", "));
    }
    Ok(())
}

/// Against the committed spec, not the served one: the server is judged by the contract in
/// review, so a change to the server that the spec does not have (a renamed field) fails here.
fn schemathesis(stage: &Stage, paths: &Paths) -> Result<()> {
    let reports = stage.out.join("schemathesis");
    let mut command = schemathesis_run(
        stage,
        paths,
        "schemathesis.toml",
        &["junit", "--report-dir", &reports.to_string_lossy()],
    );
    stage_env(&mut command, stage, &stage.fuzzed);
    run_bounded(&mut command, Duration::from_secs(240))
}

/// `schemathesis run` with `config`, against the stage and the committed spec; `report` is what
/// follows `--report`.
fn schemathesis_run(stage: &Stage, paths: &Paths, config: &str, report: &[&str]) -> Command {
    let spec = paths.root.join("spec/openapi.json");
    let mut args = vec!["--no-color", "--config-file", config, "run", "--report"];
    args.extend_from_slice(report);
    let spec = spec.to_string_lossy();
    args.extend_from_slice(&["--url", &stage.base_url, &spec]);
    tool(paths, ".venv/bin/schemathesis", &args)
}

/// Schemathesis' own exit status is not the verdict here: it is 1 on any refusal, which
/// `unhooked_verdict.py` then judges from the cassette. Any other failure (a timeout, a
/// configuration error) fails the judge.
fn schemathesis_unhooked(stage: &Stage, paths: &Paths) -> Result<()> {
    let cassette = stage.out.join("schemathesis-unhooked.yaml");
    let mut command = schemathesis_run(
        stage,
        paths,
        "schemathesis-unhooked.toml",
        &["vcr", "--report-vcr-path", &cassette.to_string_lossy()],
    );
    stage_env(&mut command, stage, &stage.outsider);
    let log = File::create(stage.out.join("schemathesis-unhooked.log"))?;
    command.stdout(log.try_clone()?).stderr(log);
    if let Err(error) = run_bounded(&mut command, Duration::from_secs(240))
        && (error.to_string() != "exit status 1" || !cassette.exists())
    {
        return Err(error).context("schemathesis (see schemathesis-unhooked.log)");
    }
    run_bounded(
        &mut tool(
            paths,
            ".venv/bin/python",
            &[
                "unhooked_verdict.py",
                &cassette.to_string_lossy(),
                &paths.root.join("README.md").to_string_lossy(),
            ],
        ),
        Duration::from_secs(120),
    )
}

/// The consumer imports the package as an installer would: `judge/package.json` depends on
/// `file:../generated/typescript`, so `node_modules/@users-api/client` links to it, and its
/// `exports` and `types` are what `tsc` and `node` resolve.
fn typescript(stage: &Stage, paths: &Paths) -> Result<()> {
    crate::typescript::build(&crate::typescript::package()).context("the package")?;
    run_bounded(
        &mut tool(
            paths,
            "node_modules/.bin/tsc",
            &["--project", "tsconfig.json"],
        ),
        Duration::from_secs(120),
    )
    .context("tsc")?;
    let mut consumer = tool(paths, "node", &[".build/consumer.js"]);
    stage_env(&mut consumer, stage, &stage.person);
    run_bounded(&mut consumer, Duration::from_secs(60)).context("the consumer")
}

/// Acts as the person organization's admin, as a consumer's backend would; the stage's server
/// lets webhook URLs be `http://127.0.0.1`.
fn webhooks_python(stage: &Stage, paths: &Paths) -> Result<()> {
    let mut receiver = tool(paths, ".venv/bin/python", &["webhook_receiver.py"]);
    stage_env(&mut receiver, stage, &stage.person);
    run_bounded(&mut receiver, Duration::from_secs(120))
}

fn swagger_ui(stage: &Stage, paths: &Paths) -> Result<()> {
    let mut browser = tool(paths, "node", &["swagger-ui.mjs"]);
    stage_env(&mut browser, stage, &stage.person);
    browser.env("SCREENSHOT", stage.out.join("swagger-ui.png"));
    browser.env("SPEC", paths.root.join("spec/openapi.json"));
    // The server's output, where its console mailer prints the password-reset link.
    browser.env("SERVER_LOG", stage.out.join("server.log"));
    run_bounded(&mut browser, Duration::from_secs(120))
}

/// A command run in `judge/`, with `program` relative to it unless it is on the PATH.
fn tool(paths: &Paths, program: &str, args: &[&str]) -> Command {
    let local = paths.tools.join(program);
    let mut command = Command::new(if program.contains('/') {
        local.as_path()
    } else {
        Path::new(program)
    });
    command
        .current_dir(&paths.tools)
        .args(args)
        .env("NO_COLOR", "1")
        // The network is closed: no usage telemetry or update checks.
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true");
    command
}

/// The server's URL and one seeded organization: its admin's token and sign-in credentials,
/// and its API key.
fn stage_env(command: &mut Command, stage: &Stage, seeded: &Seeded) {
    command
        .env("BASE_URL", &stage.base_url)
        .env("TOKEN", &seeded.token)
        .env("API_KEY", &seeded.api_key)
        .env("ORG_ID", &seeded.org_id)
        .env("EMAIL", &seeded.email)
        .env("PASSWORD", &seeded.password);
}

/// Runs `command` with inherited output; fails on a non-zero exit or after `limit` (killed).
fn run_bounded(command: &mut Command, limit: Duration) -> Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {program} (run judge/install.sh)"))?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            bail!("exit status {}", status.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
