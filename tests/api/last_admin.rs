//! The last admin (PRODUCT §7): an organization always keeps an active admin. Demoting,
//! suspending or deleting the last one is 409 `LAST_ADMIN` and changes nothing, also when two
//! admins take each other's role away at the same moment.

use users_api_client::{
    Client, Patch, UserPatch,
    types::{Role, SettableStatus, User, UserEnvelope, UserStatus},
};
use uuid::Uuid;

use crate::{
    fixtures::{Reply, code, create_user, failure, key_client, person},
    helpers::{TestApp, spawn_app},
};

fn assert_last_admin<T: std::fmt::Debug>(reply: Reply<T>) {
    let (status, body) = failure(reply);
    assert_eq!((status, body.error.code.as_str()), (409, "LAST_ADMIN"));
}

async fn patch(client: &Client, id: Uuid, body: UserPatch) -> Reply<UserEnvelope> {
    client.patch_user().user_id(id).body(body).send().await
}

fn demote() -> UserPatch {
    UserPatch {
        role: Some(Role::Member),
        ..Default::default()
    }
}

fn suspend() -> UserPatch {
    UserPatch {
        status: Some(SettableStatus::Suspended),
        ..Default::default()
    }
}

async fn get(app: &TestApp, id: Uuid) -> User {
    key_client(app)
        .get_user()
        .user_id(id)
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
}

/// Every active admin of the first organization.
async fn active_admins(app: &TestApp) -> Vec<Uuid> {
    let users = key_client(app)
        .list_users()
        .limit(100)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(users.meta.next_cursor.is_none(), "one page holds them all");
    users
        .data
        .into_iter()
        .filter(|u| u.role == Role::Admin && u.status == UserStatus::Active)
        .map(|u| u.id)
        .collect()
}

fn admin_id(app: &TestApp) -> Uuid {
    app.admin.user_id.into_uuid()
}

#[tokio::test]
async fn the_only_admin_cannot_be_demoted_and_nothing_changes() {
    let app = spawn_app().await;
    let id = admin_id(&app);
    let before = get(&app, id).await;
    for client in [key_client(&app), app.client()] {
        let body = UserPatch {
            display_name: Patch::Value("Renamed".into()),
            ..demote()
        };
        assert_last_admin(patch(&client, id, body).await);
    }
    let after = get(&app, id).await;
    assert_eq!(after.role, Role::Admin);
    assert_eq!(after.display_name, None, "all or nothing");
    assert_eq!(after.updated_at, before.updated_at);
}

#[tokio::test]
async fn the_only_admin_cannot_be_suspended_and_keeps_their_sessions() {
    let app = spawn_app().await;
    let id = admin_id(&app);
    for client in [key_client(&app), app.client()] {
        assert_last_admin(patch(&client, id, suspend()).await);
    }
    assert_eq!(get(&app, id).await.status, UserStatus::Active);
    app.client()
        .get_me()
        .send()
        .await
        .expect("the session lives");
}

#[tokio::test]
async fn the_only_admin_cannot_be_deleted() {
    let app = spawn_app().await;
    let id = admin_id(&app);
    for client in [key_client(&app), app.client()] {
        assert_last_admin(client.delete_user().user_id(id).send().await);
    }
    assert_eq!(get(&app, id).await.role, Role::Admin);
}

#[tokio::test]
async fn a_suspended_admin_does_not_count_and_can_be_made_active_again() {
    let app = spawn_app().await;
    let second = create_user(&app, "second@acme.test", Role::Admin).await;
    let key = key_client(&app);
    patch(&key, second.id, suspend()).await.unwrap();
    assert_last_admin(patch(&key, admin_id(&app), demote()).await);
    let body = UserPatch {
        status: Some(SettableStatus::Active),
        ..Default::default()
    };
    patch(&key, second.id, body).await.unwrap();
    patch(&key, admin_id(&app), demote()).await.unwrap();
    assert_eq!(active_admins(&app).await, [second.id]);
}

#[tokio::test]
async fn with_two_admins_one_can_go_and_then_the_other_is_refused() {
    let app = spawn_app().await;
    let (second, as_second) = person(&app, "second@acme.test", Role::Admin).await;
    let first = admin_id(&app);
    // Each admin acts on the other: the first demotion works, the second would leave none.
    patch(&app.client(), second.id, demote()).await.unwrap();
    assert_eq!(code(patch(&as_second, first, demote()).await).0, 403);
    assert_last_admin(patch(&key_client(&app), first, demote()).await);
    assert_last_admin(patch(&key_client(&app), first, suspend()).await);
    assert_last_admin(key_client(&app).delete_user().user_id(first).send().await);

    // Suspending or deleting one of two admins works the same way.
    let third = create_user(&app, "third@acme.test", Role::Admin).await;
    patch(&app.client(), third.id, suspend()).await.unwrap();
    let fourth = create_user(&app, "fourth@acme.test", Role::Admin).await;
    key_client(&app)
        .delete_user()
        .user_id(fourth.id)
        .send()
        .await
        .unwrap();
    assert_eq!(active_admins(&app).await, [first]);
}

/// How one round of the race ends for a request: it won, or it lost in one of the ways a
/// loser can (409 `LAST_ADMIN`; 403 or 401 when the other change landed before this request
/// was authenticated — a demoted admin has no scope left, a suspended or deleted one no
/// session).
fn outcome<T: std::fmt::Debug>(reply: Reply<T>) -> Result<(), (u16, String)> {
    match reply {
        Ok(_) => Ok(()),
        Err(_) => {
            let (status, body) = failure(reply);
            let lost = matches!(
                (status, body.error.code.as_str()),
                (409, "LAST_ADMIN") | (403, "INSUFFICIENT_SCOPE") | (401, "UNAUTHORIZED")
            );
            assert!(lost, "unexpected {status} {}", body.error.code);
            Err((status, body.error.code.to_string()))
        }
    }
}

#[tokio::test]
async fn two_admins_taking_each_others_role_at_once_always_leave_exactly_one() {
    let app = spawn_app().await;
    let key = key_client(&app);
    let mut survivor = admin_id(&app);
    let mut refused_by_the_lock = 0;
    for round in 0..20 {
        let (a, as_a) = person(&app, &format!("a{round}@acme.test"), Role::Admin).await;
        let (b, as_b) = person(&app, &format!("b{round}@acme.test"), Role::Admin).await;
        patch(&key, survivor, demote()).await.unwrap();
        assert_eq!(active_admins(&app).await.len(), 2);
        // Demotion, suspension and deletion in turn: each takes the other's admin away.
        let outcomes = match round % 3 {
            0 => {
                let (x, y) =
                    tokio::join!(patch(&as_a, b.id, demote()), patch(&as_b, a.id, demote()));
                [outcome(x), outcome(y)]
            }
            1 => {
                let (x, y) =
                    tokio::join!(patch(&as_a, b.id, suspend()), patch(&as_b, a.id, suspend()));
                [outcome(x), outcome(y)]
            }
            _ => {
                let (x, y) = tokio::join!(
                    as_a.delete_user().user_id(b.id).send(),
                    as_b.delete_user().user_id(a.id).send()
                );
                [outcome(x), outcome(y)]
            }
        };
        let winners = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
        refused_by_the_lock += outcomes
            .iter()
            .filter(|o| matches!(o, Err((409, _))))
            .count();
        let admins = active_admins(&app).await;
        assert_eq!(admins.len(), 1, "round {round}: {outcomes:?}");
        assert!(admins[0] == a.id || admins[0] == b.id);
        survivor = admins[0];
    }
    eprintln!("{refused_by_the_lock} of 20 rounds were decided by LAST_ADMIN");
}
