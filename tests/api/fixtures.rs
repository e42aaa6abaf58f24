//! Shared steps of the admin-surface tests: people with roles and sessions, and reading replies
//! of the generated client.

use users_api::{
    auth::{new_api_key, new_session},
    db::{api_keys, sessions},
    domain::{OrgId, Scope, UserId},
};
use users_api_client::{
    Client, Error, ResponseValue,
    types::{ErrorEnvelope, Role, SignIn, SignedInEnvelope, User, UserCreate},
};

use crate::helpers::TestApp;

pub type Reply<T> = Result<ResponseValue<T>, Error<ErrorEnvelope>>;

/// The status and error body of a failed call; panics on success or an undeclared status.
pub fn failure<T: std::fmt::Debug>(reply: Reply<T>) -> (u16, ErrorEnvelope) {
    match reply {
        Err(Error::ErrorResponse(response)) => (response.status().as_u16(), response.into_inner()),
        Err(other) => panic!("expected a declared error response, got {other:?}"),
        Ok(ok) => panic!("expected an error, got {:?}", ok.into_inner()),
    }
}

/// The status and error code of a failed call.
pub fn code<T: std::fmt::Debug>(reply: Reply<T>) -> (u16, String) {
    let (status, body) = failure(reply);
    (status, body.error.code.to_string())
}

/// The generated client acting with the organization's bootstrap API key (every scope).
pub fn key_client(app: &TestApp) -> Client {
    app.client_with(&app.admin.api_key)
}

/// The generated client acting with a new API key of the first organization holding exactly
/// `scopes`.
pub async fn key_with(app: &TestApp, scopes: &[&str]) -> Client {
    let scopes: Vec<Scope> = scopes.iter().map(|s| Scope::parse(s).unwrap()).collect();
    let (secret, row) = new_api_key(&app.admin.org_id, "test", &scopes);
    api_keys::insert(&app.state.db, &row, &[]).await.unwrap();
    app.client_with(&secret)
}

pub fn new_user(email: &str) -> UserCreate {
    UserCreate {
        primary_email: Some(email.parse().unwrap()),
        ..Default::default()
    }
}

/// Creates a user with `email` and `role` in the first organization, through the API.
pub async fn create_user(app: &TestApp, email: &str, role: Role) -> User {
    let body = UserCreate {
        role: Some(role),
        ..new_user(email)
    };
    key_client(app)
        .create_user()
        .body(body)
        .send()
        .await
        .expect("user created")
        .into_inner()
        .data
}

/// A live session token for `user` (what signing in will hand out).
pub async fn session_token(app: &TestApp, user: &User) -> String {
    let session = new_session(&UserId::from(user.id), std::time::Duration::from_secs(600));
    sessions::insert(&app.state.db, &session)
        .await
        .expect("session stored");
    app.state
        .tokens
        .issue(&session, &OrgId::from(user.org_id))
        .expect("token issued")
}

/// A user with `role` and a client acting as them.
pub async fn person(app: &TestApp, email: &str, role: Role) -> (User, Client) {
    let user = create_user(app, email, role).await;
    let token = session_token(app, &user).await;
    (user, app.client_with(&token))
}

/// `POST /v1/sessions` without credentials, as a person signing in would.
pub async fn sign_in(
    app: &TestApp,
    org_id: &OrgId,
    email: &str,
    password: &str,
    totp_code: Option<&str>,
) -> Reply<SignedInEnvelope> {
    let body = SignIn {
        org_id: org_id.into_uuid(),
        email: email.parse().expect("email fits the schema"),
        password: password.parse().expect("password fits the schema"),
        totp_code: totp_code.map(|code| code.parse().expect("code fits the schema")),
        recovery_code: None,
    };
    app.anonymous().sign_in().body(body).send().await
}

/// Signs the first organization's admin in with their password; returns the new token.
pub async fn admin_sign_in(app: &TestApp) -> String {
    let admin = &app.admin;
    sign_in(
        app,
        &admin.org_id,
        &admin.admin_email,
        &admin.admin_password,
        None,
    )
    .await
    .expect("the admin signs in")
    .into_inner()
    .data
    .token
}

/// The status `GET /v1/me` answers `token` with (any declared status).
pub async fn me_status(app: &TestApp, token: &str) -> u16 {
    match app.client_with(token).get_me().send().await {
        Ok(response) => response.status().as_u16(),
        Err(Error::ErrorResponse(response)) => response.status().as_u16(),
        Err(other) => panic!("undeclared response: {other:?}"),
    }
}
