// A TypeScript SDK consumer of users-api: `openapi-fetch` typed by `openapi-typescript` from the
// committed spec. If this stops compiling, the spec changed in a way that breaks TypeScript
// users; if it stops passing, the server no longer does what the spec says.
//
// Environment: BASE_URL, TOKEN (a user session token), API_KEY (an organization API key).

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/api.js";

type Me = components["schemas"]["Me"];
type ErrorEnvelope = components["schemas"]["ErrorEnvelope"];

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
const user = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${env("TOKEN")}` },
});

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

// An invalid value is a 422 in the error envelope, with the request id of the response.
const invalid = await user.PATCH("/v1/me", {
  body: { timezone: "Mars/Olympus_Mons" },
});
check(invalid.response.status === 422, "unknown timezone is 422", invalid.response.status);
const error: ErrorEnvelope | undefined = invalid.error;
check(error?.success === false, "422 is an error envelope", error);
check(error.error.code === "INVALID_TIMEZONE", "code INVALID_TIMEZONE", error.error);
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
const byKey = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${env("API_KEY")}` },
});
const refused = await byKey.GET("/v1/me");
check(refused.response.status === 403, "API key on /v1/me is 403", refused.response.status);
check(refused.error?.error.code === "FORBIDDEN", "code FORBIDDEN", refused.error);

// No credentials: 401 UNAUTHORIZED.
const anonymous = await createClient<paths>({ baseUrl }).GET("/v1/me");
check(anonymous.response.status === 401, "no token is 401", anonymous.response.status);
check(anonymous.error?.error.code === "UNAUTHORIZED", "code UNAUTHORIZED", anonymous.error);

console.log(`typescript consumer: ${checks} checks passed`);
