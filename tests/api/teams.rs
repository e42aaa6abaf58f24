//! `/v1/teams` and team members, and `selected_team_id` on both surfaces (PRODUCT §3, §5).

use serde_json::json;
use users_api_client::{
    MePatch, Patch, TeamPatch, UserPatch,
    types::{Role, Team, TeamCreate},
};
use uuid::Uuid;

use crate::{
    envelope::call,
    fixtures::{code, failure, key_client, person},
    helpers::{TestApp, spawn_app},
};

async fn create_team(app: &TestApp, name: &str) -> Team {
    key_client(app)
        .create_team()
        .body(TeamCreate {
            name: name.parse().unwrap(),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
}

#[tokio::test]
async fn teams_are_created_listed_renamed_and_deleted() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let created = client
        .create_team()
        .body(TeamCreate {
            name: "  Platform ".parse().unwrap(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let team = created.into_inner().data;
    assert_eq!(location, format!("/v1/teams/{}", team.id));
    assert_eq!(team.name, "Platform");
    assert_eq!(team.org_id, app.admin.org_id.into_uuid());
    for name in ["B", "C"] {
        create_team(&app, name).await;
    }

    let first = client
        .list_teams()
        .limit(2)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.data.len(), 2);
    assert_eq!(first.data[0].id, team.id);
    let second = client
        .list_teams()
        .cursor(first.meta.next_cursor.unwrap())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.data.len(), 1);
    assert!(second.meta.next_cursor.is_none());
    let (status, code_) = code(client.list_teams().cursor("tampered").send().await);
    assert_eq!((status, code_.as_str()), (422, "INVALID_CURSOR"));

    let renamed = client
        .patch_team()
        .team_id(team.id)
        .body(TeamPatch {
            name: Some("Infra".into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(renamed.name, "Infra");
    let unchanged = client
        .patch_team()
        .team_id(team.id)
        .body(TeamPatch::default())
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(unchanged.name, "Infra");
    let fetched = client.get_team().team_id(team.id).send().await.unwrap();
    assert_eq!(fetched.into_inner().data.name, "Infra");

    let deleted = client.delete_team().team_id(team.id).send().await.unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(code(client.get_team().team_id(team.id).send().await).0, 404);
    assert_eq!(
        code(client.delete_team().team_id(team.id).send().await).0,
        404
    );
}

#[tokio::test]
async fn a_team_name_is_required_and_checked() {
    let app = spawn_app().await;
    let team = create_team(&app, "Ops").await;
    for (method, url, body, status, expected) in [
        (
            "POST",
            "/v1/teams".to_owned(),
            json!({}),
            400,
            "MALFORMED_REQUEST",
        ),
        (
            "POST",
            "/v1/teams".to_owned(),
            json!({"name": 7}),
            400,
            "MALFORMED_REQUEST",
        ),
        (
            "POST",
            "/v1/teams".to_owned(),
            json!({"name": ""}),
            422,
            "INVALID_NAME",
        ),
        (
            "POST",
            "/v1/teams".to_owned(),
            json!({"name": "x", "size": 3}),
            400,
            "MALFORMED_REQUEST",
        ),
        (
            "PATCH",
            format!("/v1/teams/{}", team.id),
            json!({"name": null}),
            422,
            "INVALID_NAME",
        ),
        (
            "PATCH",
            format!("/v1/teams/{}", team.id),
            json!({"id": Uuid::now_v7()}),
            400,
            "IMMUTABLE_FIELD",
        ),
    ] {
        let request = app
            .http()
            .request(method.parse().unwrap(), app.url(&url))
            .bearer_auth(&app.admin.api_key)
            .json(&body);
        let (got, _, reply) = call(request).await;
        assert_eq!(got, status, "{method} {url} {body}: {reply}");
        assert_eq!(reply["error"]["code"], expected, "{body}");
    }
}

#[tokio::test]
async fn members_are_added_idempotently_and_removed_once() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let team = create_team(&app, "Ops").await;
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    for _ in 0..2 {
        let member = client
            .add_team_member()
            .team_id(team.id)
            .user_id(user.id)
            .send()
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!((member.team_id, member.user_id), (team.id, user.id));
        assert_eq!(member.role, "member");
    }
    let me = as_user.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.teams.len(), 1);
    assert_eq!(
        (me.teams[0].id, me.teams[0].name.as_str()),
        (team.id, "Ops")
    );

    let removed = client
        .remove_team_member()
        .team_id(team.id)
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status().as_u16(), 204);
    let again = code(
        client
            .remove_team_member()
            .team_id(team.id)
            .user_id(user.id)
            .send()
            .await,
    );
    assert_eq!(again.0, 404);
    let me = as_user.get_me().send().await.unwrap().into_inner().data;
    assert!(me.teams.is_empty());
    let unknown_user = code(
        client
            .add_team_member()
            .team_id(team.id)
            .user_id(Uuid::now_v7())
            .send()
            .await,
    );
    assert_eq!(unknown_user.0, 404);
}

#[tokio::test]
async fn selected_team_id_must_name_a_team_the_user_belongs_to_on_either_surface() {
    let app = spawn_app().await;
    let team = create_team(&app, "Ops").await;
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    let (status, error) = failure(
        as_user
            .patch_me()
            .body(MePatch {
                selected_team_id: Patch::Value(team.id),
                ..Default::default()
            })
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error.code.as_str()),
        (422, "NOT_A_TEAM_MEMBER")
    );
    let (status, error) = failure(
        key_client(&app)
            .patch_user()
            .user_id(user.id)
            .body(UserPatch {
                selected_team_id: Patch::Value(Uuid::now_v7()),
                ..Default::default()
            })
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error.code.as_str()),
        (422, "NOT_A_TEAM_MEMBER")
    );

    key_client(&app)
        .add_team_member()
        .team_id(team.id)
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    let me = as_user
        .patch_me()
        .body(MePatch {
            selected_team_id: Patch::Value(team.id),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(me.selected_team_id, Some(team.id));
    let selected = me.selected_team.expect("selected_team is expanded");
    assert_eq!((selected.id, selected.name.as_str()), (team.id, "Ops"));

    let cleared = as_user
        .patch_me()
        .body(MePatch {
            selected_team_id: Patch::Null,
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(cleared.selected_team_id, None);
    assert!(cleared.selected_team.is_none());

    let by_admin = key_client(&app)
        .patch_user()
        .user_id(user.id)
        .body(UserPatch {
            selected_team_id: Patch::Value(team.id),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(by_admin.selected_team.map(|t| t.id), Some(team.id));
}

#[tokio::test]
async fn leaving_the_selected_team_or_deleting_it_clears_the_selection() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let (user, as_user) = person(&app, "ada@acme.test", Role::Member).await;
    let select = |team: Uuid| {
        let client = client.clone();
        async move {
            client
                .add_team_member()
                .team_id(team)
                .user_id(user.id)
                .send()
                .await
                .unwrap();
            client
                .patch_user()
                .user_id(user.id)
                .body(UserPatch {
                    selected_team_id: Patch::Value(team),
                    ..Default::default()
                })
                .send()
                .await
                .unwrap()
                .into_inner()
                .data
        }
    };
    let left = create_team(&app, "Left").await;
    assert_eq!(select(left.id).await.selected_team_id, Some(left.id));
    client
        .remove_team_member()
        .team_id(left.id)
        .user_id(user.id)
        .send()
        .await
        .unwrap();
    let me = as_user.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(me.selected_team_id, None);

    let deleted = create_team(&app, "Deleted").await;
    assert_eq!(select(deleted.id).await.selected_team_id, Some(deleted.id));
    client
        .delete_team()
        .team_id(deleted.id)
        .send()
        .await
        .unwrap();
    let after = client
        .get_user()
        .user_id(user.id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(after.selected_team_id, None);
    assert!(after.selected_team.is_none());
}
