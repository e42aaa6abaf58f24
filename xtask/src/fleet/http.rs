//! HTTP for the fleet checks: the generated client (`users-api-client`) over a reqwest client
//! whose sockets are bound to a chosen loopback address, so that nginx sees each simulated
//! client at an address of its own (127.0.0.2, 127.0.0.3, …: all of 127/8 is local on Linux).

use std::{net::IpAddr, time::Duration};

use anyhow::{Context, Result};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use users_api_client::{
    Client, Error, ResponseValue,
    types::{ErrorEnvelope, SignIn, SignedInEnvelope},
};

/// The result of one call of the generated client.
pub type Reply<T> = Result<ResponseValue<T>, Error<ErrorEnvelope>>;

/// A loopback address to send from: `from(2)` is 127.0.0.2.
pub fn from(last_octet: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last_octet])
}

/// A client of `base` whose requests leave from `source`, carrying `token` (a session token
/// or an API key) and `headers` on every request.
pub fn client(
    base: &str,
    source: IpAddr,
    token: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<Client> {
    let mut map = HeaderMap::new();
    if let Some(token) = token {
        map.insert(
            reqwest::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
    }
    for (name, value) in headers {
        map.insert(HeaderName::from_static(name), HeaderValue::from_str(value)?);
    }
    let http = reqwest::Client::builder()
        .local_address(source)
        .default_headers(map)
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(15))
        .build()?;
    Ok(Client::new_with_client(base, http))
}

/// The status of a reply, `None` when no response came (a cut connection, a refusal).
pub fn status<T>(reply: &Reply<T>) -> Option<u16> {
    match reply {
        Ok(value) => Some(value.status().as_u16()),
        Err(error) => error.status().map(|s| s.as_u16()),
    }
}

/// The status, or `0` when no response came: for messages.
pub fn code<T>(reply: &Reply<T>) -> u16 {
    status(reply).unwrap_or(0)
}

/// `Retry-After` in seconds, on an error reply that has one.
pub fn retry_after<T>(reply: &Reply<T>) -> Option<u64> {
    match reply {
        Err(Error::ErrorResponse(response)) => response
            .headers()
            .get("retry-after")?
            .to_str()
            .ok()?
            .parse()
            .ok(),
        _ => None,
    }
}

/// A response header of any reply, success or error envelope.
pub fn header<T>(reply: &Reply<T>, name: &str) -> Option<String> {
    let headers = match reply {
        Ok(value) => value.headers(),
        Err(Error::ErrorResponse(response)) => response.headers(),
        _ => return None,
    };
    Some(headers.get(name)?.to_str().ok()?.to_owned())
}

/// `POST /v1/sessions` from `source` at `base`.
pub async fn sign_in(
    base: &str,
    source: IpAddr,
    org_id: &str,
    email: &str,
    password: &str,
) -> Result<Reply<SignedInEnvelope>> {
    sign_in_with(&client(base, source, None, &[])?, org_id, email, password).await
}

/// `POST /v1/sessions` through `client`.
pub async fn sign_in_with(
    client: &Client,
    org_id: &str,
    email: &str,
    password: &str,
) -> Result<Reply<SignedInEnvelope>> {
    let body = SignIn {
        org_id: org_id.parse().context("org id")?,
        email: email.to_owned(),
        password: password.to_owned(),
        totp_code: None,
        recovery_code: None,
    };
    Ok(client.sign_in().body(body).send().await)
}

/// A session token from a sign-in that must succeed.
pub fn token(reply: Reply<SignedInEnvelope>) -> Result<String> {
    match reply {
        Ok(value) => Ok(value.into_inner().data.token),
        Err(error) => anyhow::bail!(
            "sign-in refused: {}",
            users_api_client::ApiError::from(error)
        ),
    }
}

/// `GET /v1/me` with `token` at `base`: its status, `0` when nothing answered.
pub async fn me_status(base: &str, token: &str) -> Result<u16> {
    let client = client(base, from(1), Some(token), &[])?;
    Ok(code(&client.get_me().send().await))
}

/// The sum over every series of the Prometheus counter `name` whose labels include `label`
/// (`kind="sessions"`), from an instance's `/metrics`.
pub async fn counter(base: &str, name: &str, label: &str) -> Result<f64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(sum_of(&text, name, label))
}

fn sum_of(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with('{'))
        .filter(|line| line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_over_the_matching_series_only() {
        let text = "# TYPE sweeper_deleted_total counter\n\
                    sweeper_deleted_total{kind=\"sessions\"} 1500\n\
                    sweeper_deleted_total{kind=\"idempotency\"} 7\n\
                    sweeper_deleted_total_other{kind=\"sessions\"} 99\n";
        assert_eq!(
            sum_of(text, "sweeper_deleted_total", "kind=\"sessions\""),
            1500.0
        );
        assert_eq!(sum_of(text, "sweeper_deleted_total", "kind=\"none\""), 0.0);
    }
}
