// A TypeScript SDK consumer of users-api, written as a web team would against the package it
// installs: `@users-api/client` from generated/typescript (openapi-typescript types of the
// committed spec over openapi-fetch), linked into judge/node_modules. If this stops compiling, the
// spec or the package changed in a way that breaks TypeScript users; if it stops passing, the
// server no longer does what the spec says.
//
// It also receives a webhook as a TypeScript backend would, verifying it with the npm
// `standardwebhooks` package, unchanged (the judges' server allows http://127.0.0.1 receivers).
//
// Environment: BASE_URL, TOKEN (a user session token), API_KEY (an organization API key), and
// ORG_ID, EMAIL, PASSWORD (the sign-in of TOKEN's user, an admin).

import { createServer, type IncomingHttpHeaders } from "node:http";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import {
  createUsersApiClient,
  type ErrorEnvelope,
  errorCode,
  idempotencyKey,
  ifMatch,
  type Schemas,
} from "@users-api/client";

type Me = Schemas["Me"];
type SignedIn = Schemas["SignedIn"];
type SessionInfo = Schemas["SessionInfo"];
type Event = Schemas["Event"];

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

let checks = 0;
function check(condition: boolean, what: string, detail?: unknown): asserts condition {
  if (!condition) {
    throw new Error(`${what}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  }
  checks += 1;
  console.log(`  ok: ${what}`);
}

const baseUrl = env("BASE_URL");
const user = createUsersApiClient({ baseUrl, token: env("TOKEN") });

// Read the current user.
const got = await user.GET("/v1/me");
check(got.response.status === 200, "GET /v1/me is 200", got.error);
check(got.data?.success === true, "GET /v1/me is a success envelope", got.data);
const me: Me = got.data.data;
check(typeof me.id === "string" && me.org.id === me.org_id, "the Me payload names its org", me);
check(got.response.headers.get("etag") !== null, "GET /v1/me carries an ETag");

// Patch it: values come back canonicalised.
const patched = await user.PATCH("/v1/me", {
  body: { timezone: "europe/paris", locale: "en-gb", display_name: "TypeScript Judge" },
});
check(patched.response.status === 200, "PATCH /v1/me is 200", patched.error);
check(patched.data?.data.timezone === "Europe/Paris", "timezone stored canonically", patched.data);
check(patched.data.data.locale === "en-GB", "locale stored canonically", patched.data.data);
check(patched.data.data.display_name === "TypeScript Judge", "display_name stored");

// `null` clears a nullable field; the change is visible in a following GET.
const cleared = await user.PATCH("/v1/me", { body: { timezone: null } });
check(cleared.response.status === 200, "PATCH timezone: null is 200", cleared.error);
check(cleared.data?.data.timezone === null, "timezone cleared", cleared.data);
const again = await user.GET("/v1/me");
check(again.data?.data.timezone === null, "GET shows timezone cleared", again.data);
check(again.data.data.locale === "en-GB", "GET keeps the locale", again.data.data);

// If-Match: a PATCH based on the version just read applies; one based on a version that changed
// since is 412 PRECONDITION_FAILED and stores nothing.
const read = await user.GET("/v1/me");
const based = await user.PATCH("/v1/me", {
  params: { header: ifMatch(read.response) },
  body: { display_name: "TypeScript Judge (If-Match)" },
});
check(based.response.status === 200, "PATCH with the current ETag as If-Match is 200", based.error);
const stale = await user.PATCH("/v1/me", {
  params: { header: ifMatch(read.response) },
  body: { display_name: "A lost update" },
});
check(stale.response.status === 412, "PATCH with a stale If-Match is 412", stale.response.status);
check(
  stale.error !== undefined && errorCode(stale.error) === "PRECONDITION_FAILED",
  "code PRECONDITION_FAILED",
  stale.error,
);
const kept = await user.GET("/v1/me");
check(
  kept.data?.data.display_name === "TypeScript Judge (If-Match)",
  "the refused PATCH stored nothing",
  kept.data,
);

// An invalid value is a 422 in the error envelope, with the request id of the response.
const invalid = await user.PATCH("/v1/me", {
  body: { timezone: "Mars/Olympus_Mons" },
});
check(invalid.response.status === 422, "unknown timezone is 422", invalid.response.status);
const error: ErrorEnvelope | undefined = invalid.error;
check(error?.success === false, "422 is an error envelope", error);
check(errorCode(error) === "INVALID_TIMEZONE", "code INVALID_TIMEZONE", error.error);
check(
  error.error.details["timezone"] === "unknown IANA timezone",
  "details.timezone says why",
  error.error.details,
);
check(
  error.error.errors.some((e) => e.field === "timezone" && e.code === "INVALID_TIMEZONE"),
  "errors lists the field",
  error.error.errors,
);
check(
  error.error.request_id === invalid.response.headers.get("x-request-id"),
  "error.request_id equals X-Request-Id",
);

// API keys are not user-scoped: 403 FORBIDDEN, same envelope.
const byKey = createUsersApiClient({ baseUrl, token: env("API_KEY") });
const refused = await byKey.GET("/v1/me");
check(refused.response.status === 403, "API key on /v1/me is 403", refused.response.status);
check(refused.error?.error.code === "FORBIDDEN", "code FORBIDDEN", refused.error);

// Idempotency-Key: a retried create answers the first response again (one user, not two); the
// same key with another body is 409 IDEMPOTENCY_CONFLICT.
const key = idempotencyKey();
const newUser = { primary_email: `ts-${key["Idempotency-Key"].slice(0, 8)}@example.com` };
const created = await byKey.POST("/v1/users", { params: { header: key }, body: newUser });
check(created.response.status === 201, "POST /v1/users is 201", created.error);
const retried = await byKey.POST("/v1/users", { params: { header: key }, body: newUser });
check(
  retried.response.status === 201 && retried.data?.data.id === created.data?.data.id,
  "a retry with the same Idempotency-Key answers the same user",
  retried.data,
);
const conflicting = await byKey.POST("/v1/users", {
  params: { header: key },
  body: { primary_email: `other-${newUser.primary_email}` },
});
check(conflicting.response.status === 409, "the key with another body is 409", conflicting.error);
check(
  conflicting.error !== undefined && errorCode(conflicting.error) === "IDEMPOTENCY_CONFLICT",
  "code IDEMPOTENCY_CONFLICT",
  conflicting.error,
);

// Pagination: follow meta.next_cursor until it is absent; every user comes exactly once.
const listedIds: string[] = [];
let cursor: string | undefined;
do {
  const page = await byKey.GET("/v1/users", {
    params: { query: { limit: 1, ...(cursor === undefined ? {} : { cursor }) } },
  });
  if (!page.data) throw new Error(`GET /v1/users: ${JSON.stringify(page.error)}`);
  listedIds.push(...page.data.data.map((u) => u.id));
  cursor = page.data.meta.next_cursor;
} while (cursor !== undefined);
check(
  listedIds.length >= 2 && new Set(listedIds).size === listedIds.length,
  "pages of one list every user once",
  listedIds,
);
check(listedIds.includes(created.data?.data.id ?? ""), "the new user is listed", listedIds);

// No credentials: 401 UNAUTHORIZED.
const anonymousClient = createUsersApiClient({ baseUrl });
const anonymous = await anonymousClient.GET("/v1/me");
check(anonymous.response.status === 401, "no token is 401", anonymous.response.status);
check(anonymous.error?.error.code === "UNAUTHORIZED", "code UNAUTHORIZED", anonymous.error);

// Sign in with e-mail and password: a new session and its token.
const signIn = { org_id: env("ORG_ID"), email: env("EMAIL"), password: env("PASSWORD") };
const signedIn = await anonymousClient.POST("/v1/sessions", { body: signIn });
check(signedIn.response.status === 201, "POST /v1/sessions is 201", signedIn.error);
check(signedIn.data?.success === true, "sign-in is a success envelope", signedIn.data);
const session: SignedIn = signedIn.data.data;
check(
  session.token.split(".").length === 3 && Date.parse(session.session.expires_at) > Date.now(),
  "sign-in returns a token and a live session",
  session.session,
);
const wrong = await anonymousClient.POST("/v1/sessions", {
  body: { ...signIn, password: `${signIn.password}x` },
});
check(wrong.response.status === 401, "a wrong password is 401", wrong.response.status);
check(wrong.error?.error.code === "UNAUTHORIZED", "code UNAUTHORIZED", wrong.error);
// What a sign-in form does with a 401: `MFA_REQUIRED` means the password was right and the
// account has 2FA on, so it asks for the authenticator's code (or a recovery code) and sends
// the same request again with `totp_code` (or `recovery_code`); any other 401 is "wrong e-mail
// or password", whatever was wrong.
function signInNextStep(error: ErrorEnvelope | undefined): "ask_for_code" | "wrong_credentials" {
  return error?.error.code === "MFA_REQUIRED" ? "ask_for_code" : "wrong_credentials";
}
check(
  signInNextStep(wrong.error) === "wrong_credentials",
  "a wrong password is not MFA_REQUIRED",
  wrong.error,
);

// The new token works, and lists the user's sessions: this one is current, TOKEN's is there.
const signedInUser = createUsersApiClient({ baseUrl, token: session.token });
const listed = await signedInUser.GET("/v1/me/sessions");
check(listed.response.status === 200, "GET /v1/me/sessions is 200", listed.error);
check(listed.data?.success === true, "the list is a success envelope", listed.data);
check(
  listed.data.meta.limit === 50,
  "the sessions come a page at a time (50 by default)",
  listed.data.meta,
);
const sessions: SessionInfo[] = listed.data.data;
const current = sessions.filter((s) => s.current);
check(
  current.length === 1 && current[0]?.id === session.session.id,
  "the new session is listed as current",
  sessions,
);
check(
  sessions.some((s) => !s.current && s.id === me.session.id),
  "TOKEN's session is listed, not current",
  sessions,
);

// Sign out: the token answers 401, in the error envelope; TOKEN's session is untouched.
const signedOut = await signedInUser.DELETE("/v1/sessions/current");
check(signedOut.response.status === 204, "DELETE /v1/sessions/current is 204", signedOut.error);
const afterSignOut = await signedInUser.GET("/v1/me");
check(
  afterSignOut.response.status === 401,
  "the signed-out token is 401",
  afterSignOut.response.status,
);
check(afterSignOut.error?.success === false, "401 is an error envelope", afterSignOut.error);
check(afterSignOut.error.error.code === "UNAUTHORIZED", "code UNAUTHORIZED", afterSignOut.error);
check(
  afterSignOut.error.error.request_id === afterSignOut.response.headers.get("x-request-id"),
  "error.request_id equals X-Request-Id",
);
const stillIn = await user.GET("/v1/me");
check(stillIn.response.status === 200, "TOKEN still works after the sign-out", stillIn.error);

// Webhooks: an endpoint subscribed to `user.updated` at a receiver of our own, one PATCH, and
// its delivery verified with `standardwebhooks` as the library's README says: the raw body and
// the headers, unchanged.
interface Delivery {
  headers: Record<string, string>;
  body: Buffer;
}
const deliveries: Delivery[] = [];
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    deliveries.push({ headers: plainHeaders(request.headers), body: Buffer.concat(chunks) });
    response.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const address = receiver.address();
if (address === null || typeof address === "string") throw new Error("the receiver has no port");
const endpoint = await user.POST("/v1/webhook-endpoints", {
  body: {
    url: `http://127.0.0.1:${address.port}/hooks`,
    event_types: ["user.updated"],
    description: "the TypeScript consumer",
  },
});
check(endpoint.response.status === 201, "POST /v1/webhook-endpoints is 201", endpoint.error);
check(endpoint.data?.data.secret.startsWith("whsec_") === true, "the secret is shown once");
const webhook = new Webhook(endpoint.data.data.secret);
try {
  const hooked = await user.PATCH("/v1/me", { body: { display_name: "TypeScript Judge (hook)" } });
  check(hooked.response.status === 200, "PATCH /v1/me for the webhook is 200", hooked.error);
  const delivery = await firstDelivery(30_000);
  let event: Event | undefined;
  let refusal: string | undefined;
  try {
    event = webhook.verify(delivery.body, delivery.headers) as Event;
  } catch (error) {
    refusal = String(error);
  }
  check(event !== undefined, "standardwebhooks verifies the delivery", refusal);
  check(
    event.type === "user.updated" &&
      event.request_id === hooked.response.headers.get("x-request-id"),
    "the delivery is the PATCH's user.updated",
    event,
  );
  check(delivery.headers["webhook-id"] === event.id, "webhook-id is the event's id", event.id);
  let tampered: unknown;
  try {
    webhook.verify(Buffer.concat([delivery.body, Buffer.from(" ")]), delivery.headers);
  } catch (error) {
    tampered = error;
  }
  check(tampered instanceof WebhookVerificationError, "a tampered body is refused", tampered);
} finally {
  await user.DELETE("/v1/webhook-endpoints/{endpoint_id}", {
    params: { path: { endpoint_id: endpoint.data.data.id } },
  });
  receiver.close();
}

console.log(`typescript consumer: ${checks} checks passed`);

/// The first delivery the receiver got, waiting at most `limitMs`.
async function firstDelivery(limitMs: number): Promise<Delivery> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const first = deliveries[0];
    if (first !== undefined) return first;
    if (Date.now() > deadline) throw new Error(`no webhook delivery within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/// Node's request headers as the library takes them: one string per (lower-case) name.
function plainHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const plain: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) plain[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return plain;
}
