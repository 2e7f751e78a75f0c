// Interop scenario: xmpp.js (@xmpp/client), a client Parley's authors did
// not write, against a running Parley server over TCP with STARTTLS.
//
//   node xmppjs.mjs --port 5222 --password secret --users alice,bob
//
// With --websocket URL the first client connects over XMPP over WebSocket
// (RFC 7395) instead, and chats with the second, over TCP (Node 20 needs
// --experimental-websocket for its WebSocket).
//
// The accounts must exist already (interop_test.go creates them with the
// parley CLI). Trust the server's self-signed certificate with
// NODE_EXTRA_CA_CERTS=<data dir>/tls/selfsigned.crt: the certificate is then
// checked for real, name included. Prints PASS on success; on failure prints
// why plus the stanza trace of both clients and exits 1. Every wait is
// bounded, and so is the whole run.

import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";
import { client, xml } from "@xmpp/client";

const TIMEOUT = 10_000; // one wait, in milliseconds
const SCENARIO_TIMEOUT = 30_000;

const { values: opts } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    domain: { type: "string", default: "localhost" },
    password: { type: "string" },
    users: { type: "string" },
    trace: { type: "boolean", default: false },
    websocket: { type: "string" },
  },
});
if (!opts.port || !opts.password || !opts.users || opts.users.split(",").length < 2) {
  console.error("usage: node xmppjs.mjs --port N --password PW --users a,b [--host H] [--domain D] [--trace]");
  process.exit(2);
}
const users = opts.users.split(",");
const trace = [];

class Failure extends Error {}

function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

function withTimeout(promise, what, ms = TIMEOUT) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// An inbox of received stanzas, waited on by predicate.
class Inbox {
  constructor(name) {
    this.name = name;
    this.items = [];
    this.waiters = [];
  }

  put(el) {
    this.items.push(el);
    for (const w of this.waiters.splice(0)) w();
  }

  async expect(pred, what, ms = TIMEOUT) {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.items.findIndex(pred);
      if (i >= 0) return this.items.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Failure(`${this.name}: timed out after ${ms} ms waiting for ${what}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

async function login(localpart, resource, service = `xmpp://${opts.host}:${opts.port}`) {
  const overWebSocket = service.startsWith("ws");
  const xmpp = client({
    service,
    domain: opts.domain,
    username: localpart,
    password: opts.password,
    resource,
  });
  xmpp.reconnect.stop(); // a lost connection is a failure here, not a retry
  const label = `${localpart}/${resource}`;
  xmpp.on("element", (el) => trace.push(`${label} <- ${el}`));
  xmpp.on("send", (el) => trace.push(`${label} -> ${el}`));
  xmpp.on("error", (err) => trace.push(`${label} error: ${err}`));
  xmpp.messages = new Inbox(`${label} messages`);
  xmpp.on("stanza", (el) => {
    if (el.is("message")) xmpp.messages.put(el);
  });
  // Roster pushes (RFC 6121 §2.1.6): only from the account itself.
  xmpp.pushes = new Inbox(`${label} roster pushes`);
  xmpp.iqCallee.set("jabber:iq:roster", "query", (ctx) => {
    const from = ctx.stanza.attrs.from;
    if (from && from !== xmpp.jid.bare().toString()) {
      trace.push(`${label}: roster push from ${from} refused`);
      return xml("error", { type: "cancel" }, xml("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    }
    xmpp.pushes.put(ctx.stanza);
    return true;
  });
  let mechanism = "";
  xmpp.on("send", (el) => {
    if (el.is("auth", "urn:ietf:params:xml:ns:xmpp-sasl")) mechanism = el.attrs.mechanism;
  });
  const address = await withTimeout(xmpp.start(), `${label} login`);
  check(mechanism.startsWith("SCRAM-"), `${label}: logged in with ${mechanism || "no SASL <auth/>"}, want SCRAM`);
  check(address.bare().toString() === `${localpart}@${opts.domain}`, `${label}: bound ${address}`);
  if (overWebSocket) {
    check(xmpp.socket?.socket?.protocol === "xmpp", `${label}: WebSocket subprotocol ${xmpp.socket?.socket?.protocol}`);
    console.log(`${label}: online as ${address} over WebSocket ${service} with ${mechanism}`);
    return xmpp;
  }
  const secure = xmpp.socket?.secure === true && xmpp.socket?.socket?.encrypted === true;
  check(secure, `${label}: stream is not encrypted after login`);
  console.log(`${label}: online as ${address} over ${xmpp.socket.socket.getProtocol()} with ${mechanism}`);
  return xmpp;
}

async function rosterGet(xmpp) {
  const res = await withTimeout(xmpp.iqCaller.get(xml("query", { xmlns: "jabber:iq:roster" })), "roster get");
  check(res?.is("query", "jabber:iq:roster"), `roster get: result without <query/>: ${res}`);
  return res.getChildren("item");
}

async function scenario(clients) {
  const [a, b] = await Promise.all([
    opts.websocket ? login(users[0], "xmppjs-ws", opts.websocket) : login(users[0], "xmppjs-a"),
    login(users[1], "xmppjs-b"),
  ]);
  clients.push(a, b);
  await a.send(xml("presence"));
  await b.send(xml("presence"));

  // Chat both ways: to a full JID, then to a bare JID.
  const token = randomUUID().slice(0, 8);
  await a.send(xml("message", { to: b.jid.toString(), type: "chat", id: `m1-${token}` }, xml("body", {}, `hi b ${token}`)));
  let m = await b.messages.expect((el) => el.getChildText("body") === `hi b ${token}`, "a's chat message");
  check(m.attrs.from === a.jid.toString(), `message from ${m.attrs.from}, want ${a.jid}`);
  check(m.attrs.type === "chat", `message type ${m.attrs.type}`);
  await b.send(xml("message", { to: a.jid.bare().toString(), type: "chat" }, xml("body", {}, `hi a ${token} ✓ <&>`)));
  m = await a.messages.expect((el) => el.getChildText("body") === `hi a ${token} ✓ <&>`, "b's chat message to the bare JID");
  check(m.attrs.from === b.jid.toString(), `message from ${m.attrs.from}, want ${b.jid}`);

  // Roster: empty at first, then set an item and read it back.
  const before = await rosterGet(a);
  check(before.length === 0, `fresh roster has ${before.length} items`);
  const contact = b.jid.bare().toString();
  await withTimeout(
    a.iqCaller.set(
      xml("query", { xmlns: "jabber:iq:roster" },
        xml("item", { jid: contact, name: "Bee" }, xml("group", {}, "Interop"))),
    ),
    "roster set",
  );
  const push = await a.pushes.expect(
    (iq) => iq.getChild("query")?.getChildren("item").some((i) => i.attrs.jid === contact), `roster push for ${contact}`);
  check(push.getChild("query").getChildren("item").length === 1, `roster push carries more than one item: ${push}`);
  const after = await rosterGet(a);
  const item = after.find((i) => i.attrs.jid === contact);
  check(item, `roster lacks ${contact} after set: ${after.join("")}`);
  check(item.attrs.name === "Bee", `roster item name ${item.attrs.name}`);
  check(item.getChildText("group") === "Interop", `roster item group ${item.getChildText("group")}`);
  check((item.attrs.subscription ?? "none") === "none", `subscription ${item.attrs.subscription}`);

  // Ping (XEP-0199): a client, which xmpp.js answers itself, then the server.
  const pong = await withTimeout(a.iqCaller.request(
    xml("iq", { type: "get", to: b.jid.toString() }, xml("ping", { xmlns: "urn:xmpp:ping" }))), "ping b");
  check(pong.attrs.type === "result" && pong.attrs.from === b.jid.toString(), `ping b: ${pong}`);
  try {
    await withTimeout(a.iqCaller.request(
      xml("iq", { type: "get", to: opts.domain }, xml("ping", { xmlns: "urn:xmpp:ping" }))), "ping the server");
  } catch (err) {
    if (err instanceof Failure) throw err;
    throw new Failure(`ping the server: ${err.condition ?? err.name}: ${err.element ?? err.message}`);
  }
}

async function main() {
  const clients = [];
  let failure = null;
  try {
    await withTimeout(scenario(clients), "the whole scenario", SCENARIO_TIMEOUT);
  } catch (err) {
    failure = err;
  }
  for (const c of clients) {
    try {
      await withTimeout(c.stop(), "logout");
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure) {
    console.log(`FAIL xmppjs: ${failure instanceof Failure ? failure.message : failure.stack}`);
    console.log("--- client trace ---");
    console.log(trace.join("\n"));
    process.exit(1);
  }
  if (opts.trace) {
    console.log("--- client trace ---");
    console.log(trace.join("\n"));
  }
  console.log("PASS xmppjs");
  process.exit(0);
}

// The Go test's deadline: say so, with the trace, rather than die silently.
process.on("SIGINT", () => {
  console.log("FAIL xmppjs: interrupted (deadline)");
  console.log("--- client trace ---");
  console.log(trace.join("\n"));
  process.exit(1);
});

main();
