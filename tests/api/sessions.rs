//! Sessions after sign-in: signing out, the user's list of live sessions (a page at a time),
//! revoking one, expiry, `last_active_at` at most once a minute, and rotation of the signing key.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use users_api::{
    auth::{SigningKeys, new_session},
    db::{Db, Pools, models::Session, schema::sessions, sessions as session_rows},
    domain::SessionId,
};

use crate::{
    fixtures::{admin_sign_in, code, failure, key_client, me_status},
    helpers::{TestApp, TestOptions, spawn_app, spawn_app_with},
};

async fn my_sessions(app: &TestApp, token: &str) -> Vec<users_api_client::types::SessionInfo> {
    app.client_with(token)
        .list_my_sessions()
        .send()
        .await
        .expect("listed")
        .into_inner()
        .data
}

/// Runs one diesel statement against either backend of the test database.
async fn session_row(db: &Db, id: &SessionId) -> Session {
    macro_rules! find {
        ($pool:expr) => {{
            let mut conn = $pool.get().await.unwrap();
            sessions::table
                .find(id)
                .select(Session::as_select())
                .get_result(&mut **conn)
                .await
                .unwrap()
        }};
    }
    match db.pools() {
        Pools::Postgres(pool) => find!(pool),
        Pools::Sqlite { read, .. } => find!(read),
    }
}

async fn backdate_activity(db: &Db, id: &SessionId, by: chrono::TimeDelta) {
    let at = users_api::db::now() - by;
    macro_rules! set {
        ($pool:expr) => {{
            let mut conn = $pool.get().await.unwrap();
            diesel::update(sessions::table.find(id))
                .set(sessions::last_active_at.eq(at))
                .execute(&mut **conn)
                .await
                .unwrap();
        }};
    }
    match db.pools() {
        Pools::Postgres(pool) => set!(pool),
        Pools::Sqlite { write, .. } => set!(write),
    }
}

#[tokio::test]
async fn signing_out_revokes_only_the_current_session() {
    let app = spawn_app().await;
    let token = admin_sign_in(&app).await;
    let reply = app.client_with(&token).sign_out().send().await.unwrap();
    assert_eq!(reply.status(), 204);
    assert_eq!(me_status(&app, &token).await, 401);
    let again = app.client_with(&token).sign_out().send().await;
    assert_eq!(code(again), (401, "UNAUTHORIZED".into()));
    assert_eq!(me_status(&app, &app.admin.session_token).await, 200);
    // Sessions belong to users: an API key has none.
    let reply = key_client(&app).sign_out().send().await;
    assert_eq!(code(reply), (403, "FORBIDDEN".into()));
}

#[tokio::test]
async fn my_sessions_lists_the_live_ones_newest_first_and_marks_the_current() {
    let app = spawn_app().await;
    let first = admin_sign_in(&app).await;
    let second = admin_sign_in(&app).await;
    let listed = my_sessions(&app, &first).await;
    assert_eq!(listed.len(), 3, "bootstrap session and two sign-ins");
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );
    let current: Vec<_> = listed.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    let me = app
        .client_with(&first)
        .get_me()
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(current[0].id, me.session.id);
    assert_eq!(me.active_sessions, 3);

    app.client_with(&second).sign_out().send().await.unwrap();
    assert_eq!(my_sessions(&app, &first).await.len(), 2);
    let me = app
        .client_with(&first)
        .get_me()
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(me.active_sessions, 2);
    let reply = key_client(&app).list_my_sessions().send().await;
    assert_eq!(code(reply), (403, "FORBIDDEN".into()));
}

/// Stores `count` more live sessions of the admin, and one expired one that no page lists.
async fn more_admin_sessions(app: &TestApp, count: usize) {
    for _ in 0..count {
        let session = new_session(&app.admin.user_id, Duration::from_secs(600));
        session_rows::insert(&app.state.db, &session).await.unwrap();
    }
    let mut expired = new_session(&app.admin.user_id, Duration::from_secs(600));
    expired.expires_at = users_api::db::now() - chrono::TimeDelta::seconds(1);
    session_rows::insert(&app.state.db, &expired).await.unwrap();
}

#[tokio::test]
async fn my_sessions_page_newest_first_listing_each_live_session_once() {
    let app = spawn_app().await;
    more_admin_sessions(&app, 6).await;
    let client = app.client_with(&app.admin.session_token);
    let whole = client.list_my_sessions().send().await.unwrap().into_inner();
    assert_eq!(whole.meta.limit, 50, "the default page size");
    assert!(whole.meta.next_cursor.is_none());
    assert_eq!(whole.data.len(), 7, "the bootstrap session and six more");

    let mut paged = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client.list_my_sessions().limit(3);
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.clone());
        }
        let page = request.send().await.unwrap().into_inner();
        assert_eq!(page.meta.limit, 3);
        sizes.push(page.data.len());
        paged.extend(page.data.iter().map(|s| s.id));
        match page.meta.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [3, 3, 1]);
    let listed: Vec<_> = whole.data.iter().map(|s| s.id).collect();
    assert_eq!(paged, listed, "the pages, joined, are the whole list");
    assert!(paged.windows(2).all(|w| w[0] > w[1]), "newest first");
}

#[tokio::test]
async fn my_sessions_refuse_a_cursor_they_did_not_issue_as_the_users_list_does() {
    let app = spawn_app().await;
    more_admin_sessions(&app, 2).await;
    let client = app.client_with(&app.admin.session_token);
    let page = client.list_my_sessions().limit(1).send().await.unwrap();
    let cursor = page.into_inner().meta.next_cursor.expect("a second page");
    let mut tampered = cursor.into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    for bad in [String::from_utf8(tampered).unwrap(), "garbage".into()] {
        let mine = failure(client.list_my_sessions().cursor(&bad).send().await);
        let users = failure(key_client(&app).list_users().cursor(&bad).send().await);
        assert_eq!((mine.0, &mine.1.error.code), (422, &users.1.error.code));
        assert_eq!(mine.1.error.code, "INVALID_CURSOR");
        assert!(mine.1.error.details.contains_key("cursor"));
    }
    for limit in [0, 101] {
        let reply = client.list_my_sessions().limit(limit).send().await;
        assert_eq!(code(reply), (400, "MALFORMED_REQUEST".into()), "{limit}");
    }
}

#[tokio::test]
async fn revoking_one_of_my_sessions_kills_its_token_and_no_one_elses() {
    let app = spawn_app().await;
    let mine = admin_sign_in(&app).await;
    let other = admin_sign_in(&app).await;
    let other_id = app
        .client_with(&other)
        .get_me()
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .session
        .id;
    let reply = app
        .client_with(&mine)
        .revoke_my_session()
        .session_id(other_id)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    assert_eq!(me_status(&app, &other).await, 401);
    assert_eq!(me_status(&app, &mine).await, 200);
    // Already revoked, unknown, or another user's: 404 alike.
    let globex = app.create_org("Globex", "admin@globex.test").await;
    let globex_session = app.state.tokens.verify(&globex.session_token).unwrap().sid;
    for id in [other_id, uuid::Uuid::new_v4(), globex_session.into_uuid()] {
        let reply = app
            .client_with(&mine)
            .revoke_my_session()
            .session_id(id)
            .send()
            .await;
        assert_eq!(code(reply), (404, "NOT_FOUND".into()));
    }
    assert_eq!(me_status(&app, &globex.session_token).await, 200);
}

#[tokio::test]
async fn an_expired_session_row_is_refused_even_with_an_unexpired_token() {
    let app = spawn_app().await;
    let mut session = new_session(&app.admin.user_id, Duration::from_secs(600));
    let token = app.state.tokens.issue(&session, &app.admin.org_id).unwrap();
    session.expires_at = users_api::db::now() - chrono::TimeDelta::seconds(1);
    session_rows::insert(&app.state.db, &session).await.unwrap();
    assert_eq!(me_status(&app, &token).await, 401);
}

#[tokio::test]
async fn last_active_at_is_refreshed_by_use_at_most_once_a_minute() {
    let app = spawn_app().await;
    let token = admin_sign_in(&app).await;
    let sid = app.state.tokens.verify(&token).unwrap().sid;
    let signed_in_at = session_row(&app.state.db, &sid).await.last_active_at;
    // Use within the minute writes nothing.
    for _ in 0..3 {
        assert_eq!(me_status(&app, &token).await, 200);
    }
    assert_eq!(
        session_row(&app.state.db, &sid).await.last_active_at,
        signed_in_at
    );
    // Once the mark is a minute old, the next use refreshes it, on the session and the user.
    backdate_activity(&app.state.db, &sid, chrono::TimeDelta::seconds(61)).await;
    let before = users_api::db::now() - chrono::TimeDelta::seconds(1);
    let me = app
        .client_with(&token)
        .get_me()
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let marked = session_row(&app.state.db, &sid).await.last_active_at;
    assert!(marked >= before, "{marked} >= {before}");
    assert_eq!(me.last_active_at.unwrap().naive_utc(), marked);
    let listed = my_sessions(&app, &token).await;
    let current = listed.iter().find(|s| s.current).unwrap();
    assert_eq!(current.last_active_at.naive_utc(), marked);
}

#[tokio::test]
async fn a_previous_signing_key_keeps_verifying_and_is_published() {
    // A server that signed with key A ...
    let old = spawn_app().await;
    let old_pem = std::fs::read_to_string(&old.key_file).unwrap();
    let old_kid = SigningKeys::from_pem(&old_pem).unwrap().kid;
    // ... rotated to key B with A kept as the previous key, over the same kind of database.
    let app = spawn_app_with(TestOptions {
        previous_key_pem: Some(old_pem),
        ..TestOptions::default()
    })
    .await;
    let jwks = app
        .anonymous()
        .get_jwks()
        .send()
        .await
        .unwrap()
        .into_inner();
    let kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids.len(), 2);
    assert_ne!(kids[0], old_kid, "the signing key comes first");
    assert_eq!(kids[1], old_kid);
    // A token signed by A for a live session of this server verifies; new tokens use B.
    let session = new_session(&app.admin.user_id, Duration::from_secs(600));
    session_rows::insert(&app.state.db, &session).await.unwrap();
    let signed_by_a = old.state.tokens.issue(&session, &app.admin.org_id).unwrap();
    assert_eq!(me_status(&app, &signed_by_a).await, 200);
    let header = jsonwebtoken::decode_header(&admin_sign_in(&app).await).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kids[0]));
    // A server without A configured refuses A's tokens for its own live sessions.
    let fresh = spawn_app().await;
    let session = new_session(&fresh.admin.user_id, Duration::from_secs(600));
    session_rows::insert(&fresh.state.db, &session)
        .await
        .unwrap();
    let signed_by_a = old
        .state
        .tokens
        .issue(&session, &fresh.admin.org_id)
        .unwrap();
    assert_eq!(me_status(&fresh, &signed_by_a).await, 401);
}
