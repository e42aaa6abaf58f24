//! Instances with different signing keys on one database are one fleet (`auth::fleet`): a token
//! issued by one verifies on the other, the key set is published at `/.well-known/jwks.json`,
//! and a retired key stops verifying everywhere and cannot be published again. Secrets keys
//! cannot differ: an instance whose key is not the fleet's refuses to start (`db::secrets_key`).

use users_api::{
    auth::{reseal, secrets::SecretKey},
    db::signing_keys::{self, Publication},
};
use users_api_client::types::SignIn;

use crate::{fixtures::me_status, helpers::spawn_app};

/// `kid`s of the JWKS an instance at `address` publishes.
async fn published_kids(address: &str) -> Vec<String> {
    let client = users_api_client::Client::new(address);
    let jwks = client.get_jwks().send().await.unwrap().into_inner();
    jwks.keys.into_iter().map(|key| key.kid).collect()
}

#[tokio::test]
async fn a_token_of_one_instance_verifies_on_another_with_its_own_key() {
    let app = spawn_app().await;
    let (other, other_tokens) = app.instance_with_own_key().await;
    let own_kid = app.state.tokens.keys().kid.clone();
    let other_kid = other_tokens.keys().kid.clone();
    assert_ne!(own_kid, other_kid);

    // Signed in on the other instance, with its key…
    let admin = &app.admin;
    let signed_in = users_api_client::Client::new(&other.address)
        .sign_in()
        .body(SignIn {
            org_id: admin.org_id.into_uuid(),
            email: admin.admin_email.parse().unwrap(),
            password: admin.admin_password.parse().unwrap(),
            totp_code: None,
            recovery_code: None,
        })
        .send()
        .await
        .expect("201")
        .into_inner()
        .data;
    // …the token works here: this instance reads the registry for the key it does not know.
    assert_eq!(me_status(&app, &signed_in.token).await, 200);
    // And this instance's tokens work there.
    let there = users_api_client::with_bearer_token(&other.address, &admin.session_token).unwrap();
    assert_eq!(there.get_me().send().await.unwrap().status(), 200);

    // Both instances publish both keys, their own first.
    assert_eq!(
        published_kids(&app.address).await,
        [own_kid.clone(), other_kid.clone()]
    );
    assert_eq!(published_kids(&other.address).await, [other_kid, own_kid]);
}

#[tokio::test]
async fn a_token_naming_an_unknown_key_is_a_401() {
    let app = spawn_app().await;
    let (_, other_tokens) = app.instance_with_own_key().await;
    // A real token of the other key, with its `kid` changed: no key has that id.
    let token = app.admin.session_token.clone();
    let (header, rest) = token.split_once('.').unwrap();
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let header = String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    let forged = header.replace(&app.state.tokens.keys().kid, "0123456789abcdef");
    assert_ne!(forged, header);
    let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(forged));
    assert_eq!(me_status(&app, &forged).await, 401);
    assert!(other_tokens.verify(&forged).is_none());
}

#[tokio::test]
async fn a_retired_key_stops_verifying_everywhere_and_cannot_be_published_again() {
    let app = spawn_app().await;
    let (other, other_tokens) = app.instance_with_own_key().await;
    let other_kid = other_tokens.keys().kid.clone();
    let session = users_api::auth::new_session(&app.admin.user_id, other_tokens.lifetime());
    users_api::db::sessions::insert(&app.state.db, &session)
        .await
        .unwrap();
    let token = other_tokens.issue(&session, &app.admin.org_id).unwrap();
    assert_eq!(me_status(&app, &token).await, 200);

    assert!(
        signing_keys::retire(&app.state.db, &other_kid)
            .await
            .unwrap()
    );
    assert!(
        !signing_keys::retire(&app.state.db, &other_kid)
            .await
            .unwrap(),
        "once"
    );
    // This instance's next read of the registry (every 30 s) forgets it, verified tokens too.
    app.state.tokens.refresh(&app.state.db).await.unwrap();
    assert_eq!(me_status(&app, &token).await, 401);
    assert!(!published_kids(&app.address).await.contains(&other_kid));
    // The instance holding it learns it cannot publish it again (the server refuses to start).
    assert_eq!(
        other_tokens.publish(&app.state.db).await.unwrap(),
        Publication::Retired
    );
    drop(other);
}

#[tokio::test]
async fn an_instance_with_another_secrets_key_refuses_to_start_unless_it_rotates_from_the_fleets() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let fleet_key = &app.secrets_key_file;
    let fleet_id = SecretKey::load(fleet_key).unwrap().id().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("secrets-key");

    // Started in another directory, it would generate a key of its own: refused, naming both.
    let refused = reseal::open_keys(db, &other, None).await.err().unwrap();
    let other_id = SecretKey::load(&other).unwrap().id().to_owned();
    assert_ne!(other_id, fleet_id);
    let message = format!("{refused:#}");
    assert!(
        message.contains(&fleet_id) && message.contains(&other_id),
        "{message}"
    );
    // The fleet's own key still starts.
    assert!(reseal::open_keys(db, fleet_key, None).await.is_ok());

    // A rotation: the new key as current, the fleet's as previous, moves the fleet to the new
    // key; from then on the old key alone is refused, and the new one alone starts.
    assert!(reseal::open_keys(db, &other, Some(fleet_key)).await.is_ok());
    let refused = reseal::open_keys(db, fleet_key, None).await.err().unwrap();
    assert!(format!("{refused:#}").contains(&other_id), "{refused:#}");
    assert!(reseal::open_keys(db, &other, None).await.is_ok());
}
