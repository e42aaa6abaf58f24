//! users-api: the user-profile service. `api` is the HTTP surface (poem-openapi), `db` the
//! persistence (diesel-async on SQLite or PostgreSQL), `domain` the validated values, `auth` the
//! credentials, sign-in and access decisions, `users` the use cases that change users, `events` the change events they record, `mail` the messages users-api sends; `state`
//! is what every request shares, `server` starts it all (and the retention `sweeper`) and
//! `config` is how it is configured.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod mail;
pub mod server;
pub mod state;
pub mod sweeper;
pub mod telemetry;
pub mod users;
pub mod webhooks;
