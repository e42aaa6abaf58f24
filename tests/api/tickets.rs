//! One-time tickets (issue 17), issuing and the states of a ticket: used, expired,
//! superseded, raced, of the wrong type; the redirect-origin allow-list, the admin-target scope
//! rule, tenant isolation and bad input. Effects are in `tickets_redeem`.

use users_api_client::types::{RedeemedTicket, Role, TicketCreate, TicketRedeem, TicketType, User};

use crate::{
    fixtures::{Reply, code, create_user, failure, key_client, key_with, person},
    helpers::{TestApp, TestOptions, spawn_app, spawn_app_with},
};

pub fn ask(kind: TicketType) -> TicketCreate {
    TicketCreate {
        type_: kind,
        ttl_seconds: None,
        redirect_url: None,
        email: None,
    }
}

/// Issues `body` for `user` with the bootstrap API key (every scope); returns the token.
pub async fn issue(app: &TestApp, user: &User, body: TicketCreate) -> String {
    key_client(app)
        .create_user_ticket()
        .user_id(user.id)
        .body(body)
        .send()
        .await
        .expect("ticket issued")
        .into_inner()
        .data
        .token
}

pub async fn redeem(
    app: &TestApp,
    token: &str,
    password: Option<&str>,
    expected: Option<TicketType>,
) -> Reply<users_api_client::types::RedeemedTicketEnvelope> {
    let body = TicketRedeem {
        token: token.to_owned(),
        password: password.map(str::to_owned),
        type_: expected,
    };
    app.anonymous().redeem_ticket().body(body).send().await
}

pub async fn redeemed(app: &TestApp, token: &str, password: Option<&str>) -> RedeemedTicket {
    redeem(app, token, password, None)
        .await
        .expect("redeemed")
        .into_inner()
        .data
}

#[tokio::test]
async fn a_ticket_is_a_prefixed_token_shown_once_and_works_once() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let issued = key_client(&app)
        .create_user_ticket()
        .user_id(user.id)
        .body(ask(TicketType::VerifyEmail))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status().as_u16(), 201);
    let issued = issued.into_inner().data;
    assert!(issued.token.starts_with("tkt_") && issued.token.len() == 47);
    assert_eq!(issued.type_, TicketType::VerifyEmail);
    assert!(issued.url.is_none());
    let hours = (issued.expires_at - chrono::Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "{hours} minutes");
    assert_eq!(
        redeemed(&app, &issued.token, None).await.type_,
        TicketType::VerifyEmail
    );
    let (status, body) = failure(redeem(&app, &issued.token, None, None).await);
    assert_eq!(
        (status, body.error.code.to_string().as_str()),
        (410, "TICKET_USED")
    );
    let unknown = format!("tkt_{}", "A".repeat(43));
    assert_eq!(
        code(redeem(&app, &unknown, None, None).await),
        (404, "NOT_FOUND".into())
    );
}

#[tokio::test]
async fn an_expired_ticket_answers_410_and_a_superseded_one_says_so() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let first = issue(&app, &user, ask(TicketType::VerifyEmail)).await;
    let second = issue(&app, &user, ask(TicketType::VerifyEmail)).await;
    let (status, body) = failure(redeem(&app, &first, None, None).await);
    assert_eq!(
        (status, body.error.code.to_string().as_str()),
        (410, "TICKET_EXPIRED")
    );
    assert!(
        body.error.details["token"]
            .to_string()
            .contains("superseded")
    );
    // A ticket of another type does not supersede it.
    issue(&app, &user, ask(TicketType::ResetPassword)).await;
    // The API cannot issue a ticket that is already expired (60 s at least): age it here.
    app.state
        .db
        .execute_script("UPDATE tickets SET expires_at = created_at WHERE used_at IS NULL")
        .await
        .unwrap();
    let (status, body) = failure(redeem(&app, &second, None, None).await);
    assert_eq!(
        (status, body.error.code.to_string().as_str()),
        (410, "TICKET_EXPIRED")
    );
    assert!(body.error.details["token"].to_string().contains("expired"));
}

#[tokio::test]
async fn of_two_concurrent_redemptions_exactly_one_succeeds() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    for round in 0..5 {
        let token = issue(&app, &user, ask(TicketType::ResetPassword)).await;
        let password = format!("correct horse battery staple {round}");
        let (a, b) = tokio::join!(
            redeem(&app, &token, Some(&password), None),
            redeem(&app, &token, Some(&password), None)
        );
        let outcomes = [a, b].map(|reply| match reply {
            Ok(_) => "redeemed".to_owned(),
            failed => code(failed).1,
        });
        let mut sorted = outcomes.clone();
        sorted.sort();
        assert_eq!(sorted, ["TICKET_USED", "redeemed"], "round {round}");
    }
}

#[tokio::test]
async fn a_ticket_of_another_type_than_expected_is_refused_and_stays_redeemable() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let token = issue(&app, &user, ask(TicketType::VerifyEmail)).await;
    let reply = redeem(&app, &token, None, Some(TicketType::ResetPassword)).await;
    assert_eq!(code(reply), (422, "TICKET_TYPE_MISMATCH".into()));
    let reply = redeem(&app, &token, None, Some(TicketType::VerifyEmail)).await;
    assert_eq!(
        reply.unwrap().into_inner().data.type_,
        TicketType::VerifyEmail
    );
}

#[tokio::test]
async fn a_redirect_url_must_have_an_allowed_origin_and_gets_the_token_in_its_query() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let with_redirect = |url: &str| TicketCreate {
        redirect_url: Some(url.into()),
        ..ask(TicketType::VerifyEmail)
    };
    let send = |app: &TestApp, user: &User, body: TicketCreate| {
        let (client, user_id) = (key_client(app), user.id);
        async move {
            client
                .create_user_ticket()
                .user_id(user_id)
                .body(body)
                .send()
                .await
        }
    };
    // None configured: every redirect is refused.
    let reply = send(&app, &user, with_redirect("https://app.acme.test/verify")).await;
    assert_eq!(code(reply), (422, "REDIRECT_NOT_ALLOWED".into()));

    let app = spawn_app_with(TestOptions {
        redirect_origins: vec!["https://app.acme.test".into()],
        ..TestOptions::default()
    })
    .await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let issued = send(
        &app,
        &user,
        with_redirect("https://app.acme.test/verify?lang=en#top"),
    )
    .await
    .unwrap()
    .into_inner()
    .data;
    let url = url::Url::parse(issued.url.as_deref().unwrap()).unwrap();
    assert_eq!(url.path(), "/verify");
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        [("lang".into(), "en".into()), ("token".into(), issued.token)]
    );
    for refused in [
        "https://evil.test/verify",
        "http://app.acme.test/verify",
        "https://app.acme.test:8443/verify",
        "https://app.acme.test.evil.test/",
    ] {
        let (status, body) = failure(send(&app, &user, with_redirect(refused)).await);
        assert_eq!(
            (status, body.error.code.to_string()),
            (422, "REDIRECT_NOT_ALLOWED".into())
        );
    }
    let reply = send(&app, &user, with_redirect("javascript:alert(1)")).await;
    assert_eq!(code(reply), (422, "REDIRECT_NOT_ALLOWED".into()));
}

#[tokio::test]
async fn a_ticket_for_an_admin_needs_every_scope_and_another_org_is_404() {
    let app = spawn_app().await;
    let admin = create_user(&app, "root@acme.test", Role::Admin).await;
    let member = create_user(&app, "ada@acme.test", Role::Member).await;
    let writer = key_with(&app, &["users:read", "users:write"]).await;
    let for_user = |user: &User| {
        let writer = writer.clone();
        let user_id = user.id;
        async move {
            writer
                .create_user_ticket()
                .user_id(user_id)
                .body(ask(TicketType::ResetPassword))
                .send()
                .await
        }
    };
    assert_eq!(
        code(for_user(&admin).await),
        (403, "INSUFFICIENT_SCOPE".into())
    );
    assert!(for_user(&member).await.is_ok());
    let reader = key_with(&app, &["users:read"]).await;
    let reply = reader
        .create_user_ticket()
        .user_id(member.id)
        .body(ask(TicketType::VerifyEmail))
        .send()
        .await;
    assert_eq!(code(reply), (403, "INSUFFICIENT_SCOPE".into()));
    // An admin's session holds every scope.
    assert!(
        app.client()
            .create_user_ticket()
            .user_id(admin.id)
            .body(ask(TicketType::ResetPassword))
            .send()
            .await
            .is_ok()
    );
    // A member's own session holds none.
    let (_, member_client) = person(&app, "bob@acme.test", Role::Member).await;
    let reply = member_client
        .create_user_ticket()
        .user_id(member.id)
        .body(ask(TicketType::VerifyEmail))
        .send()
        .await;
    assert_eq!(code(reply), (403, "INSUFFICIENT_SCOPE".into()));

    let other = app.create_org("Globex", "admin@globex.test").await;
    let outsider = app.client_with(&other.api_key);
    let reply = outsider
        .create_user_ticket()
        .user_id(member.id)
        .body(ask(TicketType::VerifyEmail))
        .send()
        .await;
    assert_eq!(code(reply), (404, "NOT_FOUND".into()));
}

#[tokio::test]
async fn bad_ticket_requests_are_refused_in_the_envelope() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let send = |body: TicketCreate| {
        let client = key_client(&app);
        async move {
            client
                .create_user_ticket()
                .user_id(user.id)
                .body(body)
                .send()
                .await
        }
    };
    for (ttl, refused) in [
        (0, (400, "MALFORMED_REQUEST")),
        (59, (400, "MALFORMED_REQUEST")),
        (2_592_001, (400, "MALFORMED_REQUEST")),
        (86_401, (422, "INVALID_TICKET_REQUEST")),
    ] {
        let body = TicketCreate {
            ttl_seconds: Some(ttl),
            ..ask(TicketType::ResetPassword)
        };
        let refused = (refused.0, refused.1.to_string());
        assert_eq!(code(send(body).await), refused, "{ttl}");
    }
    let body = TicketCreate {
        ttl_seconds: Some(30 * 86_400),
        ..ask(TicketType::VerifyEmail)
    };
    assert_eq!(
        code(send(body).await),
        (422, "INVALID_TICKET_REQUEST".into())
    );
    // `email` only, and always, with change_email.
    assert_eq!(
        code(send(ask(TicketType::ChangeEmail)).await),
        (422, "INVALID_TICKET_REQUEST".into())
    );
    let body = TicketCreate {
        email: Some("new@acme.test".into()),
        ..ask(TicketType::VerifyEmail)
    };
    assert_eq!(
        code(send(body).await),
        (422, "INVALID_TICKET_REQUEST".into())
    );
    let body = TicketCreate {
        email: Some("not an address".into()),
        ..ask(TicketType::ChangeEmail)
    };
    assert_eq!(code(send(body).await), (422, "INVALID_EMAIL".into()));
    let body = TicketCreate {
        email: Some("ADMIN@acme.test".into()),
        ..ask(TicketType::ChangeEmail)
    };
    assert_eq!(code(send(body).await), (409, "EMAIL_TAKEN".into()));
    // Only invited users get an invitation.
    assert_eq!(
        code(send(ask(TicketType::Invite)).await),
        (409, "TICKET_NOT_APPLICABLE".into())
    );
    // Unknown type, unknown field: 400.
    let raw = app
        .http()
        .post(app.url(&format!("/v1/users/{}/tickets", user.id)))
        .bearer_auth(&app.admin.api_key)
        .json(&serde_json::json!({"type": "magic_link"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    // Redemption: a token that is not a ticket's shape, and passwords where they do not go.
    for token in [
        "",
        "tkt_short",
        "uak_abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq",
    ] {
        assert_eq!(
            code(redeem(&app, token, None, None).await),
            (400, "MALFORMED_REQUEST".into())
        );
    }
    let token = issue(&app, &user, ask(TicketType::VerifyEmail)).await;
    let reply = redeem(&app, &token, Some("correct horse battery staple"), None).await;
    assert_eq!(code(reply), (422, "INVALID_TICKET_REQUEST".into()));
    let reset = issue(&app, &user, ask(TicketType::ResetPassword)).await;
    assert_eq!(
        code(redeem(&app, &reset, None, None).await),
        (422, "INVALID_TICKET_REQUEST".into())
    );
    assert_eq!(
        code(redeem(&app, &reset, Some("password"), None).await),
        (422, "WEAK_PASSWORD".into())
    );
    // None of those consumed anything.
    assert!(redeem(&app, &token, None, None).await.is_ok());
    assert!(
        redeem(&app, &reset, Some("correct horse battery staple"), None)
            .await
            .is_ok()
    );
}
