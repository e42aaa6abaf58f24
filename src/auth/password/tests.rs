use argon2::{PasswordHasher, PasswordVerifier};

use super::*;

const STRONG: &str = "correct horse battery staple 42";

#[test]
fn the_policy_refuses_short_long_and_guessable_passwords() {
    let code = |raw: &str| NewPassword::parse(raw, &[]).map(|_| ()).map_err(|e| e.code);
    assert_eq!(code("Tr0ub4!"), Err(ErrorCode::WeakPassword));
    assert_eq!(code(&"x".repeat(257)), Err(ErrorCode::WeakPassword));
    for weak in [
        "password1",
        "P@ssw0rd!",
        "qwertyuiop",
        "12345678",
        "iloveyou2",
    ] {
        assert_eq!(code(weak), Err(ErrorCode::WeakPassword), "{weak}");
    }
    assert_eq!(code(STRONG), Ok(()));
    assert_eq!(code(&"kV9#qL2!".repeat(32)), Ok(()));
}

#[test]
fn a_password_made_of_the_users_own_name_is_weak() {
    let raw = "ada.lovelace@example.com";
    assert!(NewPassword::parse(raw, &[]).is_ok());
    assert!(NewPassword::parse(raw, &["ada.lovelace@example.com", "Ada", "Lovelace"]).is_err());
}

#[tokio::test]
async fn argon2id_hashes_verify_and_need_no_rehash() {
    let password = NewPassword::parse(STRONG, &[]).unwrap();
    let stored = hash(password.as_str()).await.unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
        "{stored}"
    );
    assert_eq!(
        verify(STRONG, Some(&stored)).await.unwrap(),
        Verdict::Right { rehash: false }
    );
    assert_eq!(
        verify("wrong", Some(&stored)).await.unwrap(),
        Verdict::Wrong
    );
    assert_eq!(verify(STRONG, None).await.unwrap(), Verdict::Wrong);
    // The reference implementation agrees with ours, which reuses its memory.
    let parsed = PasswordHash::new(&stored).unwrap();
    assert!(argon2().verify_password(STRONG.as_bytes(), &parsed).is_ok());
    assert!(argon2().verify_password(b"wrong", &parsed).is_err());
}

#[tokio::test]
async fn imported_bcrypt_and_argon2i_hashes_verify_and_ask_for_an_upgrade() {
    let bcrypt = bcrypt::hash(STRONG, 4).unwrap().replacen("$2b$", "$2y$", 1);
    assert!(ImportedHash::parse(&bcrypt).is_ok());
    assert_eq!(
        verify(STRONG, Some(&bcrypt)).await.unwrap(),
        Verdict::Right { rehash: true }
    );
    assert_eq!(verify("nope", Some(&bcrypt)).await.unwrap(), Verdict::Wrong);

    let params = Params::new(1024, 1, 1, None).unwrap();
    let salt = SaltString::generate(&mut OsRng);
    let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
        .hash_password(STRONG.as_bytes(), &salt)
        .unwrap()
        .to_string();
    assert!(ImportedHash::parse(&argon2i).is_ok());
    assert_eq!(
        verify(STRONG, Some(&argon2i)).await.unwrap(),
        Verdict::Right { rehash: true }
    );
}

#[test]
fn other_or_malformed_hashes_are_refused() {
    for bad in [
        "",
        "plaintext",
        "$1$saltsalt$hash",
        "$5$rounds=5000$salt$hash",
        "$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$2b$10$short",
        "$2b$31$0123456789012345678901uABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ",
    ] {
        assert_eq!(
            ImportedHash::parse(bad).map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::InvalidPasswordHash),
            "{bad}"
        );
    }
}

/// A well-formed argon2id PHC string with these parameters (the hash itself is not checked
/// on import).
fn argon2id(m: u32, t: u32, p: u32) -> String {
    format!("$argon2id$v=19$m={m},t={t},p={p}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
}

#[test]
fn imports_are_limited_to_bcrypt_cost_12_and_argon2_64_mib_three_passes() {
    let bcrypt_of_cost = |cost: u32| {
        let hash = bcrypt::hash_with_salt(STRONG, 4, [7; 16]).unwrap();
        format!(
            "$2b${cost:02}${}",
            hash.format_for_version(bcrypt::Version::TwoB)[7..].to_owned()
        )
    };
    assert!(ImportedHash::parse(&bcrypt_of_cost(12)).is_ok());
    let refused = ImportedHash::parse(&bcrypt_of_cost(13)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidPasswordHash);
    assert!(refused.reason.contains("above 12"), "{}", refused.reason);

    for accepted in [(65536, 3, 4), (32768, 6, 1), (19456, 2, 1), (65536, 1, 8)] {
        let (m, t, p) = accepted;
        assert!(
            ImportedHash::parse(&argon2id(m, t, p)).is_ok(),
            "{accepted:?}"
        );
    }
    for refused in [(65537, 1, 1), (65536, 4, 1), (32768, 7, 1), (65536, 1, 9)] {
        let (m, t, p) = refused;
        let why = ImportedHash::parse(&argon2id(m, t, p)).unwrap_err();
        assert_eq!(why.code, ErrorCode::InvalidPasswordHash);
        assert!(
            why.reason.contains("m=65536 (64 MiB)"),
            "{refused:?}: {}",
            why.reason
        );
    }
}

/// The work the checks of `run` did on this thread.
fn work_of(run: impl FnOnce() -> Verdict) -> (Verdict, u64) {
    let before = WORK_DONE.get();
    let verdict = run();
    (verdict, WORK_DONE.get() - before)
}

#[test]
fn a_wrong_password_never_costs_less_than_todays_hash() {
    let cheap = bcrypt::hash(STRONG, 4).unwrap();
    let (verdict, work) = work_of(|| verify_now("wrong", Some(&cheap)));
    assert_eq!(verdict, Verdict::Wrong);
    assert_eq!(
        work,
        (BCRYPT_ROUND_WORK << 4) + DEFAULT_WORK,
        "padded by one default check"
    );
    // Unknown accounts: the dummy check alone.
    assert_eq!(
        work_of(|| verify_now("wrong", None)),
        (Verdict::Wrong, DEFAULT_WORK)
    );
    assert_eq!(
        work_of(|| verify_now("wrong", Some("garbage"))).1,
        DEFAULT_WORK
    );
    // Today's hash is padding enough.
    let current = hash_now(STRONG).unwrap();
    assert_eq!(
        work_of(|| verify_now("wrong", Some(&current))).1,
        DEFAULT_WORK
    );
    // A right password is not padded: the upgrade to today's hash follows it.
    let (verdict, work) = work_of(|| verify_now(STRONG, Some(&cheap)));
    assert_eq!(verdict, Verdict::Right { rehash: true });
    assert!(work < DEFAULT_WORK);
}

#[test]
fn imports_costlier_than_todays_hash_are_not_padded() {
    let costly = bcrypt::hash(STRONG, 10).unwrap();
    assert!(work(&costly) >= DEFAULT_WORK);
    assert_eq!(
        work_of(|| verify_now("wrong", Some(&costly))).1,
        work(&costly)
    );
    assert!(work(&bcrypt::hash(STRONG, 9).unwrap()) < DEFAULT_WORK);
    assert_eq!(work(&argon2id(65536, 3, 4)), 3 * 65536);
}
