//! Shared steps of the admin-surface tests: people with roles and sessions, and reading replies
//! of the generated client.

use users_api::{auth::new_session, db::sessions};
use users_api_client::{
    Client, Error, ResponseValue,
    types::{ErrorEnvelope, Role, User, UserCreate},
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
    (status, body.error.code)
}

/// The generated client acting with the organization's bootstrap API key (every scope).
pub fn key_client(app: &TestApp) -> Client {
    app.client_with(&app.admin.api_key)
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
    let session = new_session(&user.id.to_string(), std::time::Duration::from_secs(600));
    sessions::insert(&app.state.db, &session)
        .await
        .expect("session stored");
    app.state
        .tokens
        .issue(&session, &user.org_id.to_string())
        .expect("token issued")
}

/// A user with `role` and a client acting as them.
pub async fn person(app: &TestApp, email: &str, role: Role) -> (User, Client) {
    let user = create_user(app, email, role).await;
    let token = session_token(app, &user).await;
    (user, app.client_with(&token))
}
