// @ts-check
// Swagger UI at /docs, as a person would use it, in headless Debian Chromium driven by
// playwright-core: every operation of the spec is listed; Authorize with the token; Try it out
// GET /v1/me (200) and PATCH /v1/me with a new timezone (200, and a following GET shows it);
// no page errors; no request leaves the server's origin (they are blocked and reported).
//
// Environment: BASE_URL, TOKEN, SPEC (the committed spec), SCREENSHOT (where the PNG goes),
// CHROMIUM (default /usr/bin/chromium).

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

  // Authorize with the token.
  await page.locator(".auth-wrapper button.authorize").click();
  const modal = page.locator(".modal-ux");
  await modal.locator("input").first().fill(token);
  await modal.locator("button.authorize").click();
  await modal.locator("button.btn-done").click();

  /**
   * Opens an operation, optionally fills its body, executes it; returns status and JSON body
   * as Swagger UI received them, and the status Swagger UI displays.
   * @param {string} operationId @param {string} method @param {string | undefined} body
   */
  async function tryItOut(operationId, method, body) {
    const block = page.locator(`.opblock[id$="-${operationId}"]`);
    if (!(await block.locator(".opblock-body").isVisible())) {
      await block.locator(".opblock-summary").click();
    }
    const tryOut = block.locator("button.try-out__btn:not(.cancel)");
    if (await tryOut.isVisible()) await tryOut.click();
    if (body !== undefined) await block.locator("textarea.body-param__text").fill(body);
    const [response] = await Promise.all([
      page.waitForResponse(
        (r) => new URL(r.url()).pathname === "/v1/me" && r.request().method() === method,
      ),
      block.locator("button.execute").click(),
    ]);
    const shown = block.locator(".live-responses-table .response .response-col_status").first();
    await shown.waitFor();
    return {
      status: response.status(),
      authorization: response.request().headers()["authorization"],
      json: await response.json(),
      shown: (await shown.textContent())?.trim(),
    };
  }

  const got = await tryItOut("getMe", "GET", undefined);
  check(got.authorization === `Bearer ${token}`, "Try it out sends the authorized token");
  check(got.status === 200 && got.shown === "200", `GET /v1/me is 200 (shown: ${got.shown})`);
  check(got.json?.data?.timezone !== TIMEZONE, `timezone is not ${TIMEZONE} yet`);

  const patched = await tryItOut("patchMe", "PATCH", JSON.stringify({ timezone: TIMEZONE }));
  check(
    patched.status === 200 && patched.shown === "200",
    patched.status === 200
      ? "PATCH /v1/me is 200"
      : `PATCH /v1/me is 200 (got ${patched.status}: ${JSON.stringify(patched.json)})`,
  );
  check(patched.json?.data?.timezone === TIMEZONE, `PATCH answers timezone ${TIMEZONE}`);

  const again = await tryItOut("getMe", "GET", undefined);
  check(
    again.status === 200 && again.json?.data?.timezone === TIMEZONE,
    `a following GET shows timezone ${TIMEZONE}`,
  );

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
