//! The request-level checks of the fleet: sign-in through nginx, tokens across instances,
//! revocation, the sign-in limits across both instances, client addresses from
//! `X-Forwarded-For`, and what the nginx example must pass through (or not).
//!
//! Client addresses. nginx appends the address it saw to `X-Forwarded-For`, and the instances
//! trust nginx's own address only (`--trusted-proxies 127.0.0.1/32`): nginx connects to them
//! from 127.0.0.1, while the simulated clients connect to nginx from 127.0.0.2, .3, … (their
//! sockets are bound there). An instance walks the header from the right: the last entry is
//! the client nginx saw, which is not trusted, so that is the client; whatever the client wrote
//! to the left of it is never read. Trusting all of 127/8 would make that walk believe a
//! client's forged entry, so the scenario would prove nothing.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use users_api_client::{Client, types::UserCreate};

use super::{
    Report,
    deploy::{Deployment, Settings},
    http::{self, code, from, me_status, retry_after, sign_in, status, token},
};

/// Users created for the checks, each with a password (one account per check, so that one
/// check's attempts never count against another's limit).
pub struct People {
    pub ada: Person,
    pub revoked: Person,
    pub limited: Person,
    pub writer: Person,
}

pub struct Person {
    pub email: String,
    pub password: String,
}

impl People {
    /// Creates them through nginx with the organization's API key.
    pub async fn create(deployment: &Deployment) -> Result<Self> {
        let admin = http::client(
            &deployment.nginx_url,
            from(1),
            Some(&deployment.org.api_key),
            &[],
        )?;
        Ok(People {
            ada: person(&admin, "ada").await?,
            revoked: person(&admin, "revoked").await?,
            limited: person(&admin, "limited").await?,
            writer: person(&admin, "writer").await?,
        })
    }
}

async fn person(admin: &Client, name: &str) -> Result<Person> {
    let email = format!("{name}@fleet.test");
    let password = format!("fleet-{}", uuid::Uuid::new_v4().simple());
    let body = UserCreate {
        primary_email: Some(email.clone()),
        password: Some(password.clone()),
        ..Default::default()
    };
    let reply = admin.create_user().body(body).send().await;
    ensure!(
        status(&reply) == Some(201),
        "creating {email}: {}",
        code(&reply)
    );
    Ok(Person { email, password })
}

/// Sign-in through nginx, then the token used through nginx (on whichever instance).
pub async fn sign_in_through_nginx(d: &Deployment, people: &People) -> Result<String> {
    let ada = &people.ada;
    let reply = sign_in(
        &d.nginx_url,
        from(1),
        &d.org.org_id,
        &ada.email,
        &ada.password,
    )
    .await?;
    ensure!(
        status(&reply) == Some(201),
        "sign-in answered {}",
        code(&reply)
    );
    let token = token(reply)?;
    // Two reads: round-robin sends them to both instances.
    for _ in 0..2 {
        let status = me_status(&d.nginx_url, &token).await?;
        ensure!(status == 200, "GET /v1/me through nginx answered {status}");
    }
    Ok("201, then GET /v1/me 200 twice (round-robin: once on each instance)".into())
}

/// A token issued by each instance is accepted by the other, each signing with its own key.
pub async fn tokens_across(d: &Deployment, people: &People) -> Result<String> {
    let [a, b] = &d.instances;
    let ada = &people.ada;
    let org = &d.org.org_id;
    for (issuer, verifier) in [(a, b), (b, a)] {
        let reply = sign_in(&issuer.base_url, from(1), org, &ada.email, &ada.password).await?;
        let token = token(reply)?;
        let status = me_status(&verifier.base_url, &token).await?;
        ensure!(
            status == 200,
            "a token of instance {} answered {status} on instance {}",
            issuer.name,
            verifier.name
        );
    }
    let key = |dir: &std::path::Path| std::fs::read(dir.join("data/signing-key.pem"));
    let (key_a, key_b) = (key(&a.dir)?, key(&b.dir)?);
    ensure!(
        key_a != key_b,
        "both instances have the same signing key file"
    );
    let (kids_a, kids_b) = (kids(&a.base_url).await?, kids(&b.base_url).await?);
    ensure!(
        kids_a.len() == 2
            && kids_a[0] != kids_b[0]
            && kids_a == [kids_b[1].clone(), kids_b[0].clone()],
        "JWKS: a lists {kids_a:?}, b lists {kids_b:?}"
    );
    Ok(format!(
        "a→b and b→a 200; own key files in two directories; both JWKS list {kids_a:?}"
    ))
}

async fn kids(base: &str) -> Result<Vec<String>> {
    let jwks = Client::new(base).get_jwks().send().await?.into_inner();
    Ok(jwks.keys.into_iter().map(|key| key.kid).collect())
}

/// Signed out on one instance, the token is refused on the other at its next request.
pub async fn revocation(d: &Deployment, people: &People) -> Result<String> {
    let [a, b] = &d.instances;
    let person = &people.revoked;
    for (signs_out, then_asked) in [(a, b), (b, a)] {
        let reply = sign_in(
            &d.nginx_url,
            from(1),
            &d.org.org_id,
            &person.email,
            &person.password,
        )
        .await?;
        let token = token(reply)?;
        ensure!(
            me_status(&then_asked.base_url, &token).await? == 200,
            "token not live"
        );
        let out = http::client(&signs_out.base_url, from(1), Some(&token), &[])?;
        let reply = out.sign_out().send().await;
        ensure!(
            status(&reply) == Some(204),
            "sign-out answered {}",
            code(&reply)
        );
        let status = me_status(&then_asked.base_url, &token).await?;
        ensure!(
            status == 401,
            "signed out on {}, the token answered {status} on {}",
            signs_out.name,
            then_asked.name
        );
    }
    Ok("signed out on a: 401 on b at once; signed out on b: 401 on a at once".into())
}

/// Wrong passwords for one account, alternating between the instances (addressed directly):
/// exactly the configured number is admitted across both, then 429 with `Retry-After`, and the
/// right password is refused too.
pub async fn account_limit(d: &Deployment, people: &People, settings: &Settings) -> Result<String> {
    let limit = settings.sign_in_limit_per_account;
    let person = &people.limited;
    let source = from(4);
    let (mut admitted, started) = (0, Instant::now());
    for attempt in 0..2 * limit + 1 {
        let instance = &d.instances[attempt as usize % 2];
        let reply = sign_in(
            &instance.base_url,
            source,
            &d.org.org_id,
            &person.email,
            "wrong-password",
        )
        .await?;
        match status(&reply) {
            Some(401) => admitted += 1,
            Some(429) => {
                let wait = retry_after(&reply).context("429 without Retry-After")?;
                held_at(limit, admitted, started.elapsed())?;
                ensure!(wait >= 1, "Retry-After: {wait}");
                let other = &d.instances[(attempt as usize + 1) % 2];
                let right = sign_in(
                    &other.base_url,
                    source,
                    &d.org.org_id,
                    &person.email,
                    &person.password,
                )
                .await?;
                ensure!(
                    status(&right) == Some(429),
                    "the right password answered {} on instance {} after the limit",
                    code(&right),
                    other.name
                );
                return Ok(format!(
                    "{admitted} admitted alternating a/b, the next 429 (Retry-After {wait}), \
                     the right password then 429 on the other"
                ));
            }
            other => bail!("attempt {} answered {other:?}", attempt + 1),
        }
    }
    bail!(
        "{admitted} attempts admitted across both instances and no 429, configured {limit} \
         (each instance still counts on its own?)"
    )
}

/// Sign-ins to unknown accounts through nginx from 127.0.0.2 until refused: the per-address
/// limit (exactly its value across both instances), then the `X-Forwarded-For` checks.
pub async fn address_limit_and_forwarded_for(
    d: &Deployment,
    settings: &Settings,
    report: &mut Report,
) {
    let limit = settings.sign_in_limit_per_address;
    let started = Instant::now();
    let admitted = exhaust_address(d, from(2), 2 * limit + 2).await;
    report.record(
        "per-address sign-in limit holds across both instances (through nginx)",
        admitted
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|&admitted| {
                held_at(limit, admitted, started.elapsed())?;
                Ok(format!(
                    "{admitted} admitted from 127.0.0.2 through nginx, the next 429"
                ))
            }),
    );
    let outcome = match admitted {
        Ok(_) => forwarded_for(d).await,
        Err(error) => Err(error.context("127.0.0.2 was never refused")),
    };
    report.record(
        "X-Forwarded-For from nginx: one bucket per client, forgeries ignored",
        outcome,
    );
}

/// `admitted` attempts got through before the first 429, under a limit of `limit` a minute
/// shared by both instances: exactly `limit`, plus what refilled meanwhile (one attempt per
/// `60 / limit` seconds, which a slow machine may reach). Each instance counting on its own
/// admits twice as many.
fn held_at(limit: u32, admitted: u32, elapsed: Duration) -> Result<()> {
    let refilled = (elapsed.as_secs_f64() * f64::from(limit) / 60.0) as u32;
    ensure!(
        (limit..=limit + refilled).contains(&admitted),
        "{admitted} attempts admitted across both instances before the first 429 in {:.1} s, \
         configured {limit} a minute (each instance still counting on its own?)",
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// Attempts from `source` through nginx until a 429; returns how many were admitted.
async fn exhaust_address(d: &Deployment, source: IpAddr, most: u32) -> Result<u32> {
    let client = http::client(&d.nginx_url, source, None, &[])?;
    for attempt in 0..most {
        let email = format!("nobody-{attempt}@fleet.test");
        let reply = http::sign_in_with(&client, &d.org.org_id, &email, "wrong-password").await?;
        match status(&reply) {
            Some(401) => {}
            Some(429) => {
                retry_after(&reply).context("429 without Retry-After")?;
                return Ok(attempt);
            }
            other => bail!("attempt {} answered {other:?}", attempt + 1),
        }
    }
    bail!("{most} attempts from {source}, none refused")
}

/// With 127.0.0.2 refused: 127.0.0.3 is still admitted through the same nginx; 127.0.0.2
/// forging an `X-Forwarded-For` entry is still 127.0.0.2, through nginx and directly.
async fn forwarded_for(d: &Deployment) -> Result<String> {
    let org = &d.org.org_id;
    let attempt = |base: &str, source: IpAddr, forged: Option<&'static str>| {
        let headers: Vec<(&'static str, &str)> =
            forged.map(|f| ("x-forwarded-for", f)).into_iter().collect();
        let client = http::client(base, source, None, &headers);
        async move {
            let reply = http::sign_in_with(&client?, org, "nobody-x@fleet.test", "wrong").await?;
            Ok::<_, anyhow::Error>(code(&reply))
        }
    };
    let other = attempt(&d.nginx_url, from(3), None).await?;
    ensure!(
        other == 401,
        "127.0.0.3 answered {other}: it shares 127.0.0.2's bucket"
    );
    let forged = attempt(&d.nginx_url, from(2), Some("198.51.100.7")).await?;
    ensure!(
        forged == 429,
        "127.0.0.2 with a forged X-Forwarded-For answered {forged}"
    );
    let direct = attempt(&d.instances[0].base_url, from(2), Some("198.51.100.7")).await?;
    ensure!(
        direct == 429,
        "127.0.0.2 straight to instance a with a forged X-Forwarded-For answered {direct}"
    );
    Ok(
        "127.0.0.3 admitted (401) while 127.0.0.2 is refused; 127.0.0.2 forging \
        `X-Forwarded-For: 198.51.100.7` still 429, through nginx and straight to an instance"
            .into(),
    )
}

/// What the nginx example passes through: the client's `X-Request-Id`, headers up to the
/// server's own limits, oversized bodies to the server (which refuses them in its envelope);
/// and what it keeps: `/metrics`.
pub async fn proxy_details(d: &Deployment) -> Result<String> {
    let request_id = ulid();
    let client = http::client(
        &d.nginx_url,
        from(1),
        Some("not-a-token"),
        &[("x-request-id", &request_id)],
    )?;
    let reply = client.get_me().send().await;
    let echoed = http::header(&reply, "x-request-id");
    ensure!(
        status(&reply) == Some(401) && echoed.as_deref() == Some(request_id.as_str()),
        "GET /v1/me with X-Request-Id {request_id}: {} with X-Request-Id {echoed:?}",
        code(&reply)
    );
    let raw = reqwest::Client::new();
    let pad = "p".repeat(12 * 1024);
    let padded = raw
        .get(format!("{}/healthz", d.nginx_url))
        .header("x-pad", &pad)
        .send()
        .await?;
    ensure!(
        padded.status() == 200,
        "a 12 KiB header line answered {}",
        padded.status()
    );
    let body = format!("{{\"email\": \"{}\"}}", "a".repeat(300 * 1024));
    let large = raw
        .post(format!("{}/v1/sessions", d.nginx_url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let large_status = large.status();
    let envelope: serde_json::Value = large.json().await.unwrap_or_default();
    ensure!(
        large_status == 413 && envelope["error"]["code"] == "PAYLOAD_TOO_LARGE",
        "a 300 KiB body answered {large_status} {envelope}"
    );
    let metrics = raw
        .get(format!("{}/metrics", d.nginx_url))
        .send()
        .await?
        .status();
    ensure!(metrics == 404, "/metrics through nginx answered {metrics}");
    Ok(
        "X-Request-Id echoed; 12 KiB header line served; 300 KiB body: the server's 413 \
        PAYLOAD_TOO_LARGE envelope; /metrics 404 at nginx"
            .into(),
    )
}

/// A fresh ULID-shaped request id (26 Crockford base32 digits, the first at most 7).
fn ulid() -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut n = uuid::Uuid::new_v4().as_u128();
    let mut out = [b'0'; 26];
    for digit in out.iter_mut().rev() {
        *digit = DIGITS[(n % 32) as usize];
        n /= 32;
    }
    String::from_utf8(out.to_vec()).expect("ASCII")
}
