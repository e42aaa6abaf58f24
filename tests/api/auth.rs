//! Session tokens are accepted only with a good signature, the pinned algorithm, the right
//! issuer and audience, an unexpired `exp`, a live session row and an active user.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;
use users_api::{
    auth::{SigningKeys, TokenSettings, Tokens, new_session},
    db::{sessions, users},
    domain::UserStatus,
};

use crate::helpers::{AUDIENCE, ISSUER, TestApp, spawn_app};

async fn status_of(app: &TestApp, token: &str) -> u16 {
    match app.client_with(token).get_me().send().await {
        Ok(response) => response.status().as_u16(),
        Err(users_api_client::Error::ErrorResponse(response)) => {
            assert_eq!(response.error.code, "UNAUTHORIZED");
            response.status().as_u16()
        }
        Err(other) => panic!("undeclared response: {other:?}"),
    }
}

fn tokens(app: &TestApp, issuer: &str, audience: &str) -> Tokens {
    let pem = std::fs::read_to_string(&app.key_file).unwrap();
    let settings = TokenSettings {
        issuer: issuer.into(),
        audience: audience.into(),
        lifetime: Duration::from_secs(60),
    };
    Tokens::new(SigningKeys::from_pem(&pem).unwrap(), settings)
}

#[tokio::test]
async fn a_revoked_session_is_refused_from_the_next_request_on() {
    let app = spawn_app().await;
    let token = &app.admin.session_token;
    assert_eq!(status_of(&app, token).await, 200);
    let claims = app.state.tokens.verify(token).unwrap();
    sessions::revoke(&app.state.db, &claims.sid).await.unwrap();
    assert_eq!(status_of(&app, token).await, 401);
}

#[tokio::test]
async fn a_suspended_user_is_refused_and_restored_when_active_again() {
    let app = spawn_app().await;
    let token = &app.admin.session_token;
    users::set_status(&app.state.db, &app.admin.user_id, UserStatus::Suspended)
        .await
        .unwrap();
    assert_eq!(status_of(&app, token).await, 401);
    users::set_status(&app.state.db, &app.admin.user_id, UserStatus::Active)
        .await
        .unwrap();
    assert_eq!(status_of(&app, token).await, 200);
}

#[tokio::test]
async fn expired_wrong_issuer_wrong_audience_and_foreign_key_tokens_are_refused() {
    let app = spawn_app().await;
    let mut session = new_session(&app.admin.user_id, Duration::from_secs(60));
    let good = tokens(&app, ISSUER, AUDIENCE);
    // A valid token with a live row is accepted (and proves the helper signs correctly) ...
    let claims = app.state.tokens.verify(&app.admin.session_token).unwrap();
    session.id = claims.sid;
    assert_eq!(
        status_of(&app, &good.issue(&session, &app.admin.org_id).unwrap()).await,
        200
    );
    // ... but not once it has expired,
    let mut expired = session.clone();
    expired.created_at -= chrono::Duration::hours(2);
    expired.expires_at = expired.created_at + chrono::Duration::hours(1);
    assert_eq!(
        status_of(&app, &good.issue(&expired, &app.admin.org_id).unwrap()).await,
        401
    );
    // nor from another issuer or for another audience,
    let other_issuer = tokens(&app, "someone-else", AUDIENCE)
        .issue(&session, &app.admin.org_id)
        .unwrap();
    assert_eq!(status_of(&app, &other_issuer).await, 401);
    let other_audience = tokens(&app, ISSUER, "another-api")
        .issue(&session, &app.admin.org_id)
        .unwrap();
    assert_eq!(status_of(&app, &other_audience).await, 401);
    // nor signed by another key, nor claiming another organization.
    let dir = tempfile::tempdir().unwrap();
    let settings = TokenSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        lifetime: Duration::from_secs(60),
    };
    let foreign = Tokens::new(
        SigningKeys::load_or_create(&dir.path().join("k.pem")).unwrap(),
        settings,
    );
    assert_eq!(
        status_of(&app, &foreign.issue(&session, &app.admin.org_id).unwrap()).await,
        401
    );
    let other = app.create_org("Globex", "admin@globex.test").await;
    assert_eq!(
        status_of(&app, &good.issue(&session, &other.org_id).unwrap()).await,
        401
    );
}

#[tokio::test]
async fn tokens_with_alg_none_or_another_algorithm_are_refused() {
    let app = spawn_app().await;
    let claims = app.state.tokens.verify(&app.admin.session_token).unwrap();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "HS256", "typ": "JWT"}),
    ] {
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        let signature = URL_SAFE_NO_PAD.encode(b"forged");
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.{signature}"),
        ] {
            assert_eq!(status_of(&app, &token).await, 401, "{token}");
        }
    }
}

#[tokio::test]
async fn a_token_whose_claims_were_edited_is_refused() {
    let app = spawn_app().await;
    let token = &app.admin.session_token;
    let parts: Vec<&str> = token.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    // Another user's id, a later expiry: the signature no longer matches either.
    let other = app.create_org("Globex", "admin@globex.test").await;
    for (claim, value) in [
        ("sub", json!(other.user_id)),
        ("exp", json!(4_102_444_800i64)),
    ] {
        let mut edited = claims.clone();
        edited[claim] = value;
        let payload = URL_SAFE_NO_PAD.encode(edited.to_string());
        let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(status_of(&app, &forged).await, 401, "{claim}");
    }
    assert_eq!(
        status_of(&app, token).await,
        200,
        "the untouched token still works"
    );
}
