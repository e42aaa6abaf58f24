//! The server's own logs, at the most verbose level and in the JSON format operators ship,
//! never contain a password, a password hash, a TOTP secret, a session token, an API key or a
//! one-time ticket's token —
//! while they do contain a line per request, its duration rounded to hundredths of a
//! millisecond in either format.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use users_api_client::{
    MePatch,
    types::{TicketCreate, TicketRedeem, TicketType, UserCreate},
};

use crate::cli::users_api;

/// What the first start printed: the banner's value after `label`.
fn banner_value(banner: &str, label: &str) -> String {
    banner
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} in {banner}"))
        .trim()
        .to_owned()
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = users_api(dir.path())
        .env("RUST_LOG", "trace")
        .args(["--addr", "127.0.0.1:0", "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("sign in again") {
        assert!(
            stdout.read_line(&mut banner).unwrap() > 0,
            "banner: {banner}"
        );
    }
    // Collect every log line; report the listening address as soon as it is logged.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (address_tx, address_rx) = mpsc::channel();
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["message"] == "listening"
            {
                let _ = address_tx.send(event["addr"].as_str().unwrap_or_default().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let address = address_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let base = format!("http://{address}");

    let org_id = banner_value(&banner, "organization:");
    let email = banner_value(&banner, "admin e-mail:");
    let password = banner_value(&banner, "password:");
    let first_token = banner_value(&banner, "session token:");
    let api_key = banner_value(&banner, "API key:");
    let new_password = "log-free horse battery staple 77";
    let bcrypt_hash = bcrypt::hash("an imported password 42", 4).unwrap();
    let totp_secret = b"log-free totp secret bytes".to_vec();
    let totp_secret_b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&totp_secret)
    };

    let anonymous = users_api_client::Client::new(&base);
    let sign_in = |password: &str| users_api_client::types::SignIn {
        org_id: org_id.parse().unwrap(),
        email: email.parse().unwrap(),
        password: password.parse().unwrap(),
        totp_code: None,
        recovery_code: None,
    };
    assert!(
        anonymous
            .sign_in()
            .body(sign_in("a wrong password"))
            .send()
            .await
            .is_err()
    );
    let token = anonymous
        .sign_in()
        .body(sign_in(&password))
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .token;
    let me = users_api_client::with_bearer_token(&base, &token).unwrap();
    me.patch_me()
        .body(MePatch {
            password: Some(new_password.into()),
            current_password: Some(password.clone()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let code = totp_rs::Builder::new()
        .with_secret(totp_secret.clone())
        .build()
        .unwrap()
        .generate_current()
        .to_string();
    me.patch_me()
        .body(MePatch {
            totp_secret_base64: users_api_client::Patch::Value(totp_secret_b64.clone()),
            totp_code: Some(code),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let imported = users_api_client::with_bearer_token(&base, &api_key)
        .unwrap()
        .create_user()
        .body(UserCreate {
            primary_email: Some("imported@demo.example".parse().unwrap()),
            password_hash: Some(bcrypt_hash.clone()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data;
    // A one-time ticket, issued and redeemed (twice: the refusal is not logged with it either).
    let ticket = users_api_client::with_bearer_token(&base, &api_key)
        .unwrap()
        .create_user_ticket()
        .user_id(imported.id)
        .body(TicketCreate {
            type_: TicketType::VerifyEmail,
            ttl_seconds: None,
            redirect_url: None,
            email: None,
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .data
        .token;
    for _ in 0..2 {
        let _ = anonymous
            .redeem_ticket()
            .body(TicketRedeem {
                token: ticket.clone(),
                password: None,
                type_: None,
            })
            .send()
            .await;
    }
    // A password reset mailed by the demo run's console mailer: its link is printed on stdout
    // (that is the console mailer's job), never in the logs.
    let reset = anonymous
        .request_password_reset()
        .body(users_api_client::types::PasswordResetRequest {
            org_id: org_id.parse().unwrap(),
            email: "imported@demo.example".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 202);
    // The dispatcher polls every 500 ms; the message is printed after the commit.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // A refused, tampered token is not logged either.
    let tampered = format!("{token}x");
    assert!(
        users_api_client::with_bearer_token(&base, &tampered)
            .unwrap()
            .get_me()
            .send()
            .await
            .is_err()
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let logs = logs.join().unwrap();
    let reset_token = {
        let at = rest
            .find("reset-password?token=")
            .unwrap_or_else(|| panic!("no reset link on stdout: {rest}"))
            + "reset-password?token=".len();
        rest[at..at + 47].to_owned()
    };
    assert!(reset_token.starts_with("tkt_"), "{reset_token}");

    // The capture works: every request above has its line.
    let request_lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| l.contains("\"status\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        request_lines.len() >= 6,
        "{} request lines in:\n{logs}",
        request_lines.len()
    );
    for line in &request_lines {
        // Who asked: the TCP peer here (no trusted proxies), see tests/api/trusted_proxies.rs.
        assert!(
            line.to_string().contains(r#""client":"127.0.0.1""#),
            "{line}"
        );
        let elapsed = &line["elapsed_ms"];
        assert!(elapsed.is_f64(), "{line}");
        assert!(at_most_two_decimals(&elapsed.to_string()), "{line}");
    }
    for (what, secret) in [
        ("the demo password", password.as_str()),
        ("the new password", new_password),
        ("a wrong password", "a wrong password"),
        ("an imported hash", bcrypt_hash.as_str()),
        ("a TOTP secret", totp_secret_b64.as_str()),
        ("the first session token", first_token.as_str()),
        ("a signed-in token", token.as_str()),
        ("an API key", api_key.as_str()),
        ("a ticket token", ticket.as_str()),
        ("a ticket token's body", &ticket[4..]),
        ("a mailed reset token", &reset_token[4..]),
        ("an argon2id hash", "$argon2id$"),
        ("a bcrypt hash", "$2b$"),
    ] {
        assert!(!logs.contains(secret), "{what} is in the logs:\n{logs}");
    }
    assert!(
        !rest.contains(new_password),
        "stdout after the banner: {rest}"
    );
}

fn at_most_two_decimals(number: &str) -> bool {
    number.parse::<f64>().is_ok() && number.split_once('.').is_none_or(|(_, d)| d.len() <= 2)
}

/// Text logs, what a person reads in a terminal: `elapsed_ms=0.07`, not `0.07364899999999999`.
#[tokio::test]
async fn text_logs_round_request_durations() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = users_api(dir.path())
        .env("RUST_LOG", "info")
        .args(["--addr", "127.0.0.1:0", "--log-format", "text"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let next_line = |what: &str| {
        lines_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no log line while waiting for {what}"))
    };
    let address = loop {
        let line = next_line("listening");
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let status = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let request = loop {
        let line = next_line("the request's line");
        if line.contains("elapsed_ms=") {
            break line;
        }
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    let elapsed = request
        .split("elapsed_ms=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    assert!(at_most_two_decimals(elapsed), "{request}");
}
