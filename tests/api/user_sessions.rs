//! `/v1/users/{id}/sessions`: an administrator lists a user's live sessions a page at a time,
//! revokes one or all of them, and needs every scope to do so to an admin.

use serde_json::Value;
use users_api_client::types::{EventType, Role};

use crate::{
    fixtures::{admin_sign_in, code, create_user, key_with, me_status, session_token},
    helpers::{TestApp, spawn_app},
};

/// A member with three live sessions: the member's id and the tokens.
async fn member_with_sessions(app: &TestApp) -> (uuid::Uuid, Vec<String>) {
    let member = create_user(app, "mo@acme.test", Role::Member).await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(session_token(app, &member).await);
    }
    (member.id, tokens)
}

/// The `session.revoked` events of the organization, as JSON.
async fn revocations(app: &TestApp) -> Vec<Value> {
    let client = app.client();
    let feed = client.list_events().type_(vec![EventType::SessionRevoked]);
    let feed = feed.send().await.unwrap().into_inner().data;
    feed.iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[tokio::test]
async fn an_admin_pages_through_a_users_live_sessions_oldest_first() {
    let app = spawn_app().await;
    let (member, tokens) = member_with_sessions(&app).await;
    let ended = &tokens[0];
    app.client_with(ended).sign_out().send().await.unwrap();

    let reader = key_with(&app, &["users:read"]).await;
    let first = reader.list_user_sessions().user_id(member).limit(1);
    let first = first.send().await.unwrap().into_inner();
    assert_eq!(first.data.len(), 1);
    let cursor = first.meta.next_cursor.clone().expect("a second page");
    let rest = reader.list_user_sessions().user_id(member).cursor(cursor);
    let rest = rest.send().await.unwrap().into_inner();
    assert_eq!(rest.data.len(), 1, "the signed-out session is not listed");
    assert!(rest.meta.next_cursor.is_none());
    assert!(first.data[0].id < rest.data[0].id, "oldest first");
    assert!(first.data.iter().chain(&rest.data).all(|s| !s.current));

    // The admin's own listing marks the session making the request.
    let token = admin_sign_in(&app).await;
    let admin = app.client_with(&token);
    let own = admin
        .list_user_sessions()
        .user_id(app.admin.user_id.into_uuid());
    let own = own.send().await.unwrap().into_inner().data;
    assert_eq!(own.iter().filter(|s| s.current).count(), 1, "{own:?}");

    let no_scope = key_with(&app, &["teams:read"]).await;
    let refused = no_scope.list_user_sessions().user_id(member).send().await;
    assert_eq!(code(refused), (403, "INSUFFICIENT_SCOPE".into()));
    let unknown = reader.list_user_sessions().user_id(uuid::Uuid::now_v7());
    assert_eq!(code(unknown.send().await), (404, "NOT_FOUND".into()));
    let bad = reader.list_user_sessions().user_id(member).cursor("bogus");
    assert_eq!(code(bad.send().await), (422, "INVALID_CURSOR".into()));
}

#[tokio::test]
async fn revoking_one_session_ends_only_it_with_the_administrator_as_actor() {
    let app = spawn_app().await;
    let (member, tokens) = member_with_sessions(&app).await;
    let writer = key_with(&app, &["users:write"]).await;
    let reader = key_with(&app, &["users:read"]).await;
    let listed = reader.list_user_sessions().user_id(member).send().await;
    let target = listed.unwrap().into_inner().data[0].id;

    let revoke = writer
        .revoke_user_session()
        .user_id(member)
        .session_id(target);
    revoke.send().await.unwrap();
    let statuses = [
        me_status(&app, &tokens[0]).await,
        me_status(&app, &tokens[1]).await,
        me_status(&app, &tokens[2]).await,
    ];
    assert_eq!(
        statuses,
        [401, 200, 200],
        "the oldest session ended, no other"
    );
    let again = writer
        .revoke_user_session()
        .user_id(member)
        .session_id(target);
    assert_eq!(code(again.send().await), (404, "NOT_FOUND".into()));
    // A session is revoked only through its own user.
    let other = create_user(&app, "al@acme.test", Role::Member).await;
    let listed = reader.list_user_sessions().user_id(member).send().await;
    let live = listed.unwrap().into_inner().data[0].id;
    let wrong = writer
        .revoke_user_session()
        .user_id(other.id)
        .session_id(live);
    assert_eq!(code(wrong.send().await), (404, "NOT_FOUND".into()));
    let read_only = reader
        .revoke_user_session()
        .user_id(member)
        .session_id(live);
    assert_eq!(
        code(read_only.send().await),
        (403, "INSUFFICIENT_SCOPE".into())
    );

    let events = revocations(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["object"]["id"], target.to_string());
    assert_eq!(events[0]["data"]["object"]["user_id"], member.to_string());
    assert_eq!(events[0]["actor"]["type"], "api_key");
}

#[tokio::test]
async fn revoking_all_sessions_signs_the_user_out_everywhere_and_says_how_many() {
    let app = spawn_app().await;
    let (member, tokens) = member_with_sessions(&app).await;
    let writer = key_with(&app, &["users:write"]).await;
    let all = writer.revoke_user_sessions().user_id(member).send().await;
    assert_eq!(all.unwrap().into_inner().data.revoked, 3);
    for token in &tokens {
        assert_eq!(me_status(&app, token).await, 401);
    }
    let none = writer.revoke_user_sessions().user_id(member).send().await;
    assert_eq!(none.unwrap().into_inner().data.revoked, 0);
    assert_eq!(revocations(&app).await.len(), 3, "one event per session");
    let unknown = writer.revoke_user_sessions().user_id(uuid::Uuid::now_v7());
    assert_eq!(code(unknown.send().await), (404, "NOT_FOUND".into()));
}

#[tokio::test]
async fn an_admins_sessions_need_every_scope_to_revoke() {
    let app = spawn_app().await;
    let other_admin = create_user(&app, "root@acme.test", Role::Admin).await;
    let token = session_token(&app, &other_admin).await;
    let writer = key_with(&app, &["users:read", "users:write"]).await;
    let refused = writer
        .revoke_user_sessions()
        .user_id(other_admin.id)
        .send()
        .await;
    let (status, body) = crate::fixtures::failure(refused);
    assert_eq!(
        (status, body.error.code.to_string()),
        (403, "INSUFFICIENT_SCOPE".into())
    );
    assert!(
        body.error.message.contains("every scope"),
        "{}",
        body.error.message
    );
    assert_eq!(me_status(&app, &token).await, 200, "nothing ended");

    let all = app
        .client()
        .revoke_user_sessions()
        .user_id(other_admin.id)
        .send()
        .await;
    assert_eq!(all.unwrap().into_inner().data.revoked, 1);
    assert_eq!(me_status(&app, &token).await, 401);
    let events = revocations(&app).await;
    assert_eq!(events[0]["actor"]["type"], "user");
    assert_eq!(events[0]["actor"]["id"], app.admin.user_id.to_string());
}
