"""The webhooks judge: a receiver written as a Python consumer would write one, verifying every
delivery with the official `standardwebhooks` package (PyPI, pinned in requirements.txt),
unchanged.

It serves HTTP on 127.0.0.1 (the server runs with --webhooks-allow-private-urls), subscribes an
endpoint to every event type through the API, makes changes through the API (its own profile, a
new user, a team, a membership, a user deleted), and waits, within a deadline, until every event
the feed shows after the endpoint's creation has arrived. It fails on a delivery the library
refuses, a `webhook-id` that is not the body's `id`, an event out of `sequence` order, a body that
is not the feed's event, a missing event, or a change whose event is missing. A tampered body
must be refused too, so the check is seen able to fail. Prints one verdict line.

Environment: BASE_URL, TOKEN (an admin's session token).
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

DEADLINE_SECONDS = 30
# Never delivered to webhooks (audit only), so never expected.
AUDIT_ONLY = {"session.sign_in_failed"}

BASE_URL = os.environ["BASE_URL"]
TOKEN = os.environ["TOKEN"]


class Failed(Exception):
    pass


def api(method, path, body=None):
    """One API call with the admin's token; returns (status, JSON body or None, request id)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE_URL + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), error.headers
    payload = json.loads(raw) if raw else None
    return status, payload, headers.get("x-request-id")


def expect_quiet(status, wanted, what, payload):
    if status != wanted:
        raise Failed(f"{what}: {status} instead of {wanted}: {json.dumps(payload)[:500]}")


def expect(status, wanted, what, payload):
    expect_quiet(status, wanted, what, payload)
    print(f"  ok: {what} is {status}")


def feed_after(after):
    """Every event of the organization after `after`, in order, through GET /v1/events."""
    events = []
    while True:
        status, page, _ = api("GET", f"/v1/events?after={after}&limit=1000")
        expect_quiet(status, 200, "GET /v1/events", page)
        events.extend(page["data"])
        if not page["meta"]["has_more"]:
            return events
        after = page["meta"]["next_after"]


class Inbox:
    """Every delivery as received: the headers and the raw body bytes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = []

    def add(self, headers, body):
        with self.lock:
            self.received.append((headers, body))

    def snapshot(self):
        with self.lock:
            return list(self.received)


def receiver(inbox):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            inbox.add({name: value for name, value in self.headers.items()}, body)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def drive_changes():
    """Changes through the API; returns (request id, event type) for each event expected."""
    expected = []
    status, me, rid = api("PATCH", "/v1/me", {"display_name": "Webhook Judge"})
    expect(status, 200, "PATCH /v1/me", me)
    expected.append((rid, "user.updated"))
    email = f"webhook-{uuid.uuid4().hex[:12]}@example.com"
    status, user, rid = api("POST", "/v1/users", {"primary_email": email})
    expect(status, 201, "POST /v1/users", user)
    expected.append((rid, "user.created"))
    user_id = user["data"]["id"]
    status, team, rid = api("POST", "/v1/teams", {"name": f"Webhook judges {uuid.uuid4().hex[:6]}"})
    expect(status, 201, "POST /v1/teams", team)
    expected.append((rid, "team.created"))
    team_id = team["data"]["id"]
    status, member, rid = api("PUT", f"/v1/teams/{team_id}/members/{user_id}")
    expect(status, 200, "PUT /v1/teams/{id}/members/{user_id}", member)
    expected.append((rid, "team.member_added"))
    status, patched, rid = api("PATCH", f"/v1/teams/{team_id}", {"name": "Webhook judges, renamed"})
    expect(status, 200, "PATCH /v1/teams/{id}", patched)
    expected.append((rid, "team.updated"))
    status, deleted, rid = api("DELETE", f"/v1/users/{user_id}")
    expect(status, 204, "DELETE /v1/users/{id}", deleted)
    expected.append((rid, "user.deleted"))
    return expected


def verify_all(webhook, deliveries):
    """Verifies each delivery with the library; returns the events, in arrival order, without
    repeats of the same delivery (allowed: at least once)."""
    events = []
    for headers, body in deliveries:
        try:
            event = webhook.verify(body, headers)
        except WebhookVerificationError as error:
            raise Failed(f"standardwebhooks refused a delivery ({error}): {headers} {body[:200]!r}")
        header_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id")
        if header_id != event["id"]:
            raise Failed(f"webhook-id {header_id} is not the body's id {event['id']}")
        if events and events[-1]["id"] == event["id"]:
            continue
        if events and event["sequence"] <= events[-1]["sequence"]:
            raise Failed(
                f"out of order: sequence {event['sequence']} ({event['type']}) arrived "
                f"after {events[-1]['sequence']} ({events[-1]['type']})"
            )
        events.append(event)
    return events


def main():
    inbox = Inbox()
    server = receiver(inbox)
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/users-api"
    before = feed_after(0)
    start = before[-1]["sequence"] if before else 0

    status, created, _ = api(
        "POST",
        "/v1/webhook-endpoints",
        {"url": url, "event_types": [], "description": "the webhooks-python judge"},
    )
    expect(status, 201, "POST /v1/webhook-endpoints", created)
    endpoint_id = created["data"]["id"]
    secret = created["data"]["secret"]
    if not secret.startswith("whsec_"):
        raise Failed(f"the secret does not start with whsec_: {secret[:10]}…")
    webhook = Webhook(secret)
    try:
        changes = drive_changes()
        feed = [e for e in feed_after(start) if e["type"] not in AUDIT_ONLY]
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            delivered = verify_all(webhook, inbox.snapshot())
            if len(delivered) >= len(feed) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        status, body, _ = api("DELETE", f"/v1/webhook-endpoints/{endpoint_id}")
        expect_quiet(status, 204, "DELETE /v1/webhook-endpoints/{id}", body)
        server.shutdown()

    print(f"  ok: {len(inbox.snapshot())} deliveries verified by standardwebhooks, in order")
    delivered_ids = [e["id"] for e in delivered]
    feed_ids = [e["id"] for e in feed]
    if delivered_ids != feed_ids:
        missing = [f"{e['sequence']} {e['type']}" for e in feed if e["id"] not in delivered_ids]
        raise Failed(
            f"delivered {len(delivered_ids)} events within {DEADLINE_SECONDS} s, the feed shows "
            f"{len(feed_ids)} after {start}; missing: {missing}"
        )
    print(f"  ok: every event of the feed after sequence {start} was delivered ({len(feed)})")
    for event, shown in zip(delivered, feed):
        if event != shown:
            raise Failed(f"delivered event differs from the feed's: {event} vs {shown}")
    print("  ok: every delivered body is the feed's event")
    by_request = {(e["request_id"], e["type"]) for e in delivered}
    for request_id, event_type in changes:
        if (request_id, event_type) not in by_request:
            raise Failed(f"no {event_type} delivered for the request {request_id}")
    print(f"  ok: each change's event was delivered, with its X-Request-Id ({len(changes)})")

    headers, body = inbox.snapshot()[0]
    try:
        webhook.verify(body + b" ", headers)
    except WebhookVerificationError:
        print("  ok: a tampered body is refused")
    else:
        raise Failed("standardwebhooks accepted a tampered body")
    print(f"webhooks python receiver: {len(delivered)} deliveries verified")


if __name__ == "__main__":
    try:
        main()
    except Failed as failure:
        print(f"webhooks python receiver: FAILED: {failure}")
        sys.exit(1)
