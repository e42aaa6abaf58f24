"""Schemathesis hooks for users-api (loaded through `hooks` in schemathesis.toml).

Some rules of the PATCH bodies cannot be written in OpenAPI 3.0's JSON Schema: a time zone must
be in the IANA database, a locale in the BCP 47 subtag registry, a phone number in a numbering
plan, an image URL's bytes of the declared type, names made of letters, metadata keys from
`[A-Za-z0-9_.-]`. The spec states them in its descriptions. So that `positive_data_acceptance`
still means "valid data is accepted", positive cases get such fields replaced, when the
generated value breaks one of those rules, by a valid value chosen from the generated one
(deterministically). Negative cases are never touched, and neither is any value whose JSON type
is wrong: the server must refuse those as generated.
"""

from __future__ import annotations

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
}
ALWAYS_CHOSEN = {
    "timezone": TIMEZONES,
    "locale": LOCALES,
    "phone_number": PHONES,
    "profile_image_url": IMAGES,
}
REPLACEMENTS = {"first_name": NAMES, "last_name": NAMES, "display_name": TEXTS, "bio": TEXTS}


@schemathesis.hook
def before_call(context, case, **kwargs):
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return
    if case.method.upper() != "PATCH" or not isinstance(case.body, dict):
        return
    body = dict(case.body)
    for field, value in body.items():
        if not isinstance(value, str):
            continue
        if field in ALWAYS_CHOSEN:
            body[field] = pick(ALWAYS_CHOSEN[field], value)
        elif field in VALID_AS_GENERATED and not VALID_AS_GENERATED[field](value):
            body[field] = pick(REPLACEMENTS[field], value)
    if isinstance(body.get("client_metadata"), dict):
        body["client_metadata"] = metadata(body["client_metadata"])
    case.body = body
