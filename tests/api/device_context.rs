//! Device context: a session keeps the client address and the `User-Agent` of its sign-in (as
//! sent, at most 512 characters), and `GET /v1/me/sessions` shows them with the browser and OS
//! names parsed from it.

use users_api::api::TrustedProxies;

use crate::helpers::{TestOptions, spawn_app, spawn_app_with};

const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Signs the admin in with `user_agent` (none when `None`); the token.
async fn sign_in_as(app: &crate::helpers::TestApp, user_agent: Option<&str>) -> String {
    let admin = &app.admin;
    let mut request = app
        .http()
        .post(app.url("/v1/sessions"))
        .json(&serde_json::json!({
            "org_id": admin.org_id,
            "email": admin.admin_email,
            "password": admin.admin_password,
        }));
    if let Some(user_agent) = user_agent {
        request = request.header("User-Agent", user_agent);
    }
    let reply = request.send().await.unwrap();
    assert_eq!(reply.status(), 201);
    let body: serde_json::Value = reply.json().await.unwrap();
    body["data"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn my_sessions_show_where_and_on_what_they_were_signed_in() {
    let app = spawn_app().await;
    let chrome = sign_in_as(&app, Some(CHROME_ON_WINDOWS)).await;
    let long = format!("{CHROME_ON_WINDOWS} {}", "x".repeat(600));
    let _long = sign_in_as(&app, Some(&long)).await;
    let _bot = sign_in_as(&app, Some("curl-ish/0.1")).await;

    let listed = app
        .client_with(&chrome)
        .list_my_sessions()
        .send()
        .await
        .unwrap();
    let listed = listed.into_inner().data;
    let mine = listed
        .iter()
        .find(|s| s.current)
        .expect("the current session");
    assert_eq!(mine.user_agent.as_deref(), Some(CHROME_ON_WINDOWS));
    assert_eq!(mine.browser.as_deref(), Some("Chrome"));
    assert_eq!(mine.os.as_deref(), Some("Windows 10"));
    assert_eq!(mine.client_address.as_deref(), Some("127.0.0.1"));

    let cut = listed
        .iter()
        .find(|s| s.user_agent.as_deref().is_some_and(|ua| ua.ends_with('x')))
        .expect("the long one, kept as sent up to the limit");
    let kept = cut.user_agent.as_deref().unwrap();
    assert_eq!(kept.chars().count(), 512);
    assert!(long.starts_with(kept));
    assert_eq!(cut.browser.as_deref(), Some("Chrome"));

    let unknown = listed
        .iter()
        .find(|s| s.user_agent.as_deref() == Some("curl-ish/0.1"))
        .expect("the unknown agent");
    assert_eq!(
        (unknown.browser.as_deref(), unknown.os.as_deref()),
        (None, None)
    );

    // The bootstrap session did not start with a sign-in: nothing recorded.
    let bootstrap = listed
        .iter()
        .find(|s| s.user_agent.is_none())
        .expect("the bootstrap session");
    assert_eq!(bootstrap.client_address, None);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_session_keeps_the_forwarded_client() {
    let mut options = TestOptions::default();
    let loopback = users_api::api::parse_network("127.0.0.1").unwrap();
    options.edge.trusted_proxies = TrustedProxies::new(vec![loopback]);
    let app = spawn_app_with(options).await;
    let admin = &app.admin;
    let reply = app
        .http()
        .post(app.url("/v1/sessions"))
        .header("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
        .json(&serde_json::json!({
            "org_id": admin.org_id,
            "email": admin.admin_email,
            "password": admin.admin_password,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let body: serde_json::Value = reply.json().await.unwrap();
    let token = body["data"]["token"].as_str().unwrap();
    let listed = app
        .client_with(token)
        .list_my_sessions()
        .send()
        .await
        .unwrap();
    let mine = listed
        .into_inner()
        .data
        .into_iter()
        .find(|s| s.current)
        .unwrap();
    assert_eq!(mine.client_address.as_deref(), Some("203.0.113.7"));
}
