//! Roles and scopes on the admin surface (PRODUCT §1): API keys act with their scopes, `admin`
//! sessions with every scope, `viewer` sessions with the read scopes, `member` sessions with
//! none. A missing scope is 403 `INSUFFICIENT_SCOPE` naming it.

use users_api_client::{
    TeamPatch, UserPatch,
    types::{Role, TeamCreate},
};

use crate::{
    fixtures::{code, failure, key_client, key_with, new_user, person},
    helpers::spawn_app,
};

#[tokio::test]
async fn an_api_key_without_the_scope_gets_403_insufficient_scope_naming_it() {
    let app = spawn_app().await;
    let reader = key_with(&app, &["users:read"]).await;
    reader.list_users().send().await.unwrap();
    let (status, error) = failure(
        reader
            .create_user()
            .body(new_user("a@acme.test"))
            .send()
            .await,
    );
    assert_eq!(status, 403);
    assert_eq!(error.error.code, "INSUFFICIENT_SCOPE");
    assert!(
        error.error.message.contains("users:write"),
        "{}",
        error.error.message
    );
    assert_eq!(error.error.details["scope"], "users:write");
    let (status, error) = failure(reader.list_teams().send().await);
    assert_eq!(status, 403);
    assert_eq!(error.error.details["scope"], "teams:read");

    let teams_only = key_with(&app, &["teams:read", "teams:write"]).await;
    teams_only
        .create_team()
        .body(TeamCreate {
            name: "Ops".parse().unwrap(),
        })
        .send()
        .await
        .unwrap();
    let (status, error) = failure(teams_only.list_users().send().await);
    assert_eq!(status, 403);
    assert_eq!(error.error.details["scope"], "users:read");
}

#[tokio::test]
async fn a_viewer_session_reads_users_and_teams_but_cannot_write_them() {
    let app = spawn_app().await;
    let (viewer, as_viewer) = person(&app, "viewer@acme.test", Role::Viewer).await;
    let team = key_client(&app)
        .create_team()
        .body(TeamCreate {
            name: "Ops".parse().unwrap(),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(
        as_viewer
            .list_users()
            .send()
            .await
            .unwrap()
            .into_inner()
            .data
            .len(),
        2
    );
    as_viewer
        .get_user()
        .user_id(viewer.id)
        .send()
        .await
        .unwrap();
    as_viewer.list_teams().send().await.unwrap();
    as_viewer.get_team().team_id(team.id).send().await.unwrap();

    let me = as_viewer.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.scopes, ["users:read", "teams:read"]);

    let denied = [
        code(
            as_viewer
                .create_user()
                .body(new_user("x@acme.test"))
                .send()
                .await,
        ),
        code(
            as_viewer
                .patch_user()
                .user_id(viewer.id)
                .body(UserPatch::default())
                .send()
                .await,
        ),
        code(as_viewer.delete_user().user_id(viewer.id).send().await),
        code(
            as_viewer
                .patch_team()
                .team_id(team.id)
                .body(TeamPatch::default())
                .send()
                .await,
        ),
        code(
            as_viewer
                .add_team_member()
                .team_id(team.id)
                .user_id(viewer.id)
                .send()
                .await,
        ),
    ];
    for (status, code) in denied {
        assert_eq!((status, code.as_str()), (403, "INSUFFICIENT_SCOPE"));
    }
}

#[tokio::test]
async fn a_member_session_gets_403_everywhere_on_the_admin_surface() {
    let app = spawn_app().await;
    let (member, as_member) = person(&app, "member@acme.test", Role::Member).await;
    let me = as_member.get_me().send().await.unwrap().into_inner().data;
    assert!(me.scopes.is_empty());
    for (status, code) in [
        code(as_member.list_users().send().await),
        code(as_member.get_user().user_id(member.id).send().await),
        code(as_member.list_teams().send().await),
    ] {
        assert_eq!((status, code.as_str()), (403, "INSUFFICIENT_SCOPE"));
    }
    let (status, code_) = code(as_member.list_api_keys().send().await);
    assert_eq!((status, code_.as_str()), (403, "FORBIDDEN"));
}

#[tokio::test]
async fn an_admin_session_acts_with_every_scope() {
    let app = spawn_app().await;
    let admin = app.client();
    let user = admin
        .create_user()
        .body(new_user("ada@acme.test"))
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    let team = admin
        .create_team()
        .body(TeamCreate {
            name: "Ops".parse().unwrap(),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    admin
        .add_team_member()
        .team_id(team.id)
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    admin.list_api_keys().send().await.unwrap();
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_next_request() {
    let app = spawn_app().await;
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    assert_eq!(code(as_user.list_users().send().await).0, 403);
    key_client(&app)
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            role: Some(Role::Viewer),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    as_user.list_users().send().await.unwrap();
}

#[tokio::test]
async fn the_admin_surface_without_credentials_is_401() {
    let app = spawn_app().await;
    let anonymous = app.anonymous();
    assert_eq!(code(anonymous.list_users().send().await).0, 401);
    assert_eq!(code(anonymous.list_teams().send().await).0, 401);
    assert_eq!(code(anonymous.list_api_keys().send().await).0, 401);
    let bogus = app.client_with("uak_not-a-key");
    assert_eq!(code(bogus.list_users().send().await).0, 401);
}
