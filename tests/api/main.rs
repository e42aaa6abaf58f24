//! The integration tests: one binary, one module per concern. Every test starts its own server
//! with its own database (`helpers::spawn_app`); set `TEST_DATABASE_URL=postgres://…` to run the
//! same tests against PostgreSQL.

mod access;
mod api_keys;
mod auth;
mod cli;
mod connections;
mod contract;
mod credentials;
mod database_failures;
mod docs_and_ops;
mod edge;
mod envelope;
mod events;
mod examples;
mod fixtures;
mod fleet;
mod hardening_email;
mod hardening_hashes;
mod hardening_nul;
mod hardening_text;
mod helpers;
mod last_admin;
mod logs;
mod me;
mod me_patch;
mod metadata;
mod privilege;
mod proxy;
mod raw;
mod retention;
mod schema;
mod secrets_at_rest;
mod sessions;
mod shared_limits;
mod sign_in;
mod spec;
mod spec_patterns;
mod startup;
mod teams;
mod tenancy;
mod trusted_proxies;
mod users_create;
mod users_list;
mod users_patch;
mod walk;
