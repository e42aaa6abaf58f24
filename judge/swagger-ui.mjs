// @ts-check
// Swagger UI at /docs, as a person would use it, in headless Debian Chromium driven by
// playwright-core: every operation of the spec is listed, under the page title "users-api" and
// with the spec's tags in its order. The pre-filled examples work unedited: sign in as the demo
// admin, Authorize with the token from the response panel, then PATCH /v1/me, POST /v1/users,
// POST /v1/teams and POST /v1/api-keys as pre-filled are 2xx. Authorize with the token; Try it out
// GET /v1/me (200) and PATCH /v1/me with a new timezone (200, and a following GET shows it).
// Then the two-factor walk: sign in with the admin's password (POST /v1/sessions, 201),
// Authorize with the token from the response panel, turn TOTP on (PATCH /v1/me with a secret
// and a code computed from it here), sign out (DELETE /v1/sessions/current, 204), and sign back
// in: without a code 401, with the code of a later step 201. No page errors; no request leaves
// the server's origin (they are blocked and reported).
//
// Environment: BASE_URL, TOKEN, ORG_ID, EMAIL, PASSWORD (TOKEN's user's sign-in), SPEC (the
// committed spec), SCREENSHOT (where the PNG goes), CHROMIUM (default /usr/bin/chromium).

import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";

import { chromium } from "playwright-core";

/** @param {string} name */
function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const base = env("BASE_URL");
const origin = new URL(base).origin;
const token = env("TOKEN");
const screenshot = env("SCREENSHOT");
const spec = JSON.parse(readFileSync(env("SPEC"), "utf8"));
const TIMEZONE = "Pacific/Auckland";
const signIn = { org_id: env("ORG_ID"), email: env("EMAIL"), password: env("PASSWORD") };
const serverLog = env("SERVER_LOG");

/**
 * RFC 6238 as authenticator apps compute it: HMAC-SHA1 of the 30-second step, 6 digits.
 * @param {Buffer} secret @param {number} step
 */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", secret).update(counter).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/**
 * The current 30-second step, once at least 8 s of it remain (waiting for the next one
 * otherwise), so that a code computed now is still current when the server checks it.
 */
async function settledStep() {
  const left = 30 - ((Date.now() / 1000) % 30);
  if (left < 8) await new Promise((resolve) => setTimeout(resolve, left * 1000 + 100));
  return Math.floor(Date.now() / 1000 / 30);
}

/** @type {string[]} */
const failures = [];
/** @param {boolean} condition @param {string} what */
function check(condition, what) {
  console.log(`  ${condition ? "ok" : "FAILED"}: ${what}`);
  if (!condition) failures.push(what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // As root there is no sandbox; the rest keeps Chromium from calling home on a closed network.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
/** @type {string[]} */
const pageErrors = [];
/** @type {string[]} */
const foreign = [];
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
try {
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") console.log(`  console error: ${message.text()}`);
  });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || url.startsWith("blob:") || new URL(url).origin === origin) {
      return route.continue();
    }
    foreign.push(url);
    return route.abort();
  });

  await page.goto(`${base}/docs`);
  await page.locator(".opblock").first().waitFor();

  // Every operation of the spec is listed, by method and path.
  const listed = await page.$$eval(".opblock", (blocks) =>
    blocks.map((block) => {
      const method = block.querySelector(".opblock-summary-method")?.textContent ?? "";
      const path = block.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? "";
      return `${method.trim().toUpperCase()} ${path}`;
    }),
  );
  const expected = Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
  );
  const missing = expected.filter((op) => !listed.includes(op));
  check(missing.length === 0, `all ${expected.length} operations listed (missing: ${missing})`);

  // The page is users-api's, and its tags come in the spec's order (as a user meets them).
  const title = await page.title();
  check(title === "users-api", `the page title is "users-api" (${title})`);
  const shownTags = await page.$$eval(".opblock-tag", (tags) =>
    tags.map((tag) => tag.getAttribute("data-tag") ?? ""),
  );
  const specTags = spec.tags.map((/** @type {{name: string}} */ tag) => tag.name);
  check(
    shownTags.join(",") === specTags.join(","),
    `tags in the spec's order: ${specTags} (shown: ${shownTags})`,
  );

  /**
   * Authorize (the button at the top, then the dialog) with a token, logging out of the one
   * authorized before if any.
   * @param {string} value
   */
  async function authorize(value) {
    await page.locator(".auth-wrapper button.authorize").click();
    const modal = page.locator(".modal-ux");
    const logout = modal.locator('button[aria-label="Remove authorization"]');
    if (await logout.isVisible()) await logout.click();
    await modal.locator("input").first().fill(value);
    await modal.locator("button.authorize").click();
    await modal.locator("button.btn-done").click();
  }

  /**
   * Opens an operation, optionally fills its body, executes it; returns status and JSON body
   * as Swagger UI received them, the status Swagger UI displays, and the response body as the
   * response panel shows it (parsed).
   * @param {string} operationId @param {string} method @param {string} path
   * @param {string | undefined} body
   */
  async function tryItOut(operationId, method, path, body) {
    const block = page.locator(`.opblock[id$="-${operationId}"]`);
    if (!(await block.locator(".opblock-body").isVisible())) {
      await block.locator(".opblock-summary").click();
    }
    const tryOut = block.locator("button.try-out__btn:not(.cancel)");
    if (await tryOut.isVisible()) await tryOut.click();
    if (body !== undefined) await block.locator("textarea.body-param__text").fill(body);
    const [response] = await Promise.all([
      page.waitForResponse(
        (r) => new URL(r.url()).pathname === path && r.request().method() === method,
      ),
      block.locator("button.execute").click(),
    ]);
    const live = block.locator(".live-responses-table .response").first();
    const shown = live.locator(".response-col_status");
    await shown.waitFor();
    const panel = live.locator(".response-col_description .highlight-code pre");
    const text = (await panel.count()) > 0 ? await panel.first().textContent() : null;
    return {
      status: response.status(),
      authorization: response.request().headers()["authorization"],
      json: response.status() === 204 ? null : await response.json(),
      shown: (await shown.textContent())?.trim(),
      panel: text ? JSON.parse(text) : null,
    };
  }

  /**
   * `what`, and on failure what the server answered.
   * @param {boolean} ok @param {string} what @param {{status: number, json: any}} result
   */
  const expect = (ok, what, result) =>
    check(ok, ok ? what : `${what} (got ${result.status}: ${JSON.stringify(result.json)})`);

  // The pre-filled examples, executed unedited against the demo organization the server
  // created on its first start: sign in (the example is the demo admin's), Authorize with the
  // token from the response panel, then the four bodies a person tries first.
  const demo = await tryItOut("signIn", "POST", "/v1/sessions", undefined);
  expect(demo.status === 201 && demo.shown === "201", "the pre-filled sign-in is 201", demo);
  const demoToken = demo.panel?.data?.token;
  if (typeof demoToken === "string") {
    await authorize(demoToken);
    /** @type {[string, string, string, number][]} */
    const prefilled = [
      ["patchMe", "PATCH", "/v1/me", 200],
      ["createUser", "POST", "/v1/users", 201],
      ["createTeam", "POST", "/v1/teams", 201],
      ["createApiKey", "POST", "/v1/api-keys", 201],
    ];
    for (const [operationId, method, path, status] of prefilled) {
      const result = await tryItOut(operationId, method, path, undefined);
      expect(
        result.status === status && result.authorization === `Bearer ${demoToken}`,
        `the pre-filled ${method} ${path} is ${status} for the demo admin`,
        result,
      );
    }
    await passwordReset();
  }

  /**
   * A forgotten password, as the demo admin would recover it with the console mailer the demo
   * run uses: ask for a reset, read the link the server printed, redeem its token with a new
   * password, sign in with that password.
   */
  async function passwordReset() {
    const example =
      spec.paths["/v1/sessions"].post.requestBody.content["application/json"].example;
    const printedBefore = readFileSync(serverLog, "utf8").length;
    const asked = await tryItOut(
      "requestPasswordReset",
      "POST",
      "/v1/password-resets",
      JSON.stringify({ org_id: example.org_id, email: example.email }),
    );
    expect(asked.status === 202 && asked.shown === "202", "a password reset is 202", asked);
    // The mail is sent after the answer, by the mail dispatcher: wait for it to be printed.
    let token;
    for (let tries = 0; tries < 50 && !token; tries++) {
      const printed = readFileSync(serverLog, "utf8").slice(printedBefore);
      const mail = printed.split("----- mail ").find((m) => m.includes(`To: ${example.email}`));
      token = mail?.match(/reset-password\?token=(tkt_[A-Za-z0-9_-]{43})/)?.[1];
      if (!token) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    check(typeof token === "string", "the console mailer prints the reset link");
    if (!token) return;
    const newPassword = "ocean violet lantern 1843 harbour";
    const redeemed = await tryItOut(
      "redeemTicket",
      "POST",
      "/v1/tickets/redeem",
      JSON.stringify({ token, type: "reset_password", password: newPassword }),
    );
    expect(
      redeemed.status === 200 && typeof redeemed.panel?.data?.session?.token === "string",
      "redeeming the mailed token sets the password and signs in",
      redeemed,
    );
    const withNew = await tryItOut(
      "signIn",
      "POST",
      "/v1/sessions",
      JSON.stringify({ ...example, password: newPassword }),
    );
    expect(withNew.status === 201, "sign in with the new password is 201", withNew);
    const withOld = await tryItOut("signIn", "POST", "/v1/sessions", JSON.stringify(example));
    expect(withOld.status === 401, "the old password is 401", withOld);
  }

  // The person's own organization from here on.
  await authorize(token);
  const got = await tryItOut("getMe", "GET", "/v1/me", undefined);
  check(got.authorization === `Bearer ${token}`, "Try it out sends the authorized token");
  check(got.status === 200 && got.shown === "200", `GET /v1/me is 200 (shown: ${got.shown})`);
  check(got.json?.data?.timezone !== TIMEZONE, `timezone is not ${TIMEZONE} yet`);

  const patched = await tryItOut(
    "patchMe",
    "PATCH",
    "/v1/me",
    JSON.stringify({ timezone: TIMEZONE }),
  );
  check(
    patched.status === 200 && patched.shown === "200",
    patched.status === 200
      ? "PATCH /v1/me is 200"
      : `PATCH /v1/me is 200 (got ${patched.status}: ${JSON.stringify(patched.json)})`,
  );
  check(patched.json?.data?.timezone === TIMEZONE, `PATCH answers timezone ${TIMEZONE}`);

  const again = await tryItOut("getMe", "GET", "/v1/me", undefined);
  check(
    again.status === 200 && again.json?.data?.timezone === TIMEZONE,
    `a following GET shows timezone ${TIMEZONE}`,
  );

  // Sign in with the admin's password; the token is read from the response panel.
  const signedIn = await tryItOut("signIn", "POST", "/v1/sessions", JSON.stringify(signIn));
  expect(
    signedIn.status === 201 && signedIn.shown === "201",
    "sign in with the password is 201",
    signedIn,
  );
  const fresh = signedIn.panel?.data?.token;
  check(
    typeof fresh === "string" && fresh === signedIn.json?.data?.token,
    "the response panel shows the new token",
  );

  // Authorize with it, and turn two-factor authentication on.
  await authorize(fresh);
  const secret = randomBytes(20);
  const enrolStep = await settledStep();
  const enrolled = await tryItOut(
    "patchMe",
    "PATCH",
    "/v1/me",
    JSON.stringify({
      totp_secret_base64: secret.toString("base64"),
      totp_code: totp(secret, enrolStep),
    }),
  );
  check(enrolled.authorization === `Bearer ${fresh}`, "Try it out sends the new token");
  expect(
    enrolled.status === 200 && enrolled.shown === "200",
    "PATCH /v1/me with a TOTP secret and its code is 200",
    enrolled,
  );
  check(
    enrolled.panel?.data?.otp_auth_enabled === true,
    "the response panel shows otp_auth_enabled",
  );

  // Sign out: this session ends.
  const signedOut = await tryItOut("signOut", "DELETE", "/v1/sessions/current", undefined);
  expect(
    signedOut.status === 204 &&
      signedOut.shown === "204" &&
      signedOut.authorization === `Bearer ${fresh}`,
    "sign out with the new token is 204",
    signedOut,
  );
  const after = await tryItOut("getMe", "GET", "/v1/me", undefined);
  expect(after.status === 401 && after.shown === "401", "the signed-out token is 401", after);

  // Sign back in: the password alone is not enough any more; with a fresh code it is.
  const withoutCode = await tryItOut("signIn", "POST", "/v1/sessions", JSON.stringify(signIn));
  expect(
    withoutCode.status === 401 &&
      withoutCode.shown === "401" &&
      withoutCode.json?.error?.code === "MFA_REQUIRED",
    "sign in without a TOTP code is 401 MFA_REQUIRED",
    withoutCode,
  );
  // The code of the step after the current one: later than the one enrolment used (each step
  // counts once), and within the server's one step of skew.
  const nextStep = (await settledStep()) + 1;
  const withCode = await tryItOut(
    "signIn",
    "POST",
    "/v1/sessions",
    JSON.stringify({ ...signIn, totp_code: totp(secret, nextStep) }),
  );
  expect(
    withCode.status === 201 && withCode.shown === "201" && nextStep > enrolStep,
    "sign in with the code of a later step is 201",
    withCode,
  );
  const again2fa = withCode.panel?.data?.token;
  if (typeof again2fa === "string") {
    await authorize(again2fa);
    const me2fa = await tryItOut("getMe", "GET", "/v1/me", undefined);
    expect(
      me2fa.status === 200 && me2fa.json?.data?.otp_auth_enabled === true,
      "Authorize with that token: GET /v1/me is 200, and 2FA is on",
      me2fa,
    );
  }
} catch (error) {
  check(false, `the walk through Swagger UI completes (${error})`);
} finally {
  // Also after a failure: the picture shows where it stopped.
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`  screenshot: ${screenshot}`);
  await browser.close();
}
check(pageErrors.length === 0, `no page errors (${pageErrors.join("; ")})`);
check(foreign.length === 0, `no requests beyond ${origin} (${foreign.join(", ")})`);

if (failures.length > 0) {
  console.log(`swagger ui: ${failures.length} checks failed`);
  process.exit(1);
}
console.log("swagger ui: all checks passed");
