//! `GET`/`PATCH /v1/me` through the generated client: PRODUCT §3 (the user's fields and their
//! rules). The PATCH semantics of §4 are `me_patch`'s.

use reqwest::Method;
use serde_json::Value;
use users_api_client::{
    Error, MePatch, Patch, ResponseValue,
    types::{ErrorEnvelope, Me, MeEnvelope, Role, UserStatus},
};

use crate::{
    envelope::call,
    helpers::{TestApp, spawn_app},
};

pub(crate) type Reply = Result<ResponseValue<MeEnvelope>, Error<ErrorEnvelope>>;

/// The status and error body of a failed call; panics on success or an undeclared status.
pub(crate) fn failure(reply: Reply) -> (u16, ErrorEnvelope) {
    match reply {
        Err(Error::ErrorResponse(response)) => (response.status().as_u16(), response.into_inner()),
        Err(other) => panic!("expected a declared error response, got {other:?}"),
        Ok(ok) => panic!("expected an error, got {:?}", ok.into_inner()),
    }
}

pub(crate) fn success(reply: Reply) -> (String, Me) {
    let response = reply.expect("a successful response");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let envelope = response.into_inner();
    assert!(envelope.success);
    (etag, envelope.data)
}

pub(crate) async fn get_me(app: &TestApp) -> (String, Me) {
    success(app.client().get_me().send().await)
}

pub(crate) async fn patch(app: &TestApp, body: MePatch) -> Reply {
    app.client().patch_me().body(body).send().await
}

/// A PATCH with a raw JSON body, for what the typed client cannot send.
pub(crate) async fn patch_raw(app: &TestApp, body: Value) -> (reqwest::StatusCode, Value) {
    let request = app.http().request(Method::PATCH, app.url("/v1/me"));
    let (status, _, body) = call(request.bearer_auth(&app.admin.session_token).json(&body)).await;
    (status, body)
}

#[tokio::test]
async fn get_me_returns_the_user_with_org_scopes_and_session() {
    let app = spawn_app().await;
    let (etag, me) = get_me(&app).await;
    assert_eq!(me.id, app.admin.user_id.into_uuid());
    assert_eq!(me.org_id, app.admin.org_id.into_uuid());
    assert_eq!(me.org.id, me.org_id);
    assert_eq!(me.org.name, "Acme");
    assert_eq!(me.role, Role::Admin);
    assert_eq!(me.status, UserStatus::Active);
    assert_eq!(me.primary_email.as_deref(), Some("admin@acme.test"));
    assert_eq!(
        me.scopes,
        [
            "users:read",
            "users:write",
            "teams:read",
            "teams:write",
            "events:read",
            "webhooks:write"
        ]
    );
    assert_eq!(me.active_sessions, 1);
    assert!(me.teams.is_empty());
    assert!(me.session.expires_at > me.session.created_at);
    assert!(me.has_password, "the bootstrap admin has a password");
    assert!(!me.otp_auth_enabled);
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
}

#[tokio::test]
async fn the_me_payload_never_shows_server_metadata_or_secrets() {
    let app = spawn_app().await;
    let (_, _, body) = call(
        app.http()
            .get(app.url("/v1/me"))
            .bearer_auth(&app.admin.session_token),
    )
    .await;
    let data = body["data"].as_object().unwrap();
    for hidden in [
        "server_metadata",
        "password_hash",
        "totp_secret",
        "password",
        "primary_email_key",
        "version",
    ] {
        assert!(!data.contains_key(hidden), "{hidden} leaked: {body}");
    }
}

#[tokio::test]
async fn an_api_key_on_me_is_a_403_because_api_keys_are_not_user_scoped() {
    let app = spawn_app().await;
    let client = app.client_with(&app.admin.api_key);
    let (status, error) = failure(client.get_me().send().await);
    assert_eq!(status, 403);
    assert_eq!(error.error.code, "FORBIDDEN");
    assert_eq!(error.error.message, "api keys are not user-scoped");
    let (status, _) = failure(client.patch_me().body(MePatch::default()).send().await);
    assert_eq!(status, 403);
}

#[tokio::test]
async fn patch_me_sets_a_timezone_in_canonical_spelling_and_null_clears_it() {
    let app = spawn_app().await;
    let (_, me) = success(
        patch(
            &app,
            MePatch {
                timezone: Patch::Value("america/new_york".into()),
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(me.timezone.as_deref(), Some("America/New_York"));
    assert_eq!(
        get_me(&app).await.1.timezone.as_deref(),
        Some("America/New_York")
    );

    let (_, me) = success(
        patch(
            &app,
            MePatch {
                timezone: Patch::Null,
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(me.timezone, None);
    assert_eq!(get_me(&app).await.1.timezone, None);
}

#[tokio::test]
async fn patch_me_returns_422_invalid_timezone_for_an_unknown_or_pseudo_zone() {
    let app = spawn_app().await;
    for zone in [
        "Mars/Olympus_Mons",
        "posixrules",
        "localtime",
        "Factory",
        "",
    ] {
        let (status, error) = failure(
            patch(
                &app,
                MePatch {
                    timezone: Patch::Value(zone.into()),
                    ..Default::default()
                },
            )
            .await,
        );
        assert_eq!(status, 422, "{zone}");
        assert_eq!(error.error.code, "INVALID_TIMEZONE", "{zone}");
        assert_eq!(error.error.details["timezone"], "unknown IANA timezone");
        assert_eq!(error.error.errors.len(), 1);
        assert_eq!(error.error.errors[0].field, "timezone");
    }
}

#[tokio::test]
async fn patch_me_stores_every_profile_field_in_canonical_form() {
    let app = spawn_app().await;
    let body = MePatch {
        display_name: Patch::Value("  Ada Lovelace  ".into()),
        first_name: Patch::Value("Jean-Luc".into()),
        last_name: Patch::Value("O'Brien".into()),
        bio: Patch::Value("Counts things.\nLikes engines.".into()),
        profile_image_url: Patch::Value("https://example.com/ada.png".into()),
        locale: Patch::Value("en-us".into()),
        phone_number: Patch::Value("+1 415 555 2671".into()),
        ..Default::default()
    };
    let (_, me) = success(patch(&app, body).await);
    assert_eq!(me.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(me.first_name.as_deref(), Some("Jean-Luc"));
    assert_eq!(me.last_name.as_deref(), Some("O'Brien"));
    assert_eq!(me.full_name.as_deref(), Some("Jean-Luc O'Brien"));
    assert_eq!(me.bio.as_deref(), Some("Counts things.\nLikes engines."));
    assert_eq!(
        me.profile_image_url.as_deref(),
        Some("https://example.com/ada.png")
    );
    assert_eq!(me.locale.as_deref(), Some("en-US"));
    assert_eq!(me.phone_number.as_deref(), Some("+14155552671"));
    assert!(!me.phone_number_verified);
    let (_, again) = get_me(&app).await;
    assert_eq!(again.full_name, me.full_name);
    assert_eq!(again.locale, me.locale);
}

#[tokio::test]
async fn a_small_png_data_url_is_accepted_and_svg_or_javascript_refused() {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let app = spawn_app().await;
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend_from_slice(&[0u8; 64]);
    let url = format!("data:image/png;base64,{}", STANDARD.encode(&png));
    let (_, me) = success(
        patch(
            &app,
            MePatch {
                profile_image_url: Patch::Value(url.clone()),
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(me.profile_image_url.as_deref(), Some(url.as_str()));
    for bad in [
        "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=".to_owned(),
        "javascript:alert(1)".to_owned(),
        format!("data:image/gif;base64,{}", STANDARD.encode(&png)),
    ] {
        let (status, error) = failure(
            patch(
                &app,
                MePatch {
                    profile_image_url: Patch::Value(bad.clone()),
                    ..Default::default()
                },
            )
            .await,
        );
        assert_eq!(
            (status, error.error.code.as_str()),
            (422, "INVALID_IMAGE"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once_and_nothing_is_written() {
    let app = spawn_app().await;
    let (etag_before, before) = get_me(&app).await;
    let body = MePatch {
        display_name: Patch::Value("Valid Name".into()),
        first_name: Patch::Value("J0hn".into()),
        locale: Patch::Value("en_US".into()),
        timezone: Patch::Value("Nowhere/Land".into()),
        phone_number: Patch::Value("12345".into()),
        ..Default::default()
    };
    let (status, error) = failure(patch(&app, body).await);
    assert_eq!(status, 422);
    assert_eq!(error.error.code, "VALIDATION_FAILED");
    let mut fields: Vec<&str> = error
        .error
        .errors
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    fields.sort();
    assert_eq!(fields, ["first_name", "locale", "phone_number", "timezone"]);
    let codes: Vec<&str> = error.error.errors.iter().map(|e| e.code.as_str()).collect();
    for code in [
        "INVALID_NAME",
        "INVALID_LOCALE",
        "INVALID_TIMEZONE",
        "INVALID_PHONE_NUMBER",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    let (etag_after, after) = get_me(&app).await;
    assert_eq!(
        after.display_name, before.display_name,
        "the valid field was not written either"
    );
    assert_eq!(
        (etag_after, after.updated_at),
        (etag_before, before.updated_at)
    );
}
