"""The verdict of the unhooked Schemathesis run (schemathesis-unhooked.toml).

Reads the run's VCR cassette and the README. Every schema-valid request the server refused
must be a 422 whose codes (each field's, or the envelope's) are all listed in the README's
table "Rules the spec cannot state"; anything else fails: another status, an envelope without
codes, a code the README does not list, or any other failed check (a 5xx). Prints one line per
refused code with a count and one example, then the verdict.

    python unhooked_verdict.py CASSETTE README
"""

import collections
import json
import re
import sys

import yaml


def documented_codes(readme_path):
    text = open(readme_path, encoding="utf-8").read()
    match = re.search(r"^### Rules the spec cannot state\n(.*?)(?=^#)", text, re.M | re.S)
    if not match:
        sys.exit(f"{readme_path}: no section '### Rules the spec cannot state'")
    codes = set(re.findall(r"^\| `([A-Z_]+)`", match.group(1), re.M))
    if not codes:
        sys.exit(f"{readme_path}: the section lists no codes")
    return codes


def refused_codes(response):
    try:
        error = json.loads(response["body"]["string"])["error"]
    except (KeyError, TypeError, ValueError):
        return []
    return [e["code"] for e in error.get("errors") or []] or [error.get("code")]


def main(cassette_path, readme_path):
    allowed = documented_codes(readme_path)
    cassette = yaml.safe_load(open(cassette_path, encoding="utf-8"))
    seen = collections.Counter()
    example = {}
    wrong = []
    checked = 0
    for interaction in cassette["http_interactions"]:
        checks = interaction.get("checks") or []
        checked += bool(checks)
        failed = [c["name"] for c in checks if c["status"] == "FAILURE"]
        if not failed:
            continue
        request, response = interaction["request"], interaction["response"]
        status = response["status"]["code"]
        where = f"{request['method']} {request['uri']}"
        codes = refused_codes(response)
        if failed != ["positive_data_acceptance"] or status != "422" or None in codes or not codes:
            wrong.append(f"{where}: {status}, failed {failed}, codes {codes}")
            continue
        for code in codes:
            seen[code] += 1
            example.setdefault(code, where)
            if code not in allowed:
                wrong.append(f"{where}: {code} is not a rule the README lists")
    if checked == 0:
        sys.exit("the cassette holds no checked request: the run did not happen")
    print(f"  {checked} requests checked; schema-valid requests refused, by code:")
    for code, count in sorted(seen.items()):
        mark = "listed" if code in allowed else "NOT LISTED"
        print(f"    {code}: {count} ({mark}), e.g. {example[code]}")
    for line in wrong[:20]:
        print(f"  FAILED: {line}")
    if wrong:
        sys.exit(f"{len(wrong)} refusals the README does not explain")
    print("  every refusal is a rule the README lists")


if __name__ == "__main__":
    main(*sys.argv[1:])
