"""Schemathesis hooks for users-api (loaded through `hooks` in schemathesis.toml).

Some rules of the request bodies cannot be written in OpenAPI 3.0's JSON Schema: a time zone
must be in the IANA database, a locale in the BCP 47 subtag registry, a phone number in a
numbering plan, an e-mail address valid by RFC 5322, an image URL's bytes of the declared type,
names made of letters, metadata keys from `[A-Za-z0-9_.-]`, a password hard to guess (zxcvbn), a
password hash in Modular Crypt Format, a TOTP secret of 16-128 bytes in base64, a webhook URL
absolute. The spec states them in its descriptions. Other values are valid only in the server's
state: a `selected_team_id` must name a team the user belongs to, a `cursor` must be one the API
issued, a `current_password` must be the user's password and a `totp_code` must be computed from
the secret at the current time; and some fields only mean something together (`current_password`
with `password`, `totp_code` with `totp_secret_base64`, `password` or `password_hash` but not
both). So that `positive_data_acceptance` still means "valid data is accepted", positive cases
of the bodies that create or change users, teams, API keys, sessions and webhook endpoints (POST
and PATCH) get such fields replaced, when the generated value breaks one of those rules, by a
valid value chosen from the generated one (deterministically); a proof sent without what it
proves is dropped; a key's `expires_at` is put in the future; a ticket request keeps `email`
only for `change_email`, never a `redirect_url` (the judges configure no redirect origin) and a
`ttl_seconds` within its type's longest life; suspension terms go with `status: suspended`, a
future `until` and a readable reason; an invitation (`invite: true`) carries no password or
status; a test mail and a password reset go to a valid address; positive list requests get a
well-formed cursor; positive sign-ins carry the seeded admin's real organization, address and
password (so they are 201s, not 401s). Negative
cases are never touched, and neither is any value whose JSON type is wrong: the server must
refuse those as generated.

Credentials. Schemathesis authenticates every call with one session token of the seeded admin
(TOKEN; ORG_ID, EMAIL and PASSWORD are that admin's sign-in, API_KEY the organization's key).
Calls that would end that session, or change what the hooks sign in with, are made otherwise:
- `DELETE /v1/sessions/current` (signOut) is sent, in every mode, with a throwaway session of
  the same admin, signed in for that call; so is `DELETE /v1/me/sessions/{id}` if it ever
  names the run's own session. The generated data is not changed, only whose session it ends.
- A positive `PATCH /v1/me` that changes credentials (`password`; `totp_secret_base64` with a
  secret; `null` with a `totp_code`) runs as a user of its own, created for that case through
  the API key with a known password (and, to turn 2FA off, a known TOTP secret) and signed in:
  so its `current_password` is the right one, its `totp_code` is computed from the secret, and
  a 200 really changed a password or enrolled or removed a second factor. Done on the admin it
  would break the run: a new password revokes the other sessions and the hooks' sign-ins, 2FA
  makes every sign-in need a fresh code (each 30 s step is accepted once). A `password` is a
  strong passphrase chosen from the generated one.
- The admin surface imports secrets freely: positive `POST /v1/users` and `PATCH
  /v1/users/{id}` bodies get strong passwords, valid bcrypt/argon2 hashes and valid TOTP
  secrets; those users are Schemathesis' own, never the admin.
- `POST /v1/api-keys/{id}/roll` and `DELETE /v1/api-keys/{id}` naming the organization's
  key (API_KEY, which the hooks create users with) act on a throwaway key instead.
- Positive `POST /v1/sessions/current/reauthenticate` cases send the admin's password (exactly
  one proof, and a right one); a positive `PATCH /v1/me` changing the admin's `primary_email`
  carries `current_password`, so step-up (`--reauth-window`) holds however long the run lasts.
- Positive `POST /v1/me/recovery-codes` cases run as a user of their own with 2FA on (the admin
  has none, so has no codes to replace), proving with a code of that user's secret.
- Positive `PATCH /v1/me` cases may change (or clear) the admin's `primary_email`; sign-ins use
  the address the admin has at that moment, and put the seeded one back first if it was
  cleared. Schemathesis has an organization of its own (`cargo xtask judge`), so what it does
  to its admin never reaches the judges that sign in after it.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import itertools
import json
import os
import struct
import sys
import time
import unicodedata
import zlib
from typing import Any

import requests
import schemathesis
from schemathesis.generation.modes import GenerationMode

TIMEZONES = ["UTC", "Europe/Paris", "america/new_york", "Asia/Kolkata", "Pacific/Auckland"]
LOCALES = ["en", "en-us", "fr-CA", "zh-Hant-TW", "es-419", "de-CH-1996", "sr-Latn-RS"]
PHONES = ["+14155552671", "+1 415-555-2671", "+442071838750", "+33142685300", "+81312345678"]
# A 1x1 transparent PNG.
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk"
    "YAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
IMAGES = ["https://images.example.com/a.png", "http://example.com/avatar.jpg?s=64", PNG]
NAMES = ["José", "Jean-Luc", "O'Brien", "李", "Mary Ann", "Ngũgĩ"]
TEXTS = ["Ada Lovelace", "  trimmed  ", "Émile 🚀", "日本語の名前"]

# Passphrases zxcvbn scores 4, made of no user's names or address.
PASSWORDS = [
    "correct horse battery staple 42",
    "violet tractor museum anchor 7",
    "quiet lantern orbit pebble 19",
    "Zebra-Kettle-Nimbus-Fjord-88",
]
# Hashes of PASSWORDS[0] in every accepted Modular Crypt Format (bcrypt cost 4, argon2 with
# small parameters: the server keeps them as imported until the user signs in).
PASSWORD_HASHES = [
    "$2b$04$bAkUtm2q5Rbxrf1EXFqOa.CooFn/xkcEmQfNB5bGksjJcDHgIsEWC",
    "$2a$04$bAkUtm2q5Rbxrf1EXFqOa.CooFn/xkcEmQfNB5bGksjJcDHgIsEWC",
    "$2y$04$bAkUtm2q5Rbxrf1EXFqOa.CooFn/xkcEmQfNB5bGksjJcDHgIsEWC",
    "$argon2id$v=19$m=1024,t=1,p=1$+ajbCDZHOBunUUYJd2KIRw$zlqLmfYdCsbsibiTBp73zASmUh/q/lIlL/8tFjcPydk",
    "$argon2i$v=19$m=1024,t=1,p=1$ZQpwjYW+qDiQV5yJZAO55w$Ri5nYzDx1Yy8Ee+a/e6rnGu76J9AJOhau+tRBvj9p/E",
]

# Rust's `str::trim` strips Unicode White_Space, which is not Python's `str.isspace`.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def pick(options: list[str], generated: str) -> str:
    return options[zlib.crc32(generated.encode("utf-8", "surrogatepass")) % len(options)]


def normalised(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip(WHITE_SPACE))


# Default-ignorable code points that are letters or marks (the rest are format characters, which
# `shows` refuses by category), and the variation selectors: invisible, so never a valid name.
HIDDEN = set("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0") | {
    chr(c)
    for first, last in [(0x180B, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF)]
    for c in range(first, last + 1)
}


def shows(c: str, allowed_controls: str = "") -> bool:
    """A character that reads as itself (`domain::text`, more strictly: no format characters, no
    emoji sequences)."""
    if c in allowed_controls:
        return True
    return unicodedata.category(c)[0] in "LMNPS" or unicodedata.category(c) == "Zs"


def is_name(value: str) -> bool:
    name = normalised(value)
    if not 1 <= len(name) <= 64 or not all(shows(c) and c not in HIDDEN for c in name):
        return False
    previous_is_letter = False
    for c in name:
        if c.isalpha() or (unicodedata.category(c).startswith("M") and previous_is_letter):
            previous_is_letter = True
        elif c in " -'’" and previous_is_letter:
            previous_is_letter = False
        else:
            return False
    return previous_is_letter


def is_text(value: str, max_len: int, allowed_controls: str) -> bool:
    text = normalised(value)
    return 1 <= len(text) <= max_len and not any(
        unicodedata.category(c) == "Cc" and c not in allowed_controls for c in text
    )


def is_visible_text(value: str, max_len: int, allowed_controls: str, needs_letter: bool) -> bool:
    """`display_name` and `bio`: no invisible or spoofing characters, and for a name a letter
    or digit to read."""
    text = normalised(value)
    return (
        is_text(value, max_len, allowed_controls)
        and all(shows(c, allowed_controls) and c not in HIDDEN for c in text)
        and (not needs_letter or any(unicodedata.category(c)[0] in "LN" for c in text))
    )


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def keyed(value: Any) -> Any:
    """The same shape with every object key renamed `k0`, `k1`, … (as many as generated, so a
    count over the limit stays over it, and merged results stay within 16 keys), and no NUL in
    any string: the server refuses U+0000 anywhere in a request (400), which JSON Schema
    cannot say of a free-form value."""
    if isinstance(value, dict):
        return {f"k{i}": keyed(item) for i, item in enumerate(value.values())}
    if isinstance(value, list):
        return [keyed(item) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Valid keys at every level; values kept when shallow and small enough to merge."""
    fixed = keyed(value)
    return {
        key: item if depth(item) <= 3 and len(json.dumps(item)) <= 256 else "x"
        for key, item in fixed.items()
    }


VALID_AS_GENERATED = {
    "first_name": is_name,
    "last_name": is_name,
    "display_name": lambda v: is_visible_text(v, 100, "", True),
    "bio": lambda v: is_visible_text(v, 2000, "\n\r\t", False),
    # A team's or an API key's name: the rules of `display_name`.
    "name": lambda v: is_visible_text(v, 100, "", True),
}
# A webhook endpoint's `url` must be an absolute URL, and (unless the server runs with
# --webhooks-allow-private-urls, as `cargo xtask judge` runs it) https:// to public addresses
# only, which JSON Schema cannot state. Port 9 on loopback refuses connections: the fuzzed
# endpoints' deliveries fail at once and never leave the machine.
WEBHOOK_URLS = ["http://127.0.0.1:9/users-api", "http://[::1]:9/hooks?from=users-api"]
ALWAYS_CHOSEN = {
    "timezone": TIMEZONES,
    "locale": LOCALES,
    "phone_number": PHONES,
    "profile_image_url": IMAGES,
    "url": WEBHOOK_URLS,
}
REPLACEMENTS = {
    "first_name": NAMES,
    "last_name": NAMES,
    "display_name": TEXTS,
    "bio": TEXTS,
    "name": TEXTS,
}
METADATA = ["client_metadata", "client_read_only_metadata", "server_metadata"]

# Each positive case gets an address of its own, so that one case's address never makes
# another's a 409 (the counter keeps runs deterministic: generation is).
ADDRESSES = itertools.count()


def address(generated: str) -> str:
    return f"user{next(ADDRESSES)}.{zlib.crc32(generated.encode('utf-8', 'surrogatepass')):08x}@example.org"


def cursor(generated: str) -> str:
    """A cursor as the API issues them (`domain::Cursor`): URL-safe base64 of a version byte,
    a 16-byte id and the first 4 bytes of the SHA-256 of those 17. Any id is a valid position
    in a keyset list, so one is derived from the generated text."""
    payload = b"\x01" + hashlib.sha256(generated.encode("utf-8", "surrogatepass")).digest()[:16]
    raw = payload + hashlib.sha256(payload).digest()[:4]
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def totp_secret(generated: str) -> str:
    """A TOTP secret (standard base64 of 20 bytes, the usual size) derived from the generated
    text."""
    digest = hashlib.sha256(generated.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest[:20]).decode("ascii")


def totp(secret_base64: str, step: int) -> str:
    """RFC 6238 as the server checks it: HMAC-SHA1 of the 30-second step, 6 digits."""
    mac = hmac.new(base64.b64decode(secret_base64), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = (struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def current_step() -> int:
    return int(time.time()) // 30


def positive(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


# The seeded admin and organization (set by `cargo xtask judge`).
BASE_URL = os.environ["BASE_URL"].rstrip("/")
TOKEN = os.environ["TOKEN"]
API_KEY = os.environ["API_KEY"]
ORG_ID = os.environ["ORG_ID"]
EMAIL = os.environ["EMAIL"]
PASSWORD = os.environ["PASSWORD"]


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# The organization's own key(s), created with the organization: the hooks create users with
# API_KEY, so Schemathesis' rolls and revocations of it go to a throwaway key instead.
PROTECTED_KEYS = {
    key["id"].lower()
    for key in requests.get(
        BASE_URL + "/v1/api-keys", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).json()["data"]
}

# The session Schemathesis authenticates with, and its user.
SESSION_ID = claims(TOKEN)["sid"].lower()
ADMIN_ID = claims(TOKEN)["sub"].lower()
HTTP = requests.Session()


# What went wrong in the hooks' own requests. Schemathesis reports a hook's exception as an
# error of that case, but in the stateful phase it can take one for a flaky step and pass: so
# the run also fails at exit (`verdict`).
FAILURES: list[str] = []


def call(method: str, path: str, credential: str | None, body: Any = None) -> dict[str, Any]:
    """A request of the hooks' own; anything but a 2xx fails the case and the run."""
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    response = HTTP.request(method, BASE_URL + path, json=body, headers=headers, timeout=10)
    if not response.ok:
        failure = f"{method} {path} answered {response.status_code}: {response.text}"
        FAILURES.append(failure)
        raise RuntimeError(f"hooks: {failure}")
    return response.json() if response.content else {}


@atexit.register
def verdict() -> None:
    """At exit: the run's session must have survived every call (else the hooks missed one
    that ends it, and what came after it proved little), and no request of the hooks' own may
    have failed. Either makes the exit status 1."""
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        status = HTTP.get(BASE_URL + "/v1/me", headers=headers, timeout=10).status_code
    except requests.RequestException as error:
        status = f"no answer ({error})"
    if status != 200:
        FAILURES.append(f"the run's session did not survive: GET /v1/me answered {status}")
    if FAILURES:
        print("\nhooks.py: FAILED", *FAILURES, sep="\n  ", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def admin_email() -> str:
    """The admin's address now: positive PATCH /v1/me cases change it, or clear it (then the
    seeded one is put back, or the admin could not sign in at all)."""
    email = call("GET", "/v1/me", TOKEN)["data"]["primary_email"]
    if email is None:
        call("PATCH", "/v1/me", TOKEN, {"primary_email": EMAIL})
        email = EMAIL
    return email


def sign_in(email: str, password: str, totp_code: str | None = None) -> dict[str, Any]:
    body = {"org_id": ORG_ID, "email": email, "password": password}
    if totp_code is not None:
        body["totp_code"] = totp_code
    return call("POST", "/v1/sessions", None, body)["data"]


def throwaway_session() -> dict[str, Any]:
    """A new session of the admin: `token` and `session`."""
    return sign_in(admin_email(), PASSWORD)


# Users made for positive PATCH /v1/me cases that change credentials.
ME_USERS = itertools.count()


def user_of_its_own(totp_secret_base64: str | None) -> tuple[str, int | None]:
    """A new member with password PASSWORDS[0] (and 2FA with this secret), signed in: its token
    and, with 2FA, the TOTP step its sign-in used."""
    email = f"credentials{next(ME_USERS)}@judges.example.org"
    body = {"primary_email": email, "password": PASSWORDS[0]}
    if totp_secret_base64 is not None:
        body["totp_secret_base64"] = totp_secret_base64
    call("POST", "/v1/users", API_KEY, body)
    step = None if totp_secret_base64 is None else current_step()
    code = None if step is None else totp(totp_secret_base64, step)
    return sign_in(email, PASSWORDS[0], code)["token"], step


def authorization(case) -> str | None:
    for name, value in (case.headers or {}).items():
        if name.lower() == "authorization":
            return value
    return None


def authenticate_as(case, token: str) -> None:
    headers = {
        name: value for name, value in (case.headers or {}).items() if name.lower() != "authorization"
    }
    case.headers = {**headers, "Authorization": f"Bearer {token}"}


def protect_the_run_session(case) -> None:
    """Calls that would end the run's own session end a throwaway one instead (in any mode:
    this is whose session the call ends, not the data under test)."""
    operation = (case.method.upper(), case.path)
    parameters = case.path_parameters or {}
    if str(parameters.get("user_id", "")).lower() == ADMIN_ID:
        if operation == ("DELETE", "/v1/users/{user_id}/sessions"):
            # Every session of the run's admin would end, the run's own with them: a
            # stand-in with a session of its own is signed out instead.
            token, _ = user_of_its_own(None)
            me = call("GET", "/v1/me", token)["data"]
            case.path_parameters = {**parameters, "user_id": me["id"]}
        elif operation == ("DELETE", "/v1/users/{user_id}/sessions/{session_id}") and str(
            parameters.get("session_id", "")
        ).lower() == SESSION_ID:
            throwaway = throwaway_session()
            case.path_parameters = {**parameters, "session_id": throwaway["session"]["id"]}
    if authorization(case) != f"Bearer {TOKEN}":
        return
    if operation == ("DELETE", "/v1/sessions/current"):
        authenticate_as(case, throwaway_session()["token"])
    elif operation == ("DELETE", "/v1/me/sessions/{session_id}") and str(
        (case.path_parameters or {}).get("session_id", "")
    ).lower() == SESSION_ID:
        # Schemathesis infers links from GET and PATCH /v1/me (`data.session.id`, the current
        # session) to here: the current session, revoked by id, is then the throwaway one.
        throwaway = throwaway_session()
        authenticate_as(case, throwaway["token"])
        case.path_parameters = {**case.path_parameters, "session_id": throwaway["session"]["id"]}


def protect_the_run_key(case) -> None:
    """A roll or revocation of the organization's key acts on a throwaway key instead (in any
    mode: this is which key the call changes, not the data under test)."""
    if (case.method.upper(), case.path) not in (
        ("POST", "/v1/api-keys/{key_id}/roll"),
        ("DELETE", "/v1/api-keys/{key_id}"),
    ):
        return
    parameters = case.path_parameters or {}
    if str(parameters.get("key_id", "")).lower() not in PROTECTED_KEYS:
        return
    body = {"name": "stand-in", "scopes": ["users:read"]}
    created = call("POST", "/v1/api-keys", TOKEN, body)["data"]
    case.path_parameters = {**parameters, "key_id": created["id"]}


def protect_the_run_admin(case) -> None:
    """Positive DELETE and PATCH /v1/users/{id} naming the run's own admin (Schemathesis infers
    links from `GET /v1/users` items to them) act on a user of their own instead: deleting,
    suspending, demoting the admin or changing its password would end the run's session or
    its rights."""
    if case.path != "/v1/users/{user_id}" or case.method.upper() not in ("DELETE", "PATCH"):
        return
    if str((case.path_parameters or {}).get("user_id", "")).lower() != ADMIN_ID:
        return
    email = f"stand-in{next(ME_USERS)}@judges.example.org"
    created = call("POST", "/v1/users", API_KEY, {"primary_email": email, "role": "admin"})
    case.path_parameters = {**case.path_parameters, "user_id": created["data"]["id"]}


def sign_in_body(body: dict[str, Any]) -> dict[str, Any]:
    """A positive sign-in is the admin's: real organization, current address, password. A
    `totp_code` or a `recovery_code` stays as generated (the admin has no second factor, so it
    is not checked), but not both: one of them is all a sign-in takes (400 otherwise)."""
    body = {**body, "org_id": ORG_ID, "email": admin_email(), "password": PASSWORD}
    if "totp_code" in body and "recovery_code" in body:
        del body["recovery_code"]
    return body


def credential_fields(body: dict[str, Any], me: bool) -> dict[str, Any]:
    """Valid passwords, hashes and TOTP secrets; proofs without what they prove dropped."""
    body = dict(body)
    if isinstance(body.get("password"), str):
        body["password"] = pick(PASSWORDS, body["password"])
    if isinstance(body.get("password_hash"), str):
        body["password_hash"] = pick(PASSWORD_HASHES, body["password_hash"])
    if isinstance(body.get("totp_secret_base64"), str):
        body["totp_secret_base64"] = totp_secret(body["totp_secret_base64"])
    if "password" in body and "password_hash" in body:
        # One or the other (422 otherwise): the plain password is kept.
        del body["password_hash"]
    if me:
        if "current_password" in body and "password" not in body:
            del body["current_password"]
        if "totp_code" in body and "totp_secret_base64" not in body:
            del body["totp_code"]
    return body


def changes_credentials(body: dict[str, Any]) -> bool:
    """Whether a (fixed) PATCH /v1/me body would change the caller's password or 2FA."""
    secret = body.get("totp_secret_base64", ())
    return "password" in body or isinstance(secret, str) or (secret is None and "totp_code" in body)


def me_as_its_own_user(case, body: dict[str, Any]) -> dict[str, Any]:
    """Runs a credential change as a user of its own (see the module's docstring), with the
    proofs that user can give."""
    secret = body.get("totp_secret_base64", ())
    turning_off = secret is None and "totp_code" in body
    known_secret = totp_secret(f"own{case.id}") if turning_off else None
    token, step = user_of_its_own(known_secret)
    authenticate_as(case, token)
    body = dict(body)
    if "password" in body and isinstance(body["password"], str):
        body["current_password"] = PASSWORDS[0]
    if isinstance(secret, str):
        # Enrolling: the code of the current step, from the new secret.
        body["totp_code"] = totp(secret, current_step())
    elif turning_off:
        # The sign-in used `step`, and each step counts once: the next one (within the
        # server's one step of skew).
        body["totp_code"] = totp(known_secret, step + 1)
    return body


# The longest life of each ticket type, in seconds (`domain::TicketType::max_ttl`).
TICKET_MAX_TTL = {
    "reset_password": 86_400,
    "verify_email": 7 * 86_400,
    "change_email": 7 * 86_400,
    "invite": 30 * 86_400,
}


def request_body_rules(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The rules between fields of one body that JSON Schema does not state."""
    body = dict(body)
    if path == "/v1/api-keys" and isinstance(body.get("expires_at"), str):
        body["expires_at"] = "2099-01-01T00:00:00Z"
    elif path == "/v1/users/{user_id}/tickets":
        body.pop("redirect_url", None)
        kind = body.get("type")
        if kind != "change_email":
            body.pop("email", None)
        else:
            body["email"] = address(str(body.get("email", "")))
        ttl = body.get("ttl_seconds")
        if isinstance(ttl, int) and kind in TICKET_MAX_TTL:
            body["ttl_seconds"] = min(ttl, TICKET_MAX_TTL[kind])
    elif path == "/v1/users" and body.get("invite") is True:
        for field in ("password", "password_hash", "status", "suspension"):
            body.pop(field, None)
    elif path in ("/v1/users", "/v1/users/{user_id}") and isinstance(body.get("suspension"), dict):
        # Terms go with `status: suspended`, and end in the future.
        body["status"] = "suspended"
        terms = dict(body["suspension"])
        if isinstance(terms.get("until"), str):
            terms["until"] = "2099-01-01T00:00:00Z"
        if isinstance(terms.get("reason"), str):
            terms["reason"] = pick(TEXTS, terms["reason"])
        body["suspension"] = terms
        body.pop("invite", None)
    elif path == "/v1/mail/test" and isinstance(body.get("to"), str):
        body["to"] = address(body["to"])
    elif path == "/v1/password-resets" and isinstance(body.get("email"), str):
        body["email"] = address(body["email"])
    return body


@schemathesis.hook
def before_call(context, case, **kwargs):
    protect_the_run_session(case)
    protect_the_run_key(case)
    if not positive(case):
        return
    protect_the_run_admin(case)
    if isinstance(case.query, dict) and isinstance(case.query.get("cursor"), str):
        case.query = {**case.query, "cursor": cursor(case.query["cursor"])}
    if case.method.upper() not in ("POST", "PATCH") or not isinstance(case.body, dict):
        return
    if (case.method.upper(), case.path) == ("POST", "/v1/sessions"):
        case.body = sign_in_body(case.body)
        return
    if (case.method.upper(), case.path) == ("POST", "/v1/sessions/current/reauthenticate"):
        # Exactly one proof, and a right one: the admin's password (the admin has no 2FA).
        case.body = {"password": PASSWORD}
        return
    if (case.method.upper(), case.path) == ("POST", "/v1/me/recovery-codes"):
        # Only a user with 2FA has codes to replace, proved by a current code: a user of its
        # own with a known secret, signed in, proving with the step after its sign-in's.
        secret = totp_secret(f"codes{case.id}")
        token, step = user_of_its_own(secret)
        authenticate_as(case, token)
        case.body = {**case.body, "totp_code": totp(secret, step + 1)}
        return
    me = case.path == "/v1/me"
    body = credential_fields(request_body_rules(case.path, case.body), me)
    for field, value in body.items():
        if not isinstance(value, str):
            continue
        if field in ALWAYS_CHOSEN:
            body[field] = pick(ALWAYS_CHOSEN[field], value)
        elif field == "primary_email":
            body[field] = address(value)
        elif field == "selected_team_id":
            # Only a team the user belongs to is valid, and no generated id is one; `null`
            # (clear it) is always valid.
            body[field] = None
        elif field in VALID_AS_GENERATED and not VALID_AS_GENERATED[field](value):
            body[field] = pick(REPLACEMENTS[field], value)
    for field in METADATA:
        if isinstance(body.get(field), dict):
            body[field] = metadata(body[field])
    if me and changes_credentials(body) and authorization(case) == f"Bearer {TOKEN}":
        body = me_as_its_own_user(case, body)
    elif me and "primary_email" in body and authorization(case) == f"Bearer {TOKEN}":
        # Step-up: a new address needs a session signed in within --reauth-window (TOKEN's may
        # be older in a long run) or the current password in the same request.
        body["current_password"] = PASSWORD
    case.body = body
