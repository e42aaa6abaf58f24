//! Behind a load balancer: `X-Forwarded-For` names the client only when the TCP peer is one of
//! `--trusted-proxies`, and then the per-address sign-in limit is per client, not per balancer.

use reqwest::StatusCode;
use serde_json::json;
use users_api::{api::TrustedProxies, auth::throttle::SignInLimits};

use crate::helpers::{TestApp, TestOptions, spawn_app_with};

async fn app_with(trusted: &[&str]) -> TestApp {
    let networks = trusted
        .iter()
        .map(|n| users_api::api::parse_network(n).unwrap())
        .collect();
    let mut options = TestOptions {
        sign_in_limits: SignInLimits {
            per_account: 100.try_into().unwrap(),
            per_address: 2.try_into().unwrap(),
        },
        ..TestOptions::default()
    };
    options.edge.trusted_proxies = TrustedProxies::new(networks);
    spawn_app_with(options).await
}

/// A wrong sign-in sent as if through a balancer for `client`.
async fn wrong_sign_in(app: &TestApp, n: usize, client: &str) -> StatusCode {
    app.http()
        .post(app.url("/v1/sessions"))
        .header("X-Forwarded-For", format!("6.6.6.6, {client}"))
        .json(&json!({
            "org_id": app.admin.org_id,
            "email": format!("guess{n}@acme.test"),
            "password": "wrong"
        }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_trusted_proxy_s_forwarded_address_gets_a_bucket_of_its_own() {
    // The test client connects from 127.0.0.1: the balancer.
    let app = app_with(&["127.0.0.0/8"]).await;
    for n in 0..2 {
        assert_eq!(wrong_sign_in(&app, n, "198.51.100.1").await, 401);
    }
    assert_eq!(wrong_sign_in(&app, 2, "198.51.100.1").await, 429);
    // Another client behind the same balancer is not limited; the left-most entry, which the
    // client wrote itself, was never the key.
    assert_eq!(wrong_sign_in(&app, 3, "198.51.100.2").await, 401);
}

#[tokio::test]
async fn an_untrusted_peer_s_forwarded_for_is_ignored() {
    let app = app_with(&["10.0.0.0/8"]).await;
    for n in 0..2 {
        assert_eq!(
            wrong_sign_in(&app, n, &format!("198.51.100.{n}")).await,
            401
        );
    }
    // Every "client" was the peer itself: one bucket, now empty.
    assert_eq!(wrong_sign_in(&app, 2, "198.51.100.9").await, 429);
}

/// A value that is not a list of CIDRs or addresses is one line at start, naming the value; the
/// server never starts with part of the list.
#[test]
fn a_trusted_proxies_value_that_is_not_a_cidr_list_is_a_one_line_start_up_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_users-api"))
        .args(["serve", "--trusted-proxies", "10.0.0.0/8,10.0.0.0/33"])
        .env("DATABASE_URL", "sqlite:///nonexistent-dir/never-opened.db")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("'10.0.0.0/33'") && first.contains("--trusted-proxies"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
