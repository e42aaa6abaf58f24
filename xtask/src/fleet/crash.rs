//! One instance killed with SIGKILL in the middle of a stream of writes through nginx, while
//! the other keeps serving; then every write that was acknowledged (a 2xx) is read back.
//!
//! Two kinds of writes, each retried the way the API makes safe, since a write in flight on
//! the dying instance may or may not have been applied:
//! - creates (`POST /v1/users`) by several workers at once, each with its own
//!   `Idempotency-Key`: a retry with the same key either creates the user or replays the first
//!   answer, never a second user;
//! - a sequence of `PATCH /v1/me` with `If-Match`: after a failure the profile is read again,
//!   and the change is sent again only if it is not there. So the final version must be the
//!   first plus exactly the number of changes, and the last change must be visible.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, Result, bail, ensure};
use users_api_client::{Client, MePatch, Patch, TryStreamExt, types::UserCreate};

use super::{
    Report,
    checks::People,
    deploy::Deployment,
    http::{self, code, from, sign_in, status, token},
};

const CREATE_WORKERS: u32 = 4;
const CREATES_PER_WORKER: u32 = 40;
const PATCHES: u32 = 60;
/// Acknowledged creates before the kill: the stream is well under way.
const KILL_AFTER: u32 = 40;
/// Attempts per write before the check gives up on it.
const ATTEMPTS: u32 = 40;

/// What the writers saw.
#[derive(Default)]
struct Tally {
    /// (e-mail, user id) of every acknowledged create.
    created: Mutex<Vec<(String, String)>>,
    acknowledged: AtomicU32,
    /// Attempts that got no 2xx (a 502 from nginx, a cut connection), retried.
    failed_attempts: AtomicU32,
    /// Acknowledged after the kill.
    after_kill: AtomicU32,
    killed: std::sync::atomic::AtomicBool,
}

pub async fn kill_mid_traffic(d: &mut Deployment, people: &People, report: &mut Report) {
    let outcome = run(d, people).await;
    let (served, read_back) = match outcome {
        Ok(pair) => pair,
        Err(error) => (Err(error), Err(anyhow::anyhow!("no writes to read back"))),
    };
    report.record(
        "instance b SIGKILLed mid-traffic: a and nginx keep serving",
        served,
    );
    report.record(
        "no acknowledged write lost (each read back from instance a)",
        read_back,
    );
}

type Outcomes = (Result<String>, Result<String>);

async fn run(d: &mut Deployment, people: &People) -> Result<Outcomes> {
    let writer = &people.writer;
    let reply = sign_in(
        &d.nginx_url,
        from(1),
        &d.org.org_id,
        &writer.email,
        &writer.password,
    )
    .await?;
    let writer_token = token(reply)?;
    let keys = http::client(&d.nginx_url, from(5), Some(&d.org.api_key), &[])?;
    let me = http::client(&d.nginx_url, from(6), Some(&writer_token), &[])?;
    let tally = Arc::new(Tally::default());
    let run = uuid::Uuid::new_v4().simple().to_string();

    let mut creates = Vec::new();
    for worker in 0..CREATE_WORKERS {
        let (keys, tally, run) = (keys.clone(), tally.clone(), run.clone());
        creates.push(tokio::spawn(async move {
            for n in 0..CREATES_PER_WORKER {
                create(&keys, &tally, &format!("{run}-{worker}-{n}"), worker, n).await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    let patches = {
        let (me, tally) = (me.clone(), tally.clone());
        tokio::spawn(async move { patch_sequence(&me, &tally).await })
    };

    // Wait for the stream to be under way, then kill b without warning.
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while tally.acknowledged.load(Ordering::SeqCst) < KILL_AFTER {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    ensure!(
        waited.is_ok(),
        "fewer than {KILL_AFTER} writes acknowledged in 60 s"
    );
    d.instances[1].kill()?;
    tally.killed.store(true, Ordering::SeqCst);

    let mut failures = Vec::new();
    for handle in creates {
        if let Err(error) = handle.await.context("create worker")? {
            failures.push(format!("{error:#}"));
        }
    }
    let patched = patches.await.context("patch worker")?;
    let served = if failures.is_empty() && patched.is_ok() {
        let answered = http::client(&d.instances[0].base_url, from(1), None, &[])?
            .readyz()
            .send()
            .await;
        ensure!(
            status(&answered) == Some(200),
            "instance a's /readyz: {}",
            code(&answered)
        );
        ensure!(
            tally.after_kill.load(Ordering::SeqCst) > 0,
            "the stream ended before b was killed: nothing was written after it"
        );
        Ok(format!(
            "killed after {KILL_AFTER} acknowledged writes; {} more acknowledged after the kill, \
             {} attempts failed and were retried; all {} creates and {PATCHES} patches done",
            tally.after_kill.load(Ordering::SeqCst),
            tally.failed_attempts.load(Ordering::SeqCst),
            CREATE_WORKERS * CREATES_PER_WORKER
        ))
    } else {
        if let Err(error) = &patched {
            failures.push(format!("patches: {error:#}"));
        }
        Err(anyhow::anyhow!("{}", failures.join("; ")))
    };
    let read_back = read_back(d, &writer_token, &tally, patched.ok()).await;
    Ok((served, read_back))
}

/// One create with its own `Idempotency-Key`, retried with the same key until acknowledged.
async fn create(keys: &Client, tally: &Tally, key: &str, worker: u32, n: u32) -> Result<()> {
    let email = format!("w{worker}-{n}@crash.fleet.test");
    for _ in 0..ATTEMPTS {
        let body = UserCreate {
            primary_email: Some(email.clone()),
            ..Default::default()
        };
        let reply = keys
            .create_user()
            .idempotency_key(key)
            .body(body)
            .send()
            .await;
        match reply {
            Ok(created) if created.status().is_success() => {
                let id = created.into_inner().data.id.to_string();
                tally
                    .created
                    .lock()
                    .expect("not poisoned")
                    .push((email, id));
                acknowledge(tally);
                return Ok(());
            }
            other if matches!(status(&other), None | Some(502..=504)) => {
                tally.failed_attempts.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => bail!("creating {email} (key {key}) answered {}", code(&other)),
        }
    }
    bail!("creating {email}: no answer in {ATTEMPTS} attempts")
}

fn acknowledge(tally: &Tally) {
    tally.acknowledged.fetch_add(1, Ordering::SeqCst);
    if tally.killed.load(Ordering::SeqCst) {
        tally.after_kill.fetch_add(1, Ordering::SeqCst);
    }
}

/// `display_name` set to `Writer 1` … `Writer PATCHES`, each conditional on the version read;
/// returns the version before the first change.
async fn patch_sequence(me: &Client, tally: &Tally) -> Result<u64> {
    let first = read_me(me, tally).await?;
    let mut etag = first.etag;
    for k in 1..=PATCHES {
        let name = format!("Writer {k}");
        let mut attempts = 0;
        loop {
            attempts += 1;
            ensure!(
                attempts <= ATTEMPTS,
                "PATCH {k}: no answer in {ATTEMPTS} attempts"
            );
            let body = MePatch {
                display_name: Patch::Value(name.clone()),
                ..Default::default()
            };
            let reply = me.patch_me().if_match(etag.clone()).body(body).send().await;
            if let Some(tag) = reply.as_ref().ok().and_then(|r| etag_of(r.headers())) {
                etag = tag;
                break;
            }
            match status(&reply) {
                None | Some(412 | 502..=504) => {
                    tally.failed_attempts.fetch_add(1, Ordering::SeqCst);
                    // Applied or not? Read it again: if the name is there, it was.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let now = read_me(me, tally).await?;
                    etag = now.etag;
                    if now.display_name.as_deref() == Some(name.as_str()) {
                        break;
                    }
                }
                other => bail!("PATCH {k} answered {other:?}"),
            }
        }
        acknowledge(tally);
    }
    Ok(first.version)
}

/// The writer's profile as `GET /v1/me` shows it.
struct Profile {
    version: u64,
    etag: String,
    display_name: Option<String>,
}

/// `GET /v1/me`, retried until it answers.
async fn read_me(me: &Client, tally: &Tally) -> Result<Profile> {
    for _ in 0..ATTEMPTS {
        match me.get_me().send().await {
            Ok(reply) => {
                let etag = etag_of(reply.headers()).context("GET /v1/me without ETag")?;
                let version = etag.trim_matches('"').parse().context("ETag")?;
                let display_name = reply.into_inner().data.display_name;
                return Ok(Profile {
                    version,
                    etag,
                    display_name,
                });
            }
            Err(_) => {
                tally.failed_attempts.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    bail!("GET /v1/me: no answer in {ATTEMPTS} attempts")
}

fn etag_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    Some(headers.get("etag")?.to_str().ok()?.to_owned())
}

/// Every acknowledged create is there (and nothing more), and the profile carries the last
/// change at exactly the version it should: read from instance a, the survivor.
async fn read_back(
    d: &Deployment,
    writer_token: &str,
    tally: &Tally,
    first_version: Option<u64>,
) -> Result<String> {
    let a = &d.instances[0].base_url;
    let admin = http::client(a, from(1), Some(&d.org.api_key), &[])?;
    let created = tally.created.lock().expect("not poisoned").clone();
    for (email, id) in &created {
        let user = admin
            .get_user()
            .user_id(id.parse::<uuid::Uuid>()?)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{email} ({id}), acknowledged: {e}"))?
            .into_inner()
            .data;
        ensure!(
            user.primary_email.as_deref() == Some(email.as_str()),
            "{id} is {user:?}"
        );
    }
    let stored: Vec<_> = admin.all_users(Some("w")).try_collect().await?;
    let stored = stored
        .iter()
        .filter(|u| {
            u.primary_email
                .as_deref()
                .is_some_and(|e| e.ends_with("@crash.fleet.test"))
        })
        .count();
    ensure!(
        stored == created.len(),
        "{} creates acknowledged, {stored} such users stored",
        created.len()
    );
    let first_version = first_version.context("the patch sequence did not finish")?;
    let me = http::client(a, from(1), Some(writer_token), &[])?;
    let last = read_me(&me, tally).await?;
    let expected = format!("Writer {PATCHES}");
    ensure!(
        last.display_name.as_deref() == Some(expected.as_str()),
        "the last acknowledged PATCH is not visible: display_name {:?}",
        last.display_name
    );
    let version = last.version;
    ensure!(
        version == first_version + u64::from(PATCHES),
        "version {version} after {PATCHES} changes from {first_version}: a change lost or doubled"
    );
    Ok(format!(
        "{} acknowledged creates each read back, {stored} stored (none doubled); \
         {PATCHES} patches: version {first_version} → {version}, the last one visible",
        created.len()
    ))
}
