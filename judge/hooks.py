"""Schemathesis hooks for users-api (loaded through `hooks` in schemathesis.toml).

Some rules of the request bodies cannot be written in OpenAPI 3.0's JSON Schema: a time zone
must be in the IANA database, a locale in the BCP 47 subtag registry, a phone number in a
numbering plan, an e-mail address valid by RFC 5322, an image URL's bytes of the declared type,
names made of letters, metadata keys from `[A-Za-z0-9_.-]`. The spec states them in its
descriptions. Other values are valid only in the server's state: a `selected_team_id` must name a
team the user belongs to, and a `cursor` must be one the API issued. So that
`positive_data_acceptance` still means "valid data is accepted", positive cases of the bodies
that create or change users, teams and API keys (POST and PATCH) get such fields replaced, when
the generated value breaks one of those rules, by a valid value chosen from the generated one
(deterministically), and positive list requests get a well-formed cursor. Negative cases are
never touched, and neither is any value whose JSON type is wrong: the server must refuse those
as generated.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import unicodedata
import zlib
from typing import Any

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

# Rust's `str::trim` strips Unicode White_Space, which is not Python's `str.isspace`.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def pick(options: list[str], generated: str) -> str:
    return options[zlib.crc32(generated.encode("utf-8", "surrogatepass")) % len(options)]


def normalised(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip(WHITE_SPACE))


def is_name(value: str) -> bool:
    name = normalised(value)
    if not 1 <= len(name) <= 64:
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


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def keyed(value: Any) -> Any:
    """The same shape with every object key renamed `k0`, `k1`, … (as many as generated, so a
    count over the limit stays over it, and merged results stay within 16 keys)."""
    if isinstance(value, dict):
        return {f"k{i}": keyed(item) for i, item in enumerate(value.values())}
    if isinstance(value, list):
        return [keyed(item) for item in value]
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
    "display_name": lambda v: is_text(v, 100, ""),
    "bio": lambda v: is_text(v, 2000, "\n\r\t"),
    # A team's or an API key's name: the rules of `display_name`.
    "name": lambda v: is_text(v, 100, ""),
}
ALWAYS_CHOSEN = {
    "timezone": TIMEZONES,
    "locale": LOCALES,
    "phone_number": PHONES,
    "profile_image_url": IMAGES,
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


def positive(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def before_call(context, case, **kwargs):
    if not positive(case):
        return
    if isinstance(case.query, dict) and isinstance(case.query.get("cursor"), str):
        case.query = {**case.query, "cursor": cursor(case.query["cursor"])}
    if case.method.upper() not in ("POST", "PATCH") or not isinstance(case.body, dict):
        return
    body = dict(case.body)
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
    case.body = body
