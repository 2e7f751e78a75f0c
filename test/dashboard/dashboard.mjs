// Browser scenario: Parley's admin dashboard in Debian's chromium, driven
// by playwright-core from web/node_modules.
//
//   node dashboard.mjs --web-dir ../../web --chromium /usr/bin/chromium \
//     --artifacts DIR --url http://n1/ --nodes n1,n2 \
//     --admin admin@localhost --password PW --new-user u@localhost --new-password PW2
//
// Opens --url/admin/, is refused with a wrong password, logs in as
// --admin, waits until the live view shows every node of --nodes by name
// with numbers and drawn charts, then creates --new-user through the
// Users tab and sees it listed, and lists the sessions. The Go test
// checks afterwards that the new account works.
//
// Screenshots go to --artifacts, each printed as "screenshot PATH".
// Prints PASS on success; on failure prints why and the page's console,
// saves a screenshot and exits 1. Every wait is bounded, and so is the
// whole run.

import { parseArgs } from "node:util";
import { createRequire } from "node:module";
import path from "node:path";

const WAIT = 20_000; // one wait, in milliseconds
const SCENARIO_TIMEOUT = 75_000;
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

const { values: opts } = parseArgs({
  options: {
    "web-dir": { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    artifacts: { type: "string" },
    url: { type: "string" },
    nodes: { type: "string" },
    admin: { type: "string" },
    password: { type: "string" },
    "new-user": { type: "string" },
    "new-password": { type: "string" },
  },
});
for (const k of ["web-dir", "artifacts", "url", "nodes", "admin", "password", "new-user", "new-password"]) {
  if (!opts[k]) {
    console.error(`dashboard.mjs: --${k} is required`);
    process.exit(2);
  }
}

// playwright-core lives in web/node_modules, not next to this script.
const require = createRequire(path.join(path.resolve(opts["web-dir"]), "package.json"));
const { chromium } = require("playwright-core");

class Failure extends Error {}

const check = (ok, msg) => {
  if (!ok) throw new Failure(msg);
};

const consoleLines = [];
const foreign = [];
const origin = new URL(opts.url).origin;

async function screenshot(page, label) {
  const file = path.join(opts.artifacts, `dashboard-${label}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: WAIT });
  console.log(`screenshot ${file}`);
}

// step runs one part of the scenario, saying which failed.
async function step(what, fn) {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Failure) throw err;
    throw new Failure(`${what}: ${err.message.split("\n")[0]}`);
  }
}

async function scenario(page) {
  const names = opts.nodes.split(",");
  await step("open the dashboard", async () => {
    await page.goto(new URL("/admin/", opts.url).href, { timeout: WAIT });
    await page.locator("#login-form").waitFor({ state: "visible", timeout: WAIT });
  });

  await step("a wrong password is refused", async () => {
    await page.fill("#login-jid", opts.admin);
    await page.fill("#login-password", "not-the-password");
    await page.click("#login-form button[type=submit]");
    await page.locator("#login-error", { hasText: "wrong JID or password" }).waitFor({ timeout: WAIT });
  });

  await step("log in", async () => {
    await page.fill("#login-password", opts.password);
    await page.click("#login-form button[type=submit]");
    await page.locator("#who-user", { hasText: opts.admin }).waitFor({ timeout: WAIT });
  });

  await step("the live view shows every node", async () => {
    for (const name of names) {
      const col = page.locator(`.node-column[data-node="${name}"]`);
      await col.locator(".node-name", { hasText: name }).waitFor({ timeout: WAIT });
      // Numbers: the connections tile, and charts drawn from two polls.
      await col.locator('[data-tile="connections"] .v').waitFor({ timeout: WAIT });
      await col.locator('[data-chart="stanzas"] canvas').first().waitFor({ timeout: WAIT });
      await col.locator('[data-chart="connections"] canvas').first().waitFor({ timeout: WAIT });
      await page.locator(`#nodes-table tr[data-node="${name}"]`).waitFor({ timeout: WAIT });
    }
    const cols = await page.locator(".node-column").count();
    check(cols === names.length, `${cols} node columns, want ${names.length}`);
    for (const name of names) {
      const tiles = await page.locator(`.node-column[data-node="${name}"] .tile`).allInnerTexts();
      const text = tiles.map((t) => t.replace(/\s+/g, " ").trim()).join("; ");
      console.log(`${name}: ${text}`);
      const conns = await page.locator(`.node-column[data-node="${name}"] [data-tile="connections"] .v`).innerText();
      check(/^\d/.test(conns), `${name}: connections tile shows ${JSON.stringify(conns)}, want a number`);
      const sessions = await page.locator(`.node-column[data-node="${name}"] [data-tile="sessions"] .v`).innerText();
      check(Number(sessions) > 0, `${name}: sessions tile shows ${JSON.stringify(sessions)}, want the test's clients`);
    }
    // A few more polls, so the charts have a line to show.
    await page.waitForTimeout(4500);
    await screenshot(page, "live");
  });

  await step("create a user", async () => {
    await page.click('#tabs button[data-tab="users"]');
    await page.locator(`#users-table tr[data-jid="${opts.admin}"]`).waitFor({ timeout: WAIT });
    await page.fill("#new-user-jid", opts["new-user"]);
    await page.fill("#new-user-password", opts["new-password"]);
    await page.click("#new-user-form button[type=submit]");
    await page.locator(`#users-table tr[data-jid="${opts["new-user"]}"]`).waitFor({ timeout: WAIT });
    await page.locator("#status", { hasText: `Created ${opts["new-user"]}` }).waitFor({ timeout: WAIT });
    await screenshot(page, "users");
  });

  await step("list the sessions", async () => {
    await page.click('#tabs button[data-tab="sessions"]');
    await page.locator("#sessions-table tbody tr").first().waitFor({ timeout: WAIT });
    const nodesShown = new Set(await page.locator("#sessions-table tbody td:nth-child(2)").allInnerTexts());
    for (const name of names) check(nodesShown.has(name), `no session on ${name} listed (nodes shown: ${[...nodesShown]})`);
    await screenshot(page, "sessions");
  });

  const errors = consoleLines.filter((l) => /^(error|pageerror)/.test(l) && !/401|Unauthorized/.test(l));
  check(errors.length === 0, `the page logged errors:\n${errors.join("\n")}`);
  check(foreign.length === 0, `the page requested something outside ${origin}: ${foreign.join(", ")}`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: WAIT,
  });
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`scenario still running after ${SCENARIO_TIMEOUT} ms`)), SCENARIO_TIMEOUT);
  });
  // The test sends SIGINT at its own deadline: report what was seen.
  const interrupted = new Promise((_, reject) => {
    process.once("SIGINT", () => reject(new Failure("interrupted (SIGINT, the test's deadline)")));
  });
  let page;
  try {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    page = await context.newPage();
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on("response", (r) => {
      if (r.status() >= 400) consoleLines.push(`http: ${r.status()} ${r.request().method()} ${r.url()}`);
    });
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.origin !== origin && u.protocol !== "data:") foreign.push(r.url());
    });
    await Promise.race([scenario(page), deadline, interrupted]);
    console.log("PASS");
  } catch (err) {
    console.log(`FAIL: ${err instanceof Failure ? err.message : err.stack || err}`);
    if (page && !page.isClosed()) await screenshot(page, "failure").catch(() => {});
    console.log("console of the page:\n" + consoleLines.join("\n"));
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    await browser.close().catch(() => {});
  }
}

await main();
