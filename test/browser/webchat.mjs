// Browser scenario: Parley's web chat (Converse.js) in Debian's chromium,
// driven by playwright-core from web/node_modules.
//
//   node webchat.mjs --web-dir ../../web --chromium /usr/bin/chromium \
//     --artifacts DIR --alice-url http://n1/ --bob-url http://n2/ --password PW
//
// alice opens --alice-url and bob --bob-url (two nodes of one cluster), in
// two browser contexts; both log in through Converse's login form, find
// each other in the roster (browser_test.go made them contacts), open a
// chat and exchange messages both ways. Then alice, in a fresh context
// (nothing cached in the browser), logs in again on the same node and
// must see the conversation come back from the server's archive. Both
// log out at the end.
//
// Screenshots go to --artifacts, each printed as "screenshot PATH". Prints
// PASS on success; on failure prints why, each page's console and any
// request for something outside its own node, saves a screenshot of each
// page, and exits 1. Every wait is bounded, and so is the whole run.

import { parseArgs } from "node:util";
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import path from "node:path";

const WAIT = 15_000; // one wait, in milliseconds
const SCENARIO_TIMEOUT = 75_000;
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

const { values: opts } = parseArgs({
  options: {
    "web-dir": { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    artifacts: { type: "string" },
    "alice-url": { type: "string" },
    "bob-url": { type: "string" },
    domain: { type: "string", default: "localhost" },
    password: { type: "string" },
  },
});
for (const k of ["web-dir", "artifacts", "alice-url", "bob-url", "password"]) {
  if (!opts[k]) {
    console.error(`webchat.mjs: --${k} is required`);
    process.exit(2);
  }
}

// playwright-core lives in web/node_modules, not next to this script.
const require = createRequire(path.join(path.resolve(opts["web-dir"]), "package.json"));
const { chromium } = require("playwright-core");

class Failure extends Error {}

// One user in one browser context, with what its page printed.
class User {
  constructor(name, url, who = name) {
    this.name = name;
    this.who = who; // in reports
    this.url = url;
    this.jid = `${name}@${opts.domain}`;
    this.origin = new URL(url).origin;
    this.console = [];
    this.foreign = []; // requests for anything outside this.origin
    this.websockets = 0; // WebSockets opened
    this.boshRequests = 0; // requests to /http-bind
    this.checkedConsole = undefined; // console lines checked for errors: all, or those before logout
  }

  async open(browser) {
    this.context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    this.page = await this.context.newPage();
    this.page.setDefaultTimeout(WAIT);
    const t0 = Date.now();
    const stamp = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
    this.page.on("console", (m) => this.console.push(`${stamp()} ${m.type()}: ${m.text()}`));
    this.page.on("pageerror", (e) => this.console.push(`${stamp()} uncaught: ${e.stack || e}`));
    this.page.on("requestfailed", (r) => this.console.push(`${stamp()} request failed: ${r.url()} ${r.failure()?.errorText}`));
    this.page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname === "/http-bind") this.boshRequests++;
      if (!["data:", "blob:"].includes(u.protocol) && u.origin !== this.origin) this.foreign.push(r.url());
    });
    this.page.on("websocket", (ws) => {
      this.websockets++;
      if (new URL(ws.url()).host !== new URL(this.origin).host) this.foreign.push(ws.url());
    });
  }

  // login fills Converse's login form and waits for the roster to list
  // contact.
  async login(contact) {
    const { page } = this;
    const resp = await page.goto(this.url);
    check(resp && resp.ok(), `${this.name}: GET ${this.url}: HTTP ${resp && resp.status()}`);
    await page.locator("#converse-login-jid").fill(this.name);
    await page.locator("#converse-login-password").fill(opts.password);
    await page.locator('#converse-login button[type="submit"]').click();
    await page.locator(`converse-roster a.open-chat[data-jid="${contact.jid}"]`).waitFor();
    console.log(`${this.name} logged in on ${this.origin} and sees ${contact.name} in the roster`);
  }

  // chat opens the chat with contact from the roster.
  async chat(contact) {
    await this.page.locator(`converse-roster a.open-chat[data-jid="${contact.jid}"]`).click();
    this.chatbox = this.page.locator(`converse-chat[jid="${contact.jid}"]`);
    await this.chatbox.locator("textarea.chat-textarea").waitFor();
  }

  async send(text) {
    const box = this.chatbox.locator("textarea.chat-textarea");
    await box.fill(text);
    await box.press("Enter");
    await this.sees(text);
  }

  // sees waits for a message with text in the open chat.
  async sees(text) {
    await this.chatbox.locator(".chat-msg__text", { hasText: text }).first().waitFor();
  }

  // logout logs out through the profile dialog, so that the server ends
  // the session rather than keep it for a resumption.
  async logout() {
    const { page } = this;
    // Converse 14's MUC plugin throws from its page-unload handler once
    // logged out (no connection left): errors are checked up to here.
    this.checkedConsole = this.console.length;
    await page.locator("a.show-profile").click();
    await page.locator("converse-profile-modal button.btn-danger").click();
    await page.locator("form.confirm button[type=submit]").click();
    await page.locator("#converse-login-jid").waitFor();
    console.log(`${this.name} logged out`);
  }

  async screenshot(label) {
    const file = path.join(opts.artifacts, `${this.name}-${label}.png`);
    await this.page.screenshot({ path: file });
    console.log(`screenshot ${file}`);
  }

  async close() {
    await this.context?.close();
  }

  report() {
    console.log(`--- ${this.who}'s console (${this.url}):`);
    for (const line of this.console) console.log(line);
    if (this.foreign.length) console.log(`--- ${this.who}'s requests outside ${this.origin}:\n${this.foreign.join("\n")}`);
  }
}

function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

async function scenario(browser, users) {
  const [alice, bob] = users;
  await Promise.all(users.map((u) => u.open(browser)));
  await Promise.all([alice.login(bob), bob.login(alice)]);
  await Promise.all(users.map((u) => u.screenshot("login")));

  // Transports: alice's page speaks WebSocket, bob's BOSH (?transport=bosh).
  check(alice.websockets > 0 && alice.boshRequests === 0, `alice: ${alice.websockets} WebSockets, ${alice.boshRequests} BOSH requests; want WebSocket only`);
  check(bob.websockets === 0 && bob.boshRequests > 0, `bob: ${bob.websockets} WebSockets, ${bob.boshRequests} BOSH requests; want BOSH only`);
  console.log(`alice is on WebSocket, bob on BOSH (${bob.boshRequests} requests so far)`);

  const run = randomUUID().slice(0, 8);
  // Over BOSH, bob chats with carol, a client on a TCP connection (the
  // test's, which answers "ping X" with "pong X").
  const carol = { name: "carol", jid: `carol@${opts.domain}` };
  await bob.chat(carol);
  await bob.send(`ping ${run}`);
  await bob.sees(`pong ${run}`);
  console.log("bob, over BOSH, chatted with carol over TCP");

  await Promise.all([alice.chat(bob), bob.chat(alice)]);
  const hello = `Hello bob, alice on node 1 here (${run})`;
  const reply = `Hi alice, bob on node 2 answering (${run})`;
  await alice.send(hello);
  await bob.sees(hello);
  console.log("bob got alice's message across the cluster");
  await bob.send(reply);
  await alice.sees(reply);
  console.log("alice got bob's reply across the cluster");
  await Promise.all(users.map((u) => u.screenshot("chat")));

  // History: a fresh browser context has nothing cached, so what the chat
  // shows comes from the server's archive (XEP-0313).
  await alice.logout();
  await alice.close();
  const again = new User("alice", alice.url, "alice, again");
  users.push(again);
  await again.open(browser);
  await again.login(bob);
  await again.chat(bob);
  await again.sees(hello);
  await again.sees(reply);
  console.log("alice, logged in again in a fresh browser, got the conversation from the archive");
  await again.screenshot("history");
  await Promise.all([again.logout(), bob.logout()]);

  for (const u of users) {
    check(u.foreign.length === 0, `${u.who}'s page requested something outside ${u.origin}: ${u.foreign.join(", ")}`);
    const errors = u.console.slice(0, u.checkedConsole).filter((l) => / uncaught: |Content.Security.Policy/.test(l));
    check(errors.length === 0, `${u.who}'s page: ${errors.join("\n")}`);
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: WAIT,
  });
  const users = [new User("alice", opts["alice-url"]), new User("bob", opts["bob-url"])];
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`scenario still running after ${SCENARIO_TIMEOUT} ms`)), SCENARIO_TIMEOUT);
  });
  // The test sends SIGINT at its own deadline: report what was seen.
  const interrupted = new Promise((_, reject) => {
    process.once("SIGINT", () => reject(new Failure("interrupted (SIGINT, the test's deadline)")));
  });
  try {
    await Promise.race([scenario(browser, users), deadline, interrupted]);
    console.log("PASS");
  } catch (err) {
    console.log(`FAIL: ${err instanceof Failure ? err.message : err.stack || err}`);
    for (const u of users) {
      if (u.page && !u.page.isClosed()) await u.screenshot("failure").catch(() => {}); // the last alice's wins
      u.report();
    }
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    await browser.close().catch(() => {});
  }
}

await main();
