//! What the spec's `pattern`s and `format`s say, the server holds to (issue 14, point 6): an
//! empty `cursor=` is the first page, as the cursor pattern allows; a phone number outside its
//! pattern is refused even where the old parser would have trimmed or read it; team and API-key
//! names with a control character anywhere are refused with the field's code.

use users_api_client::{
    MePatch, Patch,
    types::{ApiKeyCreate, Role, ScopeName, TeamCreate},
};

use crate::{
    fixtures::{code, create_user, failure, key_client},
    helpers::spawn_app,
};

#[tokio::test]
async fn an_empty_cursor_is_the_first_page_of_every_list() {
    let app = spawn_app().await;
    let client = key_client(&app);
    for i in 0..2 {
        create_user(&app, &format!("user{i}@acme.test"), Role::Member).await;
        client
            .create_team()
            .body(TeamCreate {
                name: format!("Team {i}"),
            })
            .send()
            .await
            .unwrap();
    }
    let first = client.list_users().limit(2).send().await.unwrap();
    let empty = client
        .list_users()
        .limit(2)
        .cursor("")
        .send()
        .await
        .unwrap();
    let ids =
        |page: &[users_api_client::types::User]| page.iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(ids(&empty.data), ids(&first.data));
    assert_eq!(empty.meta.next_cursor, first.meta.next_cursor);
    assert!(empty.meta.next_cursor.is_some());

    let first = client.list_teams().limit(1).send().await.unwrap();
    let empty = client
        .list_teams()
        .limit(1)
        .cursor("")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.data[0].id, first.data[0].id);
    assert_eq!(empty.meta.next_cursor, first.meta.next_cursor);
}

#[tokio::test]
async fn a_phone_number_is_taken_only_in_the_form_its_pattern_states() {
    let app = spawn_app().await;
    let patch = |number: &str| MePatch {
        phone_number: Patch::Value(number.to_owned()),
        ..Default::default()
    };
    for refused in [
        " +14155552671",
        "+14155552671\n",
        "+1 800 FLOWERS",
        "+0 415 555 2671",
    ] {
        let (status, error) = failure(app.client().patch_me().body(patch(refused)).send().await);
        assert_eq!(status, 422, "{refused:?}");
        assert_eq!(error.error.code, "INVALID_PHONE_NUMBER", "{refused:?}");
    }
    let me = app
        .client()
        .patch_me()
        .body(patch("+1 (415) 555.2671"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.data.phone_number.as_deref(), Some("+14155552671"));
}

#[tokio::test]
async fn team_and_key_names_with_a_control_character_anywhere_are_refused() {
    let app = spawn_app().await;
    let client = key_client(&app);
    for name in ["Design\t", "De\u{7f}sign", "\u{85}Design"] {
        let team = client
            .create_team()
            .body(TeamCreate { name: name.into() })
            .send()
            .await;
        assert_eq!(code(team), (422, "INVALID_NAME".into()), "{name:?}");
        let key = app
            .client()
            .create_api_key()
            .body(ApiKeyCreate {
                name: name.into(),
                scopes: vec![ScopeName::UsersRead],
                expires_at: None,
            })
            .send()
            .await;
        assert_eq!(code(key), (422, "INVALID_NAME".into()), "{name:?}");
    }
    let teams = client.list_teams().send().await.unwrap();
    assert!(teams.data.is_empty());
}
