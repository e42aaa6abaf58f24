//! What redeeming each type of ticket does (issue 17): verify an address, reset a password
//! (revoking sessions, with and without 2FA), change an address, accept an invitation end to
//! end; the events each records, never holding the token.

use users_api::{
    db::events,
    domain::{EventType, OrgId},
};
use users_api_client::{
    Patch, UserPatch,
    types::{Role, TicketCreate, TicketType, UserCreate},
};

use crate::{
    fixtures::{code, create_user, key_client, me_status, session_token, sign_in},
    helpers::spawn_app,
    tickets::{ask, issue, redeem, redeemed},
};

const NEW_PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn verify_email_marks_the_address_verified_while_it_is_still_the_users() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let token = issue(&app, &user, ask(TicketType::VerifyEmail)).await;
    assert!(redeemed(&app, &token, None).await.session.is_none());
    let stored = key_client(&app)
        .get_user()
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    assert!(stored.into_inner().data.primary_email_verified);
    // Issued for one address, it does not verify another.
    let token = issue(&app, &user, ask(TicketType::VerifyEmail)).await;
    let change = UserPatch {
        primary_email: Patch::Value("ada2@acme.test".parse().unwrap()),
        ..Default::default()
    };
    key_client(&app)
        .patch_user()
        .user_id(user.id)
        .body(change)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(redeem(&app, &token, None, None).await),
        (410, "TICKET_EXPIRED".into())
    );
    let stored = key_client(&app)
        .get_user()
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    assert!(!stored.into_inner().data.primary_email_verified);
}

#[tokio::test]
async fn reset_password_sets_it_revokes_every_session_and_signs_in_without_2fa() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let old_session = session_token(&app, &user).await;
    let token = issue(&app, &user, ask(TicketType::ResetPassword)).await;
    let done = redeemed(&app, &token, Some(NEW_PASSWORD)).await;
    assert_eq!(me_status(&app, &old_session).await, 401);
    let session = done.session.expect("a session when 2FA is off");
    assert_eq!(me_status(&app, &session.token).await, 200);
    let org = OrgId::from(user.org_id);
    assert!(
        sign_in(&app, &org, "ada@acme.test", NEW_PASSWORD, None)
            .await
            .is_ok()
    );

    // With 2FA on, no session: the user signs in with the password and a code.
    let secret = b"ticket totp secret!!";
    let totp = UserPatch {
        totp_secret_base64: Patch::Value(base64_of(secret)),
        ..Default::default()
    };
    key_client(&app)
        .patch_user()
        .user_id(user.id)
        .body(totp)
        .send()
        .await
        .unwrap();
    let token = issue(&app, &user, ask(TicketType::ResetPassword)).await;
    let done = redeemed(&app, &token, Some("another horse battery staple")).await;
    assert!(done.session.is_none());
    assert_eq!(me_status(&app, &session.token).await, 401);
    let reply = sign_in(
        &app,
        &org,
        "ada@acme.test",
        "another horse battery staple",
        None,
    )
    .await;
    assert_eq!(code(reply).0, 401);
}

#[tokio::test]
async fn reset_password_clears_the_accounts_sign_in_limit() {
    let app = crate::helpers::spawn_app_with_limits(2, 100).await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let org = OrgId::from(user.org_id);
    for _ in 0..2 {
        let _ = sign_in(&app, &org, "ada@acme.test", "a wrong guess", None).await;
    }
    let reply = sign_in(&app, &org, "ada@acme.test", "a wrong guess", None).await;
    assert_eq!(code(reply).0, 429);
    let token = issue(&app, &user, ask(TicketType::ResetPassword)).await;
    redeemed(&app, &token, Some(NEW_PASSWORD)).await;
    assert!(
        sign_in(&app, &org, "ada@acme.test", NEW_PASSWORD, None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn change_email_moves_to_the_address_verified_unless_someone_took_it() {
    let app = spawn_app().await;
    let user = create_user(&app, "ada@acme.test", Role::Member).await;
    let to = |email: &str| TicketCreate {
        email: Some(email.into()),
        ..ask(TicketType::ChangeEmail)
    };
    let token = issue(&app, &user, to("lovelace@acme.test")).await;
    redeemed(&app, &token, None).await;
    let stored = key_client(&app)
        .get_user()
        .user_id(user.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(stored.primary_email.as_deref(), Some("lovelace@acme.test"));
    assert!(stored.primary_email_verified);

    let token = issue(&app, &user, to("countess@acme.test")).await;
    create_user(&app, "countess@acme.test", Role::Member).await;
    assert_eq!(
        code(redeem(&app, &token, None, None).await),
        (409, "EMAIL_TAKEN".into())
    );
    // Not consumed: once the address is free again, the same ticket works.
    let other = key_client(&app)
        .list_users()
        .email("countess@acme.test")
        .send()
        .await
        .unwrap();
    let other = other.into_inner().data.remove(0);
    key_client(&app)
        .delete_user()
        .user_id(other.id)
        .send()
        .await
        .unwrap();
    assert!(redeem(&app, &token, None, None).await.is_ok());
}

#[tokio::test]
async fn an_invited_user_cannot_sign_in_until_they_redeem_their_invitation() {
    let app = spawn_app().await;
    let body = UserCreate {
        primary_email: Some("grace@acme.test".parse().unwrap()),
        invite: Some(true),
        ..Default::default()
    };
    let user = key_client(&app)
        .create_user()
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let user = user.into_inner().data;
    assert_eq!(user.status.to_string(), "invited");
    assert!(!user.has_password);
    let org = OrgId::from(user.org_id);
    // An invited user's session (however made) is refused, as is a sign-in.
    let early = session_token(&app, &user).await;
    assert_eq!(me_status(&app, &early).await, 401);
    let reply = sign_in(&app, &org, "grace@acme.test", NEW_PASSWORD, None).await;
    assert_eq!(code(reply), (401, "UNAUTHORIZED".into()));
    // Other tickets wait for the invitation.
    let reply = key_client(&app)
        .create_user_ticket()
        .user_id(user.id)
        .body(ask(TicketType::ResetPassword))
        .send()
        .await;
    assert_eq!(code(reply), (409, "TICKET_NOT_APPLICABLE".into()));

    let token = issue(&app, &user, ask(TicketType::Invite)).await;
    assert_eq!(code(redeem(&app, &token, None, None).await).0, 422);
    let done = redeemed(&app, &token, Some(NEW_PASSWORD)).await;
    assert_eq!(done.type_, TicketType::Invite);
    assert_eq!(me_status(&app, &done.session.unwrap().token).await, 200);
    assert!(
        sign_in(&app, &org, "grace@acme.test", NEW_PASSWORD, None)
            .await
            .is_ok()
    );
    let stored = key_client(&app)
        .get_user()
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.into_inner().data.status.to_string(), "active");

    // `invited` comes only from `invite: true`, never with a password or through PATCH.
    let with_password = UserCreate {
        primary_email: Some("alan@acme.test".parse().unwrap()),
        password: Some(NEW_PASSWORD.into()),
        ..body
    };
    let reply = key_client(&app)
        .create_user()
        .body(with_password)
        .send()
        .await;
    assert_eq!(code(reply), (422, "INVITE_CONFLICT".into()));
    let raw = app
        .http()
        .patch(app.url(&format!("/v1/users/{}", user.id)))
        .bearer_auth(&app.admin.api_key)
        .json(&serde_json::json!({"status": "invited"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400, "outside the body's enum of statuses");
}

#[tokio::test]
async fn redemptions_record_their_events_as_the_user_and_never_the_token() {
    let app = spawn_app().await;
    let invite = UserCreate {
        primary_email: Some("grace@acme.test".parse().unwrap()),
        invite: Some(true),
        ..Default::default()
    };
    let user = key_client(&app)
        .create_user()
        .body(invite)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let mut tokens = vec![issue(&app, &user, ask(TicketType::Invite)).await];
    redeemed(&app, &tokens[0], Some(NEW_PASSWORD)).await;
    for kind in [TicketType::VerifyEmail, TicketType::ResetPassword] {
        let token = issue(&app, &user, ask(kind)).await;
        redeemed(
            &app,
            &token,
            kind.eq(&TicketType::ResetPassword)
                .then_some("reset horse battery staple"),
        )
        .await;
        tokens.push(token);
    }
    let change = TicketCreate {
        email: Some("hopper@acme.test".into()),
        ..ask(TicketType::ChangeEmail)
    };
    tokens.push(issue(&app, &user, change).await);
    redeemed(&app, &tokens[3], None).await;

    let org = OrgId::from(user.org_id);
    let all = events::list(&app.state.db, &org, 0, 1000, &[])
        .await
        .unwrap();
    let kinds: Vec<EventType> = all.iter().map(|e| e.kind).collect();
    for kind in [
        EventType::UserInvited,
        EventType::UserEmailVerified,
        EventType::UserPasswordReset,
        EventType::UserEmailChanged,
    ] {
        assert_eq!(
            kinds.iter().filter(|k| **k == kind).count(),
            1,
            "{kind:?}: {kinds:?}"
        );
    }
    let user_id = user.id.to_string();
    for event in all.iter().filter(|e| {
        matches!(
            e.kind,
            EventType::UserEmailVerified
                | EventType::UserPasswordReset
                | EventType::UserEmailChanged
        )
    }) {
        assert_eq!(
            (event.actor_type.as_str(), event.actor_id.as_deref()),
            ("user", Some(user_id.as_str()))
        );
    }
    for event in &all {
        for token in &tokens {
            assert!(
                !event.data.contains(&token[4..]),
                "{:?} holds a token",
                event.kind
            );
        }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
