//! Diesel table definitions shared by both backends. The migrations under `migrations/sqlite` and
//! `migrations/postgres` use the same portable column types, so one schema serves both.
//! `tests/api/schema.rs` checks it against the databases both trees migrate.

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        org_id -> Text,
        status -> Text,
        role -> Text,
        display_name -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        bio -> Nullable<Text>,
        profile_image_url -> Nullable<Text>,
        phone_number -> Nullable<Text>,
        phone_number_verified -> Bool,
        locale -> Nullable<Text>,
        timezone -> Nullable<Text>,
        primary_email -> Nullable<Text>,
        primary_email_key -> Nullable<Text>,
        primary_email_verified -> Bool,
        primary_email_auth_enabled -> Bool,
        password_hash -> Nullable<Text>,
        totp_secret -> Nullable<Text>,
        selected_team_id -> Nullable<Text>,
        client_metadata -> Text,
        client_read_only_metadata -> Text,
        server_metadata -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_active_at -> Nullable<Timestamp>,
        totp_last_step -> Nullable<BigInt>,
        search_key -> Nullable<Text>,
        search_key_version -> Nullable<BigInt>,
        failed_sign_ins -> Integer,
        locked_until -> Nullable<Timestamp>,
        suspension_reason -> Nullable<Text>,
        suspended_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    teams (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    team_members (team_id, user_id) {
        team_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_active_at -> Timestamp,
        authenticated_at -> Timestamp,
        amr -> Text,
        client_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        secret_hash -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (org_id, idempotency_key) {
        org_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        response_body -> Nullable<Text>,
        user_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        public_x -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sign_in_limits (key) {
        key -> Text,
        tat -> Timestamp,
    }
}

diesel::table! {
    event_sequences (org_id) {
        org_id -> Text,
        last -> BigInt,
    }
}

diesel::table! {
    events (org_id, sequence) {
        org_id -> Text,
        sequence -> BigInt,
        id -> Text,
        kind -> Text,
        occurred_at -> Timestamp,
        actor_type -> Text,
        actor_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        subject_id -> Nullable<Text>,
        data -> Text,
    }
}

diesel::table! {
    fleet_secrets_key (id) {
        id -> Integer,
        key_id -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        org_id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        disabled -> Bool,
        cursor -> BigInt,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        event_sequence -> BigInt,
        event_type -> Text,
        attempt -> Integer,
        redelivery -> Bool,
        succeeded -> Bool,
        response_status -> Nullable<Integer>,
        latency_ms -> BigInt,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        attempted_at -> Timestamp,
    }
}

diesel::table! {
    webhook_redeliveries (endpoint_id, event_sequence) {
        endpoint_id -> Text,
        event_sequence -> BigInt,
        requested_at -> Timestamp,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        recipient -> Text,
        vars -> Text,
        secrets -> Nullable<Text>,
        request_id -> Nullable<Text>,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tickets (id) {
        id -> Text,
        org_id -> Text,
        user_id -> Text,
        kind -> Text,
        token_hash -> Text,
        target_email -> Nullable<Text>,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        superseded_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        code_hash -> Nullable<Text>,
        code_attempts -> Integer,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(users -> organizations (org_id));
diesel::joinable!(teams -> organizations (org_id));
diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(team_members -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_keys -> organizations (org_id));
diesel::joinable!(webhook_endpoints -> organizations (org_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(mail_outbox -> organizations (org_id));
diesel::joinable!(tickets -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    teams,
    team_members,
    sessions,
    api_keys,
    idempotency_keys,
    signing_keys,
    sign_in_limits,
    events,
    event_sequences,
    fleet_secrets_key,
    webhook_endpoints,
    webhook_deliveries,
    webhook_redeliveries,
    mail_outbox,
    tickets,
    recovery_codes,
);
