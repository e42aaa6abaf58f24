//! Sign-in limits hold across a fleet (issue 15): on PostgreSQL two instances on one database,
//! each with pools and a limiter of its own, share every account's and every address's budget,
//! the proofs of `PATCH /v1/me` included; a refused attempt costs nothing; concurrent attempts
//! never get past the limit; the statement computes what `Gcra::take` (governor's rule) does;
//! requests that are not attempts leave the table alone; and an unreachable limiter answers 503,
//! never an admission. SQLite, one process, keeps its limits in memory: the tests of sharing
//! run on PostgreSQL, the concurrency test on both.

use std::{collections::HashMap, net::IpAddr};

use chrono::TimeDelta;
use users_api::{
    auth::throttle::{Gcra, SignInLimits},
    db::{
        DatabaseUrl, Db,
        sign_in_limits::{self, Bucket, Taken},
    },
    domain::OrgId,
};
use users_api_client::{MePatch, Patch, types::SignIn};

use crate::helpers::{TestApp, on_db, spawn_app, spawn_app_with_limits};

fn limits(per_account: u32, per_address: u32) -> SignInLimits {
    SignInLimits {
        per_account: per_account.try_into().unwrap(),
        per_address: per_address.try_into().unwrap(),
    }
}

fn on_postgres(app: &TestApp) -> bool {
    let postgres = matches!(app.database_url, DatabaseUrl::Postgres(_));
    if !postgres {
        eprintln!(
            "SQLite keeps its sign-in limits in memory, one process; this runs on PostgreSQL"
        );
    }
    postgres
}

/// The status of a sign-in at the instance at `base`, with `Retry-After` on a 429.
async fn attempt(base: &str, org: &OrgId, email: &str, password: &str) -> (u16, Option<u64>) {
    let body = SignIn {
        org_id: org.into_uuid(),
        email: email.parse().unwrap(),
        password: password.parse().unwrap(),
        totp_code: None,
        recovery_code: None,
    };
    match users_api_client::Client::new(base)
        .sign_in()
        .body(body)
        .send()
        .await
    {
        Ok(response) => (response.status().as_u16(), None),
        Err(users_api_client::Error::ErrorResponse(response)) => {
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().unwrap().parse().unwrap());
            let status = response.status().as_u16();
            if status == 429 {
                assert_eq!(response.into_inner().error.code, "RATE_LIMITED");
            }
            (status, retry_after)
        }
        Err(other) => panic!("undeclared response: {other:?}"),
    }
}

#[tokio::test]
async fn an_accounts_limit_holds_across_two_instances() {
    let app = spawn_app_with_limits(3, 100).await;
    if !on_postgres(&app) {
        return;
    }
    let other = app.instance_with_own_limiter(limits(3, 100)).await;
    let admin = &app.admin;
    let org = &admin.org_id;
    for base in [&app.address, &other.address, &app.address] {
        let (status, _) = attempt(base, org, &admin.admin_email, "wrong guess").await;
        assert_eq!(status, 401);
    }
    // The fourth attempt, wherever it lands, even with the right password.
    for base in [&other.address, &app.address] {
        let (status, retry_after) =
            attempt(base, org, &admin.admin_email, &admin.admin_password).await;
        assert_eq!(status, 429, "{base}");
        assert!(
            retry_after.is_some_and(|s| (1..=20).contains(&s)),
            "{retry_after:?}"
        );
    }
    let (status, _) = attempt(&other.address, org, "other@acme.test", "wrong guess").await;
    assert_eq!(status, 401, "another account is not affected");
}

#[tokio::test]
async fn an_addresss_limit_holds_across_two_instances() {
    let app = spawn_app_with_limits(100, 4).await;
    if !on_postgres(&app) {
        return;
    }
    let other = app.instance_with_own_limiter(limits(100, 4)).await;
    let org = &app.admin.org_id;
    for n in 0..4 {
        let base = [&app.address, &other.address][n % 2];
        let (status, _) = attempt(base, org, &format!("guess{n}@acme.test"), "x").await;
        assert_eq!(status, 401);
    }
    for base in [&app.address, &other.address] {
        let (status, retry_after) = attempt(base, org, "guess9@acme.test", "x").await;
        assert_eq!(status, 429);
        assert!(
            retry_after.is_some_and(|s| (1..=15).contains(&s)),
            "{retry_after:?}"
        );
    }
}

/// A refused attempt takes a token from neither bucket: the account's wait does not grow
/// however often it is refused, and the address keeps what the refusals did not spend.
#[tokio::test]
async fn a_refused_attempt_costs_nothing_in_either_bucket() {
    let app = spawn_app_with_limits(2, 4).await;
    if !on_postgres(&app) {
        return;
    }
    let other = app.instance_with_own_limiter(limits(2, 4)).await;
    let admin = &app.admin;
    let org = &admin.org_id;
    let bases = [&app.address, &other.address];
    for base in bases {
        assert_eq!(attempt(base, org, &admin.admin_email, "guess").await.0, 401);
    }
    for n in 0..6 {
        let (status, retry_after) = attempt(bases[n % 2], org, &admin.admin_email, "guess").await;
        assert_eq!(status, 429);
        // One token comes back every 30 s; paid-for refusals would push it further each time.
        assert!(
            retry_after.is_some_and(|s| (1..=30).contains(&s)),
            "{retry_after:?}"
        );
    }
    // The address spent 2 of its 4: two more accounts get their attempt, then it is spent.
    for (n, base) in bases.into_iter().enumerate() {
        let email = format!("someone{n}@acme.test");
        assert_eq!(attempt(base, org, &email, "guess").await.0, 401);
    }
    assert_eq!(
        attempt(bases[0], org, "third@acme.test", "guess").await.0,
        429
    );
}

/// 30 attempts at once on one account allowing 10: exactly 10 are heard (401, a wrong
/// password), 20 refused. On PostgreSQL they are spread over two instances.
#[tokio::test]
async fn thirty_concurrent_attempts_on_an_account_allowing_ten_admit_exactly_ten() {
    let app = spawn_app_with_limits(10, 1000).await;
    let other = match app.database_url {
        DatabaseUrl::Postgres(_) => Some(app.instance_with_own_limiter(limits(10, 1000)).await),
        DatabaseUrl::Sqlite(_) => None,
    };
    let bases = [
        app.address.clone(),
        other
            .as_ref()
            .map_or(app.address.clone(), |o| o.address.clone()),
    ];
    let admin = &app.admin;
    let attempts = (0..30).map(|n| attempt(&bases[n % 2], &admin.org_id, &admin.admin_email, "x"));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    let count = |wanted: u16| statuses.iter().filter(|s| **s == wanted).count();
    assert_eq!((count(401), count(429)), (10, 20), "{statuses:?}");
}

/// A proof of the current password in `PATCH /v1/me` on one instance and sign-ins on the other
/// spend one budget.
#[tokio::test]
async fn proofs_in_patch_me_and_sign_ins_share_one_budget_across_instances() {
    let app = spawn_app_with_limits(3, 100).await;
    if !on_postgres(&app) {
        return;
    }
    let other = app.instance_with_own_limiter(limits(3, 100)).await;
    let admin = &app.admin;
    let there = users_api_client::with_bearer_token(&other.address, &admin.session_token).unwrap();
    let guess = || MePatch {
        password: Some("a brand new passphrase 9".into()),
        current_password: Some("not the password".into()),
        ..Default::default()
    };
    for _ in 0..2 {
        let reply = there.patch_me().body(guess()).send().await;
        assert_eq!(crate::fixtures::code(reply), (403, "FORBIDDEN".into()));
    }
    let (status, _) = attempt(&app.address, &admin.org_id, &admin.admin_email, "x").await;
    assert_eq!(status, 401);
    let reply = there.patch_me().body(guess()).send().await;
    assert_eq!(crate::fixtures::code(reply), (429, "RATE_LIMITED".into()));
    let password = &admin.admin_password;
    let (status, _) = attempt(&app.address, &admin.org_id, &admin.admin_email, password).await;
    assert_eq!(status, 429);
}

async fn stored_buckets(db: &Db) -> i64 {
    on_db!(db, |conn| {
        use diesel::QueryDsl;
        use diesel_async::RunQueryDsl;
        users_api::db::schema::sign_in_limits::table
            .count()
            .get_result::<i64>(conn)
            .await
            .unwrap()
    })
}

#[tokio::test]
async fn requests_that_are_not_attempts_leave_the_limiter_table_alone() {
    let app = spawn_app().await;
    let client = app.client();
    client.get_me().send().await.expect("200");
    let body = MePatch {
        timezone: Patch::Value("Europe/Paris".into()),
        ..Default::default()
    };
    client.patch_me().body(body).send().await.expect("200");
    client.list_users().send().await.expect("200");
    assert_eq!(stored_buckets(&app.state.db).await, 0);
    let admin = &app.admin;
    let (status, _) = attempt(&app.address, &admin.org_id, &admin.admin_email, "x").await;
    assert_eq!(status, 401);
    // The account's bucket and the address's, on PostgreSQL; SQLite counts in memory.
    let expected = if on_postgres(&app) { 2 } else { 0 };
    assert_eq!(stored_buckets(&app.state.db).await, expected);
}

#[tokio::test]
async fn an_unreachable_limiter_answers_503_and_never_admits() {
    let app = spawn_app().await;
    if !app.cut_off_database().await {
        eprintln!("SQLite is embedded and cannot become unreachable; this runs on PostgreSQL");
        return;
    }
    let throttle = &app.state.sign_in_throttle;
    let refused = throttle
        .attempt("any/account@acme.test", IpAddr::from([10, 0, 0, 1]))
        .await
        .expect_err("no database, no attempt");
    assert_eq!(refused.status.as_u16(), 503);
    let admin = &app.admin;
    let response = app
        .http()
        .post(app.url("/v1/sessions"))
        .json(&serde_json::json!({
            "org_id": admin.org_id,
            "email": admin.admin_email,
            "password": admin.admin_password,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
}

/// The statement against `Gcra::take` (whose equality with governor the unit tests prove), on
/// the database's own arithmetic with a clock the test sets: two accounts and two addresses
/// with different quotas, attempts in bursts, a microsecond short of a token and exactly at
/// one, and rests longer than a minute.
#[tokio::test]
async fn the_statement_computes_what_the_rule_computes_attempt_by_attempt() {
    let app = spawn_app().await;
    if !on_postgres(&app) {
        return;
    }
    let (account, address) = (
        Gcra::per_minute(3.try_into().unwrap()),
        Gcra::per_minute(5.try_into().unwrap()),
    );
    let keys = [
        ["account:x", "address:p"],
        ["account:y", "address:p"],
        ["account:x", "address:q"],
    ];
    let advances_ms = [0, 0, 1, 7, 0, 12_000, 19_999, 1, 0, 61_000, 3, 11_999, 1];
    let mut model = HashMap::new();
    let mut now = users_api::db::now();
    for (i, advance) in advances_ms.iter().cycle().take(150).enumerate() {
        now += TimeDelta::milliseconds(*advance);
        let [account_key, address_key] = keys[i % keys.len()];
        let buckets = [
            Bucket {
                key: account_key,
                step: account.step,
                tolerance: account.tolerance,
            },
            Bucket {
                key: address_key,
                step: address.step,
                tolerance: address.tolerance,
            },
        ];
        let got = sign_in_limits::take(&app.state.db, buckets, Some(now))
            .await
            .unwrap();
        let verdicts = [
            account.take(model.get(account_key).copied(), now),
            address.take(model.get(address_key).copied(), now),
        ];
        let expected = match verdicts {
            [Ok(account_tat), Ok(address_tat)] => {
                model.insert(account_key, account_tat);
                model.insert(address_key, address_tat);
                Taken::Both
            }
            _ => Taken::Refused {
                wait: verdicts.iter().filter_map(|v| v.err()).max().unwrap(),
            },
        };
        assert_eq!(got, expected, "attempt {i} at {now}");
    }
}
