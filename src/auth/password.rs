//! Passwords: the policy a new one must meet, argon2id hashing, and verification of stored
//! hashes — argon2id as written here, or bcrypt and argon2 hashes imported in Modular Crypt
//! Format, which are upgraded to argon2id at the next successful sign-in. Hashing is slow and
//! memory-hungry on purpose, so it runs on a few dedicated threads, one per core (`hash`,
//! `verify`): a burst of sign-ins queues instead of exhausting memory, and since the same
//! threads hash every time, the allocator keeps at most one hash's memory per thread rather
//! than one per blocking-pool thread that ever hashed.

use std::{
    cell::RefCell,
    sync::{Arc, LazyLock, Mutex, mpsc},
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{Output, ParamsString, SaltString, rand_core::OsRng},
};
use tokio::sync::oneshot;

use crate::{
    domain::Invalid,
    error::{ApiError, ErrorCode},
};

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 256;
/// zxcvbn's "safely unguessable" (about 10^10 guesses): refuses common passwords, dictionary
/// words with the usual substitutions, keyboard walks, and passwords built from the user's own
/// name or address.
pub const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// One of OWASP's equivalent argon2id minimums: 12 MiB of memory, 3 passes, 1 lane. The same
/// work as the 19 MiB, 2-pass baseline (36 against 38 MiB-passes) in two thirds of the memory:
/// one hash's memory per hashing thread is most of what a burst of sign-ins adds to the
/// process, which is held to 64 MB. Hashes with the former parameters are upgraded at the next
/// sign-in.
pub const ARGON2_M_KIB: u32 = 12 * 1024;
pub const ARGON2_T: u32 = 3;
pub const ARGON2_P: u32 = 1;

/// Limits on imported hashes, so that one imported user cannot make each sign-in attempt cost
/// much more than today's hash: what real deployments export, and no more. bcrypt's default
/// is 10–12; argon2's ceiling is RFC 9106's second recommendation (64 MiB, 3 passes). The
/// lanes of one hash run one after another here, so `p` adds no work; it is bounded only for
/// sanity, above the usual exports (1–4, or the exporter's core count).
const MAX_BCRYPT_COST: u32 = 12;
const MAX_IMPORTED_M_KIB: u32 = 64 * 1024;
const MAX_IMPORTED_WORK: u64 = 3 * 64 * 1024;
const MAX_IMPORTED_P: u32 = 8;

/// The work of today's hash, in argon2 block passes (KiB of memory × passes).
const DEFAULT_WORK: u64 = ARGON2_M_KIB as u64 * ARGON2_T as u64;
/// One bcrypt round (of `2^cost`) in argon2 block passes, deliberately low: measured nearer
/// 150, so that a bcrypt hash is never judged costlier than it is (cost 9 and below count as
/// cheaper than today's hash and get padded, see `verify`).
const BCRYPT_ROUND_WORK: u64 = 64;

/// A password that met the policy. Never logged: `Debug` hides it.
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

impl NewPassword {
    /// `user_inputs` are the user's own names and address: a password made of them is weak.
    pub fn parse(raw: &str, user_inputs: &[&str]) -> Result<Self, Invalid> {
        let weak = |reason: &str| Invalid::new(ErrorCode::WeakPassword, reason);
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(weak("must be at least 8 characters"));
        }
        if chars > MAX_CHARS {
            return Err(weak("must be at most 256 characters"));
        }
        if zxcvbn::zxcvbn(raw, user_inputs).score() < MIN_SCORE {
            return Err(weak(
                "too easy to guess: avoid common passwords, words with simple substitutions, \
                 keyboard patterns and your own name or address; a few unrelated words work well",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password hash to import, in Modular Crypt Format: bcrypt (`$2a$`, `$2b$`, `$2y$`) or
/// argon2 (`$argon2id$`, `$argon2i$`). Stored as given; upgraded at the next sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedHash(String);

impl ImportedHash {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let invalid = |reason: &str| Invalid::new(ErrorCode::InvalidPasswordHash, reason);
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| raw.starts_with(p)) {
            let parts: bcrypt::HashParts = raw
                .parse()
                .map_err(|_| invalid("not a well-formed bcrypt hash"))?;
            if parts.get_cost() > MAX_BCRYPT_COST {
                return Err(invalid(&format!(
                    "bcrypt cost above {MAX_BCRYPT_COST} is not accepted"
                )));
            }
            return Ok(Self(raw.to_owned()));
        }
        if raw.starts_with("$argon2id$") || raw.starts_with("$argon2i$") {
            let hash =
                PasswordHash::new(raw).map_err(|_| invalid("not a well-formed argon2 hash"))?;
            let params =
                Params::try_from(&hash).map_err(|_| invalid("argon2 parameters out of range"))?;
            if hash.hash.is_none() || hash.salt.is_none() {
                return Err(invalid("an argon2 hash needs a salt and a hash"));
            }
            if params.m_cost() > MAX_IMPORTED_M_KIB
                || argon2_work(&params) > MAX_IMPORTED_WORK
                || params.p_cost() > MAX_IMPORTED_P
            {
                return Err(invalid(&format!(
                    "argon2 parameters above m={MAX_IMPORTED_M_KIB} (64 MiB), \
                     t×m={MAX_IMPORTED_WORK} (3 passes over 64 MiB) or p={MAX_IMPORTED_P} \
                     are not accepted"
                )));
            }
            return Ok(Self(raw.to_owned()));
        }
        Err(invalid(
            "must be bcrypt ($2a$, $2b$, $2y$) or argon2 ($argon2id$, $argon2i$) in Modular Crypt Format",
        ))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    /// Right; `rehash` when the stored hash is not argon2id with today's parameters.
    Right {
        rehash: bool,
    },
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
        .expect("the argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, one per core, fed from one queue.
static HASHERS: LazyLock<Mutex<mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for n in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("password-hash-{n}"))
            .spawn(move || {
                loop {
                    let job = receiver
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start a password hashing thread");
        }
    }
    Mutex::new(sender)
});

/// Runs `work` on a hashing thread and waits for it without blocking the runtime.
async fn on_hasher<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (done, result) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    HASHERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send(job)
        .map_err(|_| ApiError::internal("the password hashing threads are gone"))?;
    result
        .await
        .map_err(|_| ApiError::internal("a password hashing job was dropped"))
}

/// The argon2id PHC string of `password`, with a fresh salt. Takes any string: an imported
/// hash's password is re-hashed as it is, whatever today's policy says.
pub async fn hash(password: &str) -> Result<String, ApiError> {
    let password = password.to_owned();
    on_hasher(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = argon2();
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(ApiError::internal)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon2, password, raw_salt, &mut out).map_err(ApiError::internal)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(ApiError::internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(ApiError::internal)?),
    };
    Ok(hash.to_string())
}

thread_local! {
    /// The memory of one argon2 computation with today's parameters (12 MiB), kept by each
    /// hashing thread and reused: allocating and freeing it per hash made the allocator keep
    /// a fresh copy per sign-in (measured: RSS grew by that much on every request).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `argon2` on this thread's reusable memory when the parameters are today's, else on
/// memory of its own (imported hashes, until their first sign-in upgrades them).
fn compute(argon2: &Argon2<'_>, password: &str, salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    if argon2.params().m_cost() != ARGON2_M_KIB {
        let mut own = vec![Block::default(); blocks];
        return argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut own);
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
    })
}

/// Checks `password` against `stored`. A wrong answer never costs less than today's hash: with
/// no stored hash (no such user, or no password), or one cheaper than today's (an imported
/// cost-4 bcrypt), a dummy argon2id hash with today's parameters is checked as well. So timing
/// tells neither whether an account exists nor whether its hash was imported. The padding is
/// real work on the hashing threads, not a sleep: it queues like every other check under load,
/// where a sleep would answer sooner than a busy hasher and leak again.
pub async fn verify(password: &str, stored: Option<&str>) -> Result<Verdict, ApiError> {
    let password = password.to_owned();
    let stored = stored.map(str::to_owned);
    on_hasher(move || verify_now(&password, stored.as_deref())).await
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_now("a password that no account has").unwrap_or_else(|_| String::from("$argon2id$"))
});

fn verify_now(password: &str, stored: Option<&str>) -> Verdict {
    let verdict = stored.map_or(Verdict::Wrong, |stored| check(password, stored));
    if verdict == Verdict::Wrong && stored.is_none_or(|stored| work(stored) < DEFAULT_WORK) {
        let _ = check(password, &DUMMY_HASH);
    }
    verdict
}

/// What checking a password against `stored` costs, in argon2 block passes; 0 for what is
/// not a hash (it is refused at once).
fn work(stored: &str) -> u64 {
    if stored.starts_with("$2") {
        let cost = stored
            .parse::<bcrypt::HashParts>()
            .map_or(0, |parts| parts.get_cost());
        return BCRYPT_ROUND_WORK << cost.min(31);
    }
    PasswordHash::new(stored)
        .ok()
        .and_then(|hash| Params::try_from(&hash).ok())
        .map_or(0, |params| argon2_work(&params))
}

fn argon2_work(params: &Params) -> u64 {
    u64::from(params.m_cost()) * u64::from(params.t_cost())
}

#[cfg(test)]
thread_local! {
    /// The work this thread's checks did, so tests can see the padding happen.
    static WORK_DONE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn check(password: &str, stored: &str) -> Verdict {
    #[cfg(test)]
    WORK_DONE.with(|done| done.set(done.get() + work(stored)));
    if stored.starts_with("$2") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verdict::Right { rehash: true },
            _ => Verdict::Wrong,
        };
    }
    let Ok(hash) = PasswordHash::new(stored) else {
        return Verdict::Wrong;
    };
    if !argon2_matches(password, &hash) {
        return Verdict::Wrong;
    }
    let current = hash.algorithm == Algorithm::Argon2id.ident()
        && hash.version == Some(Version::V0x13.into())
        && Params::try_from(&hash).is_ok_and(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost()) == (ARGON2_M_KIB, ARGON2_T, ARGON2_P)
        });
    Verdict::Right { rehash: !current }
}

/// Whether `password` gives `hash` under the hash's own algorithm, version and parameters;
/// the comparison is constant-time (`Output`'s equality).
fn argon2_matches(password: &str, hash: &PasswordHash<'_>) -> bool {
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(hash.algorithm), Params::try_from(hash))
    else {
        return false;
    };
    let version = hash.version.map_or(Ok(Version::V0x13), Version::try_from);
    let Ok(version) = version else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    compute(&argon2, password, raw_salt, &mut out).is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests;
