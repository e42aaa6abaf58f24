//! Issue 12, item 4: names and bios refuse invisible and spoofing characters with 422 naming the
//! field, on `PATCH /v1/me` and on the admin surface's create and patch, and keep emoji
//! sequences where emoji are allowed. Control characters are refused wherever they stand.

use users_api_client::{MePatch, Patch, UserPatch, types::UserCreate};

use crate::{
    fixtures::{failure, key_client, new_user},
    helpers::spawn_app,
};

/// (field, value, code): one of every kind of character the rule refuses.
const REFUSED: &[(&str, &str, &str)] = &[
    ("display_name", "\u{200b}\u{200b}\u{200b}", "INVALID_NAME"),
    ("display_name", "admin\u{202e}nimda", "INVALID_NAME"),
    ("display_name", "🚀🚀", "INVALID_NAME"),
    ("display_name", "a\u{200d}b", "INVALID_NAME"),
    ("first_name", "Ada\u{2066}", "INVALID_NAME"),
    ("first_name", "\u{3164}", "INVALID_NAME"),
    ("last_name", "Love\u{e0041}lace", "INVALID_NAME"),
    ("last_name", "Lovelace\u{ffff}", "INVALID_NAME"),
    ("bio", "one\u{2028}two", "INVALID_BIO"),
    ("bio", "\u{200b}", "INVALID_BIO"),
    ("bio", "hidden \u{e0068}\u{e0069}", "INVALID_BIO"),
    ("bio", "private \u{e000}", "INVALID_BIO"),
    // Control characters are refused anywhere, even where trimming would remove them: the
    // spec's `pattern` refuses them, so the server must.
    ("first_name", "Ada\t", "INVALID_NAME"),
    ("display_name", "\nAda", "INVALID_NAME"),
    ("bio", "ok\u{7}", "INVALID_BIO"),
    ("bio", "ok \u{85}", "INVALID_BIO"),
];

fn me_patch(field: &str, value: &str) -> MePatch {
    let value = Patch::Value(value.to_owned());
    match field {
        "display_name" => MePatch {
            display_name: value,
            ..Default::default()
        },
        "first_name" => MePatch {
            first_name: value,
            ..Default::default()
        },
        "last_name" => MePatch {
            last_name: value,
            ..Default::default()
        },
        _ => MePatch {
            bio: value,
            ..Default::default()
        },
    }
}

fn user_patch(field: &str, value: &str) -> UserPatch {
    let value = Patch::Value(value.to_owned());
    match field {
        "display_name" => UserPatch {
            display_name: value,
            ..Default::default()
        },
        "first_name" => UserPatch {
            first_name: value,
            ..Default::default()
        },
        "last_name" => UserPatch {
            last_name: value,
            ..Default::default()
        },
        _ => UserPatch {
            bio: value,
            ..Default::default()
        },
    }
}

fn user_create(field: &str, value: &str) -> UserCreate {
    let mut body = new_user("new@acme.test");
    match field {
        "display_name" => body.display_name = Some(value.parse().unwrap()),
        "first_name" => body.first_name = Some(value.parse().unwrap()),
        "last_name" => body.last_name = Some(value.parse().unwrap()),
        _ => body.bio = Some(value.parse().unwrap()),
    }
    body
}

#[tokio::test]
async fn hardening_patch_me_refuses_invisible_and_spoofing_text_naming_the_field() {
    let app = spawn_app().await;
    let client = app.client();
    let before = client.get_me().send().await.unwrap().into_inner().data;
    for &(field, value, code) in REFUSED {
        let (status, body) = failure(client.patch_me().body(me_patch(field, value)).send().await);
        assert_eq!(
            (status, body.error.code.as_str()),
            (422, code),
            "{field} {value:?}"
        );
        assert_eq!(body.error.errors.len(), 1, "{field} {value:?}");
        assert_eq!(body.error.errors[0].field, field, "{field} {value:?}");
    }
    let after = client.get_me().send().await.unwrap().into_inner().data;
    assert_eq!(after.updated_at, before.updated_at, "nothing was written");
}

#[tokio::test]
async fn hardening_admin_create_and_patch_refuse_invisible_and_spoofing_text() {
    let app = spawn_app().await;
    let client = key_client(&app);
    let user = client
        .create_user()
        .body(new_user("ada@acme.test"))
        .send()
        .await
        .unwrap();
    let user = user.into_inner().data;
    for &(field, value, code) in REFUSED {
        let created = client
            .create_user()
            .body(user_create(field, value))
            .send()
            .await;
        let (status, body) = failure(created);
        assert_eq!(
            (status, body.error.code.as_str()),
            (422, code),
            "{field} {value:?}"
        );
        assert_eq!(body.error.errors[0].field, field);

        let patched = client
            .patch_user()
            .user_id(user.id)
            .body(user_patch(field, value))
            .send()
            .await;
        let (status, body) = failure(patched);
        assert_eq!(
            (status, body.error.code.as_str()),
            (422, code),
            "{field} {value:?}"
        );
        assert_eq!(body.error.errors[0].field, field);
    }
    let users = client.list_users().send().await.unwrap().into_inner().data;
    assert_eq!(
        users.len(),
        2,
        "the admin and ada: no refused user was created"
    );
    let unchanged = client.get_user().user_id(user.id).send().await.unwrap();
    assert_eq!(unchanged.into_inner().data.updated_at, user.updated_at);
}

#[tokio::test]
async fn hardening_display_names_and_bios_keep_emoji_sequences_and_line_breaks() {
    let app = spawn_app().await;
    let display_name = "Ada 👩\u{200d}🚀";
    let england = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}";
    let bio = format!("Engines ❤\u{fe0f}\nfrom {england}");
    let me = app
        .client()
        .patch_me()
        .body(MePatch {
            display_name: Patch::Value(display_name.into()),
            first_name: Patch::Value("می\u{200c}نا".into()),
            bio: Patch::Value(bio.clone()),
            ..Default::default()
        })
        .send()
        .await
        .expect("emoji sequences, line breaks and a Persian ZWNJ are text")
        .into_inner()
        .data;
    assert_eq!(me.display_name.as_deref(), Some(display_name));
    assert_eq!(me.first_name.as_deref(), Some("می\u{200c}نا"));
    assert_eq!(me.bio.as_deref(), Some(bio.as_str()));
}
