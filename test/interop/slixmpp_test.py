#!/usr/bin/python3
"""Interop scenarios: slixmpp, a client Parley's authors did not write,
against a running Parley server.

Run one scenario per process:

    /usr/bin/python3 slixmpp_test.py --port 5222 --password secret \
        --cafile data/tls/selfsigned.crt --users alice,bob chat

(--list prints each scenario and how many accounts it needs.)

The accounts must exist already (interop_test.go creates them with the
parley CLI). Each scenario asserts what the RFCs and XEPs require, prints
PASS on success, and on failure prints why plus the client's stanza trace
and exits 1. Every wait is bounded; the whole scenario is bounded too.

This is not a pytest module: the name only marks it as a test for readers.
"""

import argparse
import asyncio
import io
import logging
import pathlib
import ssl
import sys
import uuid

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

TIMEOUT = 10.0  # one wait: a reply, a pushed stanza, a login
SCENARIO_TIMEOUT = 45.0  # the whole scenario

NS_DELAY = "urn:xmpp:delay"
NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors"
NS_PUSH = "urn:xmpp:push:0"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_DATA = "jabber:x:data"

trace = logging.getLogger("interop.trace")  # every stanza, per client


class Failure(Exception):
    """A scenario's assertion failed."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Inbox:
    """Stanzas a client received, waited on by predicate."""

    def __init__(self, name):
        self.name = name
        self.items = []
        self._changed = asyncio.Event()

    def put(self, item):
        self.items.append(item)
        self._changed.set()

    def find(self, pred):
        for item in self.items:
            if pred(item):
                return item
        return None

    async def expect(self, pred, what, timeout=TIMEOUT):
        """Remove and return the first stanza matching pred, waiting for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            for i, item in enumerate(self.items):
                if pred(item):
                    del self.items[i]
                    return item
            left = deadline - loop.time()
            if left <= 0:
                raise Failure(f"{self.name}: timed out after {timeout}s waiting for {what}")
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def absent(self, pred, what):
        item = self.find(pred)
        check(item is None, f"{self.name}: got {what} and should not have: {item}")


class Client(slixmpp.ClientXMPP):
    """A slixmpp client that records what it receives and decides nothing
    on its own: subscription requests wait for the scenario."""

    def __init__(self, jid, password, cafile=None):
        super().__init__(jid, password)
        if cafile:
            # Trust the server's self-signed certificate and check it for
            # real, name included.
            self.ca_certs = pathlib.Path(cafile)
        else:
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE
        self.auto_authorize = None
        self.auto_subscribe = False
        for p in ("xep_0030", "xep_0054", "xep_0191", "xep_0199", "xep_0203"):
            self.register_plugin(p)
        self.messages = Inbox(f"{jid} messages")
        self.presences = Inbox(f"{jid} presences")
        self.pushes = Inbox(f"{jid} roster pushes")
        self.add_event_handler("message", self.messages.put)
        self.add_event_handler("presence", self.presences.put)
        self.add_event_handler("roster_update", self._roster_update)
        self.add_filter("in", self._trace("<-"))
        self.add_filter("out", self._trace("->"))
        self.auth_failures = []
        self.add_event_handler("failed_auth", lambda f: self.auth_failures.append(f["condition"]))

    def _trace(self, arrow):
        def f(stanza):
            trace.debug("%s %s %s", self.boundjid.full, arrow, stanza)
            return stanza
        return f

    def abort(self):
        if self.transport:
            try:
                super().abort()
            except AttributeError:
                pass  # asyncio's SSL transport was already torn down by the peer's close

    def _roster_update(self, iq):
        if iq["type"] == "set":
            self.pushes.put(iq)

    async def login(self, host, port, presence=True, direct_tls=False):
        """Connect with STARTTLS (or TLS from the first byte, XEP-0368),
        authenticate, bind; then send initial presence (RFC 6121 §4.2)
        unless told not to."""
        done = asyncio.get_running_loop().create_future()

        def settle(result):
            if not done.done():
                done.set_result(result)

        self.add_event_handler("session_start", lambda _: settle("ok"))
        self.add_event_handler("failed_all_auth", lambda _: settle("auth failed"))
        self.add_event_handler("stream_error", lambda e: settle(f"stream error {e}"))
        self.add_event_handler("disconnected", lambda r: settle(f"disconnected before the session started: {r}"))
        self.add_event_handler("connection_failed", lambda e: settle(f"connection failed: {e}"))
        self.connect(address=(host, port), use_ssl=direct_tls)
        try:
            result = await asyncio.wait_for(done, TIMEOUT)
        except asyncio.TimeoutError:
            self.abort()
            raise Failure(f"{self.boundjid}: no session after {TIMEOUT}s")
        if result != "ok":
            self.abort()
            return result
        if presence:
            self.send_presence()
        return result

    async def logout(self):
        await asyncio.wait_for(self.disconnect(wait=TIMEOUT / 2), TIMEOUT)

    async def barrier(self):
        """Ask for the roster and wait for the answer. The server handles a
        session's stanzas in order, so whatever this client sent before has
        been routed, and whatever was queued for it before has arrived.
        (The roster is core RFC 6121, so this leans on no optional module.)"""
        await self.iq_result(self.get_roster(timeout=TIMEOUT), "barrier roster get")

    async def iq_result(self, fut, what):
        try:
            return await asyncio.wait_for(fut, TIMEOUT + 1)
        except IqError as e:
            raise Failure(f"{self.boundjid}: {what}: server answered error "
                          f"{e.iq['error']['type']}/{e.iq['error']['condition']}: {e.iq}")
        except (IqTimeout, asyncio.TimeoutError):
            raise Failure(f"{self.boundjid}: {what}: no answer in {TIMEOUT}s")

    async def fetch_roster(self):
        """The whole roster: no ver attribute, so versioning (RFC 6121
        §2.6) cannot answer with an empty result."""
        iq = self.Iq()
        iq["type"] = "get"
        iq.enable("roster")
        iq = await self.iq_result(iq.send(timeout=TIMEOUT), "roster get")
        check(iq["type"] == "result", f"roster get: want result, got {iq}")
        check(iq.xml.find("{jabber:iq:roster}query") is not None, f"roster get: result without <query/>: {iq}")
        return iq["roster"]["items"]


class Scenario:
    def __init__(self, args):
        self.args = args
        self.clients = []

    def jid(self, i):
        return f"{self.args.users[i]}@{self.args.domain}"

    async def client(self, i, resource=None, presence=True):
        jid = self.jid(i) + ("/" + resource if resource else "")
        c = Client(jid, self.args.password, self.args.cafile)
        self.clients.append(c)
        result = await c.login(self.args.host, self.args.port, presence=presence)
        check(result == "ok", f"{jid}: login: {result}")
        return c

    async def close(self):
        for c in self.clients:
            if c.transport:
                try:
                    await c.logout()
                except Exception:  # cleanup only; the verdict is already in
                    c.abort()


def is_msg(frm=None, body=None, mtype=None):
    def pred(m):
        return (m.name == "message"
                and (frm is None or str(m["from"]) == str(frm))
                and (body is None or m["body"] == body)
                and (mtype is None or m["type"] == mtype))
    return pred


def is_pres(frm=None, ptype=None, bare=False):
    def pred(p):
        f = p["from"].bare if bare else str(p["from"])
        return (frm is None or f == str(frm)) and (ptype is None or p["type"] == ptype)
    return pred


def is_push(jid, subscription=None):
    def pred(iq):
        items = iq["roster"]["items"]
        if jid not in items:
            return False
        return subscription is None or items[jid]["subscription"] == subscription
    return pred


async def expect_iq_error(c, payload, conditions, what, ito=None, itype="set"):
    """Send an IQ with a raw payload and check it fails with one of conditions."""
    iq = c.Iq()
    iq["type"] = itype
    if ito:
        iq["to"] = ito
    iq.append(ET.fromstring(payload))
    try:
        res = await asyncio.wait_for(iq.send(timeout=TIMEOUT), TIMEOUT + 1)
    except IqError as e:
        cond = e.iq["error"]["condition"]
        check(cond in conditions, f"{what}: want {' or '.join(conditions)}, got {cond}: {e.iq}")
        return
    except (IqTimeout, asyncio.TimeoutError):
        raise Failure(f"{what}: no answer in {TIMEOUT}s")
    raise Failure(f"{what}: want an error ({' or '.join(conditions)}), got {res}")


async def subscribe_both(a, b):
    """The full RFC 6121 §3 handshake in both directions, each step checked:
    a subscribes to b, b approves, b subscribes to a, a approves."""
    for x, y in ((a, b), (b, a)):
        xb, yb = x.boundjid.bare, y.boundjid.bare
        x.send_presence_subscription(yb, ptype="subscribe")
        # §3.1.2: the subscriber's server pushes the item with ask='subscribe'.
        push = await x.pushes.expect(is_push(yb), f"push for {yb} after subscribe")
        check(push["roster"]["items"][yb]["ask"] == "subscribe",
              f"push after subscribe lacks ask='subscribe': {push}")
        req = await y.presences.expect(is_pres(xb, "subscribe", bare=True), f"subscribe from {xb}")
        check(str(req["from"]) == xb, f"§3.1.3: subscribe must come from the bare JID, got {req['from']}")
        y.send_presence_subscription(xb, ptype="subscribed")
        want_y = "from" if x is a else "both"
        want_x = "to" if x is a else "both"
        await y.pushes.expect(is_push(xb, want_y), f"push {xb} subscription={want_y} for the approver")
        await x.presences.expect(is_pres(yb, "subscribed", bare=True), f"subscribed from {yb}")
        await x.pushes.expect(is_push(yb, want_x), f"push {yb} subscription={want_x} for the subscriber")
        # §3.1.5/§4.3: the approver's server sends the subscriber the
        # contact's current presence once the subscription is approved.
        await x.presences.expect(is_pres(y.boundjid.full, "available"), f"presence of {y.boundjid.full} after approval")


# --- scenarios -------------------------------------------------------------

async def sc_login(s):
    """STARTTLS then SCRAM, then bind; a wrong password is refused."""
    a = await s.client(0)
    check(a.transport.get_extra_info("ssl_object") is not None, "stream is not encrypted after login")
    check("starttls" in a.features, f"starttls not negotiated; features {a.features}")
    mech = a["feature_mechanisms"].mech.name
    check(mech.startswith("SCRAM-"), f"logged in with {mech}, want a SCRAM mechanism")
    check(a.boundjid.bare == s.jid(0), f"bound {a.boundjid}, want {s.jid(0)}/...")
    check(a.boundjid.resource != "", "server bound an empty resource")
    print(f"login: {a.boundjid} over TLS with {mech}")
    await a.barrier()

    if s.args.tls_port:
        d = Client(s.jid(1) + "/direct", s.args.password, s.args.cafile)
        s.clients.append(d)
        result = await d.login(s.args.host, s.args.tls_port, direct_tls=True)
        check(result == "ok", f"direct TLS login: {result}")
        check(d.transport.get_extra_info("ssl_object") is not None, "direct TLS stream is not encrypted")
        check("starttls" not in d.features, "STARTTLS negotiated inside direct TLS")
        print(f"direct TLS: {d.boundjid} with {d['feature_mechanisms'].mech.name}")
        # The two sessions reach each other.
        d.send_message(mto=a.boundjid.full, mbody="over direct TLS", mtype="chat")
        await a.messages.expect(is_msg(frm=d.boundjid.full, body="over direct TLS"), "message from the direct TLS session")

    bad = Client(s.jid(1), s.args.password + "-wrong", s.args.cafile)
    s.clients.append(bad)
    result = await bad.login(s.args.host, s.args.port)
    check(result != "ok", "logged in with a wrong password")
    # slixmpp tries every offered mechanism in turn; RFC 6120 §6.4.5 lets the
    # server end the stream with policy-violation after some failures.
    check("not-authorized" in bad.auth_failures,
          f"wrong password: want a not-authorized failure, got {bad.auth_failures} then {result}")
    print(f"wrong password: failures {bad.auth_failures}, then {result}")


async def sc_channel_binding(s):
    """SCRAM channel binding over TLS 1.2 and TLS 1.3 (STARTTLS and direct
    TLS), as Debian's slixmpp 1.8.3 does it: it binds with tls-unique only
    and does not read XEP-0440's list. Over TLS 1.2 its first choice,
    SCRAM-SHA-256-PLUS with tls-unique, logs in. TLS 1.3 has no tls-unique
    (RFC 9266; Python computes one anyway): both its -PLUS attempts are
    refused, with a valid proof, and then its SCRAM-SHA-256 with the gs2
    flag "y" is accepted rather than taken for a downgrade, since it has
    shown on this stream that it saw -PLUS and cannot bind with this server
    (docs/authentication.md). Either way the first login works, with
    SCRAM, never PLAIN."""
    ports = [("STARTTLS", s.args.port, False)]
    if s.args.tls_port:
        ports.append(("direct TLS", s.args.tls_port, True))
    for version, name, want_mech, want_failures in (
        (ssl.TLSVersion.TLSv1_2, "TLSv1.2", "SCRAM-SHA-256-PLUS", []),
        (ssl.TLSVersion.TLSv1_3, "TLSv1.3", "SCRAM-SHA-256", ["malformed-request", "malformed-request"]),
    ):
        for how, port, direct in ports:
            c = Client(f"{s.jid(0)}/{name}-{'direct' if direct else 'starttls'}", s.args.password, s.args.cafile)
            c.ssl_context.minimum_version = version
            c.ssl_context.maximum_version = version
            s.clients.append(c)
            result = await c.login(s.args.host, port, direct_tls=direct)
            check(result == "ok", f"{name} {how}: login: {result} after failures {c.auth_failures}")
            got = c.transport.get_extra_info("ssl_object").version()
            check(got == name, f"{name} {how}: negotiated {got}")
            mech = c["feature_mechanisms"].mech.name
            print(f"{name} {how}: {mech}, after failures {c.auth_failures}")
            check(mech == want_mech, f"{name} {how}: logged in with {mech}, want {want_mech}")
            check(c.auth_failures == want_failures,
                  f"{name} {how}: failures {c.auth_failures} before the login, want {want_failures}")
            await c.barrier()
            await c.logout()


async def sc_roster(s):
    """Roster get, set and remove (RFC 6121 §2), each change pushed to every
    resource of the user that asked for the roster."""
    a1 = await s.client(0, "one")
    a2 = await s.client(0, "two")
    await a1.fetch_roster()
    await a2.fetch_roster()
    c = s.jid(1)
    check(c not in await a1.fetch_roster(), "fresh account has the contact already")

    await a1.iq_result(a1.update_roster(c, name="Contact", groups=["Friends", "Work"], timeout=TIMEOUT), "roster set")
    for r in (a1, a2):
        push = await r.pushes.expect(is_push(c, "none"), f"push of added {c}")
        check(push["from"].bare in ("", s.jid(0)), f"roster push from {push['from']}")
        item = push["roster"]["items"][c]
        check(item["name"] == "Contact", f"push name {item['name']!r}")
        check(set(item["groups"]) == {"Friends", "Work"}, f"push groups {item['groups']}")
    items = await a2.fetch_roster()
    check(c in items, f"roster get lacks {c}: {items}")
    check(items[c]["name"] == "Contact" and set(items[c]["groups"]) == {"Friends", "Work"},
          f"roster get item {items[c]}")
    check(items[c]["subscription"] == "none", f"subscription {items[c]['subscription']}, want none")

    await a1.iq_result(a1.update_roster(c, name="Renamed", groups=["Friends"], timeout=TIMEOUT), "roster update")
    for r in (a1, a2):
        push = await r.pushes.expect(is_push(c), f"push of renamed {c}")
        check(push["roster"]["items"][c]["name"] == "Renamed", f"push after rename {push}")
    items = await a1.fetch_roster()
    check(items[c]["groups"] == ["Friends"], f"groups after update {items[c]['groups']}")

    await a1.iq_result(a1.del_roster_item(c), "roster remove")
    for r in (a1, a2):
        await r.pushes.expect(is_push(c, "remove"), f"push of removed {c}")
    check(c not in await a2.fetch_roster(), f"{c} still in roster after remove")

    # §2.1.2.5: a subscription value other than remove in a set is ignored.
    other = s.jid(1)
    await a1.iq_result(a1.update_roster(other, subscription="both", timeout=TIMEOUT), "roster set with subscription=both")
    await a1.pushes.expect(is_push(other), f"push of {other}")
    items = await a1.fetch_roster()
    check(items[other]["subscription"] == "none",
          f"roster set with subscription='both' was taken at its word: {items[other]['subscription']}")
    await a1.iq_result(a1.del_roster_item(other), "roster remove")

    # §2.3.3: a set with two items, or one item listing a group twice, is bad-request.
    await expect_iq_error(a1, f"""<query xmlns='jabber:iq:roster'><item jid='x1@{s.args.domain}'/>
        <item jid='x2@{s.args.domain}'/></query>""", ("bad-request",), "roster set with two items")
    await expect_iq_error(a1, f"""<query xmlns='jabber:iq:roster'><item jid='x3@{s.args.domain}'>
        <group>G</group><group>G</group></item></query>""", ("bad-request",), "roster item with a duplicate group")
    # §2.1.5: only the user's own roster: a get addressed to another account fails.
    await expect_iq_error(a1, "<query xmlns='jabber:iq:roster'/>", ("forbidden", "service-unavailable", "not-allowed"),
                          "roster get on another user's account", ito=s.jid(1), itype="get")

    # §2.3.3: removing an item that is not there is item-not-found.
    try:
        await asyncio.wait_for(a1.del_roster_item(s.jid(2) if len(s.args.users) > 2 else "nobody@" + s.args.domain), TIMEOUT)
        raise Failure("removing an absent item: want item-not-found, got result")
    except IqError as e:
        check(e.iq["error"]["condition"] == "item-not-found",
              f"removing an absent item: want item-not-found, got {e.iq['error']['condition']}")


async def sc_subscription(s):
    """subscribe → subscribed both ways until both sides have 'both', and
    each then sees the other's presence."""
    a = await s.client(0)
    b = await s.client(1)
    await a.fetch_roster()
    await b.fetch_roster()
    await subscribe_both(a, b)
    for x, y in ((a, b), (b, a)):
        items = await x.fetch_roster()
        yb = y.boundjid.bare
        check(yb in items and items[yb]["subscription"] == "both",
              f"{x.boundjid.bare}'s roster item for {yb}: {items.get(yb)}")
        check(not items[yb]["ask"], f"ask still set on {yb}: {items[yb]['ask']}")

    # A new resource's initial presence goes to contacts, and the server
    # probes them so the new resource learns theirs (RFC 6121 §4.2).
    b2 = Client(s.jid(1) + "/second", s.args.password, s.args.cafile)
    s.clients.append(b2)
    check(await b2.login(s.args.host, s.args.port, presence=False) == "ok", "second resource login")
    await b2.fetch_roster()
    b2.send_presence(pstatus="second here")
    await a.presences.expect(lambda p: str(p["from"]) == b2.boundjid.full and p["status"] == "second here",
                             "presence of the new resource")
    await b2.presences.expect(is_pres(a.boundjid.full, "available"), "probe answer: contact's presence")

    # a unsubscribes from b (RFC 6121 §3.3): pushes on both sides, b is
    # told, and a gets unavailable from each of b's resources.
    ab, bb = a.boundjid.bare, b.boundjid.bare
    a.send_presence_subscription(bb, ptype="unsubscribe")
    await a.pushes.expect(is_push(bb, "from"), f"push {bb} subscription=from after unsubscribe")
    await b.presences.expect(is_pres(ab, "unsubscribe", bare=True), f"unsubscribe from {ab}")
    await b.pushes.expect(is_push(ab, "to"), f"push {ab} subscription=to for the contact")
    for r in (b, b2):
        await a.presences.expect(is_pres(r.boundjid.full, "unavailable"),
                                 f"unavailable from {r.boundjid.full} after unsubscribe (§3.3.3)")
    # b keeps its subscription to a: a's presence still reaches b.
    a.send_presence(pstatus="still visible")
    await b.presences.expect(lambda p: str(p["from"]) == a.boundjid.full and p["status"] == "still visible",
                             "a's presence after a unsubscribed from b")
    await b.barrier()
    await a.barrier()
    b.send_presence(pstatus="should not reach a")
    await b.barrier()
    await a.barrier()
    a.presences.absent(lambda p: p["status"] == "should not reach a", "b's presence after unsubscribing from b")

    # a removes b from the roster (§2.5.2): b was subscribed to a, so the
    # server cancels that with unsubscribed, and b sees a go offline.
    await a.iq_result(a.del_roster_item(bb), "roster remove of a subscribed contact")
    await a.pushes.expect(is_push(bb, "remove"), f"push remove {bb}")
    await b.presences.expect(is_pres(ab, "unsubscribed", bare=True), f"unsubscribed from {ab} after roster remove")
    await b.pushes.expect(is_push(ab, "none"), f"push {ab} subscription=none for the contact")
    await b.presences.expect(is_pres(a.boundjid.full, "unavailable"), f"unavailable from {a.boundjid.full} after remove")
    items = await b.fetch_roster()
    check(items[ab]["subscription"] == "none", f"b's item for a after remove: {items.get(ab)}")
    check(bb not in await a.fetch_roster(), f"{bb} still in a's roster after remove")


async def sc_presence(s):
    """Presence changes reach subscribed contacts; a resource that goes away,
    cleanly or not, is announced unavailable."""
    a = await s.client(0)
    b = await s.client(1, "clean")
    await a.fetch_roster()
    await b.fetch_roster()
    await subscribe_both(a, b)

    b.send_presence(pshow="away", pstatus="lunch")
    p = await a.presences.expect(lambda p: str(p["from"]) == b.boundjid.full and p["show"] == "away",
                                 "away presence broadcast")
    check(p["status"] == "lunch", f"status {p['status']!r}")
    # The sender's other resources and the sender itself get it too (§4.4.2).
    await b.presences.expect(lambda p: str(p["from"]) == b.boundjid.full and p["show"] == "away",
                             "own presence reflected")

    # A clean logout, </stream:stream> with no unavailable presence first:
    # the server broadcasts unavailable on the resource's behalf (§4.5.3).
    full = b.boundjid.full
    await b.logout()
    await a.presences.expect(is_pres(full, "unavailable"), f"unavailable from {full} after clean close")

    # An abrupt one: the TCP connection just closes.
    b2 = await s.client(1, "abrupt")
    await a.presences.expect(is_pres(b2.boundjid.full, "available"), "presence of abrupt resource")
    full = b2.boundjid.full
    b2.abort()
    await a.presences.expect(is_pres(full, "unavailable"), f"unavailable from {full} after the socket dropped")

    # Unsubscribed users do not see presence: a third user never hears of a.
    if len(s.args.users) > 2:
        c = await s.client(2)
        await c.barrier()
        a.send_presence(pstatus="back")
        await a.barrier()
        await c.barrier()
        c.presences.absent(is_pres(a.boundjid.full, bare=False), "presence from a non-contact")


async def sc_chat(s):
    """Chat messages both ways between full JIDs and to a bare JID."""
    a = await s.client(0)
    b = await s.client(1)
    token = uuid.uuid4().hex[:8]
    a.send_message(mto=b.boundjid.full, mbody=f"hello b {token}", mtype="chat")
    m = await b.messages.expect(is_msg(body=f"hello b {token}"), "a's message")
    check(str(m["from"]) == a.boundjid.full, f"from {m['from']}, want {a.boundjid.full}")
    check(m["type"] == "chat", f"type {m['type']}")
    check(str(m["to"]) == b.boundjid.full, f"to {m['to']}, want {b.boundjid.full}")

    b.send_message(mto=a.boundjid.bare, mbody=f"hello a {token}", mtype="chat")
    m = await a.messages.expect(is_msg(body=f"hello a {token}"), "b's message to the bare JID")
    check(str(m["from"]) == b.boundjid.full, f"from {m['from']}, want {b.boundjid.full}")
    check(m["type"] == "chat", f"type {m['type']}")

    # A chat message to a resource that is not there goes to the user's
    # other resources (RFC 6121 §8.5.3.2.1).
    a.send_message(mto=b.boundjid.bare + "/gone", mbody=f"to gone {token}", mtype="chat")
    await b.messages.expect(is_msg(body=f"to gone {token}"), "a chat message to an absent resource")

    # Non-ASCII and XML-special characters survive the trip.
    body = "ünïcødé <&> \"quotes\" 'apos' 🎉"
    a.send_message(mto=b.boundjid.full, mbody=body, mtype="chat")
    await b.messages.expect(is_msg(body=body), "message with special characters")

    # A user who does not exist: a message is dropped or bounced with
    # service-unavailable, an IQ always bounced (RFC 6121 §8.5.1).
    nobody = f"nobody-{token}@{s.args.domain}"
    a.send_message(mto=nobody, mbody="anyone?", mtype="chat")
    await a.barrier()
    for err in [m for m in a.messages.items if m["type"] == "error"]:
        check(err["error"]["condition"] == "service-unavailable",
              f"message to no account: want service-unavailable or nothing, got {err['error']['condition']}")
    try:
        await asyncio.wait_for(a["xep_0199"].send_ping(nobody, timeout=TIMEOUT), TIMEOUT + 1)
        raise Failure("IQ to no account answered result")
    except IqError as e:
        check(e.iq["error"]["condition"] == "service-unavailable",
              f"IQ to no account: want service-unavailable, got {e.iq['error']['condition']}")


async def sc_priority(s):
    """RFC 6121 §8.5.2: a message to a bare JID goes to non-negative
    resources only; one to a full JID goes to that resource whatever its
    priority; with only negative-priority resources online the user counts
    as offline, so the message waits for a real login."""
    a = await s.client(0)
    hi = await s.client(1, "high", presence=False)
    lo = await s.client(1, "low", presence=False)
    neg = await s.client(1, "negative", presence=False)
    for c, prio in ((hi, 5), (lo, 1), (neg, -1)):
        c.send_presence(ppriority=prio)
        await c.barrier()
    token = uuid.uuid4().hex[:8]
    bare = s.jid(1)

    a.send_message(mto=bare, mbody=f"chat {token}", mtype="chat")
    a.send_message(mto=bare, mbody=f"normal {token}", mtype="normal")
    got = {}
    for body in (f"chat {token}", f"normal {token}"):
        # Each goes to the most available resource(s) or to all
        # non-negative ones (§8.5.2.1.1): at least one of them, then.
        await asyncio.gather(*(c.barrier() for c in (a, hi, lo, neg)))
        got[body] = [c.boundjid.resource for c in (hi, lo) if c.messages.find(is_msg(body=body))]
        check(got[body], f"{body!r} to the bare JID reached no non-negative resource")
        neg.messages.absent(is_msg(body=body), f"{body!r} on a negative-priority resource (§8.5.2.1.1 MUST NOT)")
    print(f"bare-JID delivery: {got}")

    a.send_message(mto=neg.boundjid.full, mbody=f"direct {token}", mtype="chat")
    await neg.messages.expect(is_msg(body=f"direct {token}"), "a message to the negative-priority full JID")

    # Only the negative-priority resource left: offline as far as messages go.
    await hi.logout()
    await lo.logout()
    a.send_message(mto=bare, mbody=f"later {token}", mtype="chat")
    await a.barrier()
    await neg.barrier()
    neg.messages.absent(is_msg(body=f"later {token}"), "a bare-JID message on the only, negative-priority, resource")
    back = await s.client(1, "back")
    m = await back.messages.expect(is_msg(body=f"later {token}"), "the message stored while only a negative resource was on")
    check(m.xml.find(f"{{{NS_DELAY}}}delay") is not None, f"stored message without <delay/>: {m}")


async def sc_offline(s):
    """A message to an offline user waits on the server and arrives, with a
    XEP-0203 delay element, once they come online."""
    a = await s.client(0)
    token = uuid.uuid4().hex[:8]
    bob = s.jid(1)
    a.send_message(mto=bob, mbody=f"while you were out {token}", mtype="chat")
    a.send_message(mto=bob, mbody=f"second {token}", mtype="chat")
    # RFC 6121 §8.5.2.2.1: with no available resource, a headline is
    # silently dropped, and a groupchat message bounces with an error.
    a.send_message(mto=bob, mbody=f"headline {token}", mtype="headline")
    await a.barrier()
    a.messages.absent(lambda m: m["type"] == "error", "an error for a message to an offline user")
    a.send_message(mto=bob, mbody=f"groupchat {token}", mtype="groupchat")
    err = await a.messages.expect(lambda m: m["type"] == "error", "an error for groupchat to an offline user")
    check(err["body"] in ("", f"groupchat {token}"), f"the error is not for the groupchat message: {err}")
    print(f"groupchat to an offline user: {err['error']['condition']}")

    b = await s.client(1)
    m1 = await b.messages.expect(is_msg(body=f"while you were out {token}"), "first offline message")
    m2 = await b.messages.expect(is_msg(body=f"second {token}"), "second offline message")
    check(b.messages.find(is_msg(body=f"second {token}")) is None, "offline message delivered twice")
    await b.barrier()
    b.messages.absent(lambda m: token in (m["body"] or "") and m["type"] in ("headline", "groupchat"),
                      "a headline or groupchat message stored offline")
    for m in (m1, m2):
        check(m["from"].bare == s.jid(0), f"offline message from {m['from']}")
        delay = m.xml.find(f"{{{NS_DELAY}}}delay")
        check(delay is not None, f"offline message lacks <delay xmlns='{NS_DELAY}'>: {m}")
        check(delay.get("stamp", "").endswith("Z"), f"delay stamp {delay.get('stamp')!r} is not UTC XEP-0082")
        check(delay.get("from") == s.args.domain, f"delay from {delay.get('from')!r}, want {s.args.domain}")
    check(m1.xml.find(f"{{{NS_DELAY}}}delay").get("stamp") <= m2.xml.find(f"{{{NS_DELAY}}}delay").get("stamp"),
          "offline messages out of order")

    # Delivered once: a fresh login finds nothing left.
    await b.logout()
    b2 = await s.client(1, "again")
    await b2.barrier()
    b2.messages.absent(is_msg(frm=None, body=f"while you were out {token}"), "an offline message again")


async def sc_vcard(s):
    """vcard-temp (XEP-0054): set one's own, read it back, and another user
    reads it too."""
    a = await s.client(0)
    b = await s.client(1)
    token = uuid.uuid4().hex[:8]
    card = a["xep_0054"].make_vcard()
    card["FN"] = f"Alice {token}"
    card["NICKNAME"] = "al"
    card["URL"] = "https://example.org/alice"
    await a.iq_result(a["xep_0054"].publish_vcard(card, timeout=TIMEOUT), "vcard set")

    for who, c in (("owner", a), ("contact", b)):
        iq = await c.iq_result(c["xep_0054"].get_vcard(s.jid(0), timeout=TIMEOUT), f"vcard get by {who}")
        v = iq["vcard_temp"]
        check(v["FN"] == f"Alice {token}", f"vcard FN seen by {who}: {v['FN']!r}; {iq}")
        check(v["NICKNAME"] in ("al", ["al"]), f"vcard NICKNAME seen by {who}: {v['NICKNAME']!r}")

    # No vCard, asked by the owner: item-not-found or an empty <vCard/>
    # (§3.1); asked by someone else: service-unavailable or item-not-found
    # (§3.3), so the answer does not tell whether the account exists.
    try:
        iq = await asyncio.wait_for(b["xep_0054"].get_vcard(s.jid(1), timeout=TIMEOUT), TIMEOUT + 1)
        check(len(iq["vcard_temp"].xml) == 0, f"own vCard never set: want it empty, got {iq}")
    except IqError as e:
        check(e.iq["error"]["condition"] == "item-not-found",
              f"own vCard never set: want empty or item-not-found, got {e.iq['error']['condition']}")
    try:
        await asyncio.wait_for(a["xep_0054"].get_vcard(s.jid(1), timeout=TIMEOUT), TIMEOUT + 1)
        raise Failure("another user's absent vCard: want an error, got a result")
    except IqError as e:
        check(e.iq["error"]["condition"] in ("service-unavailable", "item-not-found"),
              f"another user's absent vCard: got {e.iq['error']['condition']}")

    # Setting someone else's vCard: forbidden or not-allowed (§3.2).
    card = b["xep_0054"].make_vcard()
    card["FN"] = "Mallory"
    try:
        await asyncio.wait_for(b["xep_0054"].publish_vcard(card, jid=s.jid(0), timeout=TIMEOUT), TIMEOUT + 1)
        raise Failure("setting another user's vCard answered result")
    except IqError as e:
        check(e.iq["error"]["condition"] in ("forbidden", "not-allowed"),
              f"setting another user's vCard: got {e.iq['error']['condition']}")
    iq = await a.iq_result(a["xep_0054"].get_vcard(s.jid(0), timeout=TIMEOUT), "vcard get after the attempt")
    check(iq["vcard_temp"]["FN"] == f"Alice {token}", f"vCard changed by another user: {iq}")


async def sc_blocking(s):
    """XEP-0191 between two subscribed users: the block list and its pushes;
    nothing from the blocked user gets through, and nothing to them; the
    blocked user sees the blocker go offline, and back online on unblock."""
    a = await s.client(0, "one")
    a2 = await s.client(0, "two")
    b = await s.client(1)
    for c in (a, a2, b):
        await c.fetch_roster()
    await subscribe_both(a, b)
    await b.presences.expect(is_pres(a2.boundjid.full, "available"), "presence of the blocker's second resource")

    blocking = a["xep_0191"]
    for c in (a, a2):
        # Requesting the list makes a resource interested in pushes (§3.2).
        iq = await c.iq_result(c["xep_0191"].get_blocked(timeout=TIMEOUT), "blocklist get")
        check(len(iq["blocklist"]["items"]) == 0, f"fresh blocklist not empty: {iq}")
    blocked, unblocked = Inbox("block pushes"), Inbox("unblock pushes")
    a2.add_event_handler("blocked", blocked.put)
    a2.add_event_handler("unblocked", unblocked.put)

    await a.iq_result(blocking.block(s.jid(1), timeout=TIMEOUT), "block")
    await blocked.expect(lambda iq: s.jid(1) in {str(j) for j in iq["block"]["items"]}, "block push to other resource")
    iq = await a.iq_result(blocking.get_blocked(timeout=TIMEOUT), "blocklist get after block")
    check({str(j) for j in iq["blocklist"]["items"]} == {s.jid(1)}, f"blocklist after block: {iq}")
    # §3.3: the blocked contact, subscribed to a's presence, sees a go offline.
    for r in (a, a2):
        await b.presences.expect(is_pres(r.boundjid.full, "unavailable"), f"unavailable from {r.boundjid.full} on block")

    # §3.3: nothing from the blocked user reaches a. Messages SHOULD bounce
    # with service-unavailable, IQs MUST bounce, presence MUST NOT.
    token = uuid.uuid4().hex[:8]
    b.send_message(mto=a.boundjid.bare, mbody=f"blocked {token}", mtype="chat")
    b.send_message(mto=a.boundjid.full, mbody=f"blocked full {token}", mtype="chat")
    b.send_presence(pstatus=f"blocked presence {token}")
    try:
        await asyncio.wait_for(b["xep_0199"].send_ping(a.boundjid.full, timeout=TIMEOUT), TIMEOUT + 1)
        raise Failure("an IQ from a blocked user was answered with a result")
    except IqError as e:
        print(f"IQ from the blocked user: {e.iq['error']['condition']}")
    await b.barrier()
    for c in (a, a2):
        await c.barrier()
        c.messages.absent(lambda m: token in (m["body"] or ""), "a message from a blocked user")
        c.presences.absent(lambda p: p["from"].bare == s.jid(1) and token in (p["status"] or ""),
                           "presence from a blocked user")
    errs = [m for m in b.messages.items if m["type"] == "error"]
    print(f"messages from the blocked user bounced with {[m['error']['condition'] for m in errs]}")
    b.presences.absent(lambda p: p["type"] == "error", "an error for presence to a blocker")

    # §3.3: a cannot send to someone they block: not-acceptable with <blocked/>.
    a.send_message(mto=b.boundjid.bare, mbody=f"to blocked {token}", mtype="chat")
    err = await a.messages.expect(lambda m: m["type"] == "error", "error for a message to a blocked user")
    check(err["error"]["condition"] == "not-acceptable",
          f"message to a blocked user: want not-acceptable, got {err['error']['condition']}")
    check(err.xml.find(f".//{{{NS_BLOCKING_ERRORS}}}blocked") is not None,
          f"not-acceptable lacks <blocked xmlns='{NS_BLOCKING_ERRORS}'/>: {err}")
    a.send_presence(pstatus=f"hidden {token}")
    await a.barrier()
    await b.barrier()
    b.messages.absent(is_msg(body=f"to blocked {token}"), "a message from the user who blocks")
    b.presences.absent(lambda p: p["from"].bare == s.jid(0) and token in (p["status"] or ""),
                       "a presence broadcast from the user who blocks")

    await a.iq_result(blocking.unblock(s.jid(1), timeout=TIMEOUT), "unblock")
    await unblocked.expect(lambda iq: s.jid(1) in {str(j) for j in iq["unblock"]["items"]},
                           "unblock push to other resource")
    iq = await a.iq_result(blocking.get_blocked(timeout=TIMEOUT), "blocklist get after unblock")
    check(len(iq["blocklist"]["items"]) == 0, f"blocklist after unblock: {iq}")
    # §3.4: on unblock the contact gets a's current presence again.
    p = await b.presences.expect(is_pres(a.boundjid.full, "available"), f"presence of {a.boundjid.full} on unblock")
    check(p["status"] == f"hidden {token}", f"presence on unblock is not the current one: status {p['status']!r}")
    await b.presences.expect(is_pres(a2.boundjid.full, "available"), f"presence of {a2.boundjid.full} on unblock")
    b.send_message(mto=a.boundjid.full, mbody=f"unblocked {token}", mtype="chat")
    await a.messages.expect(is_msg(body=f"unblocked {token}"), "a message after unblock")
    a.messages.absent(lambda m: (m["body"] or "").startswith("blocked"), "a message sent while blocked")


async def sc_disco(s):
    """XEP-0030 disco#info on the server: an im server identity and the
    features it implements."""
    a = await s.client(0)
    iq = await a.iq_result(a["xep_0030"].get_info(jid=s.args.domain, timeout=TIMEOUT), "disco#info on the server")
    info = iq["disco_info"]
    identities = {(cat, typ) for cat, typ, _lang, _name in info["identities"]}
    features = set(info["features"])
    print(f"server identities {sorted(identities)}")
    print(f"server features {sorted(features)}")
    check(("server", "im") in identities, f"no server/im identity in {identities}")
    for f in ("http://jabber.org/protocol/disco#info", "urn:xmpp:ping"):
        check(f in features, f"feature {f} missing from {sorted(features)}")

    # A node the server does not have: item-not-found, not an empty result.
    try:
        await asyncio.wait_for(a["xep_0030"].get_info(jid=s.args.domain, node="no-such-node-" + uuid.uuid4().hex[:6],
                                                      timeout=TIMEOUT), TIMEOUT + 1)
        print("note: disco#info on an unknown node answered result")
    except IqError as e:
        check(e.iq["error"]["condition"] == "item-not-found",
              f"unknown node: want item-not-found, got {e.iq['error']['condition']}")

    # disco#items on the server answers (possibly empty).
    await a.iq_result(a["xep_0030"].get_items(jid=s.args.domain, timeout=TIMEOUT), "disco#items on the server")


async def sc_ping(s):
    """XEP-0199: the server answers a ping; a ping to another user's full JID
    is routed to their client and the answer back."""
    a = await s.client(0)
    b = await s.client(1)
    iq = await a.iq_result(a["xep_0199"].send_ping(s.args.domain, timeout=TIMEOUT), "ping the server")
    check(iq["type"] == "result", f"ping: {iq}")
    check(str(iq["from"]) in (s.args.domain, ""), f"ping answered from {iq['from']}")
    iq = await a.iq_result(a["xep_0199"].send_ping(b.boundjid.full, timeout=TIMEOUT), "ping a client")
    check(str(iq["from"]) == b.boundjid.full, f"client ping answered from {iq['from']}")
    # An IQ to a resource that is not there: service-unavailable (RFC 6121 §8.5.3.2).
    try:
        await asyncio.wait_for(a["xep_0199"].send_ping(b.boundjid.bare + "/gone", timeout=TIMEOUT), TIMEOUT + 1)
        raise Failure("ping to an absent resource answered result")
    except IqError as e:
        check(e.iq["error"]["condition"] == "service-unavailable",
              f"ping to an absent resource: want service-unavailable, got {e.iq['error']['condition']}")


async def sc_resume(s):
    """XEP-0198 with slixmpp's own plugin: stream management is enabled
    with resumption; the connection breaks without a closing tag; a message
    sent meanwhile waits in the session; slixmpp reconnects and resumes
    (no new bind, same full JID) and gets it, once."""
    a = Client(s.jid(0) + "/sm", s.args.password, s.args.cafile)
    a.register_plugin("xep_0198")
    s.clients.append(a)
    enabled = asyncio.get_running_loop().create_future()
    a.add_event_handler("sm_enabled", lambda _: enabled.done() or enabled.set_result(True))
    check(await a.login(s.args.host, s.args.port) == "ok", "login with stream management")
    await asyncio.wait_for(enabled, TIMEOUT)
    check(a["xep_0198"].sm_id, "the server offered no resumption (no SM-ID in <enabled/>)")
    b = await s.client(1)
    b.send_message(mto=a.boundjid.full, mbody="before", mtype="chat")
    await a.messages.expect(is_msg(body="before"), "a message before the break")
    before = a.boundjid.full

    resumed = asyncio.get_running_loop().create_future()
    a.add_event_handler("session_resumed", lambda _: resumed.done() or resumed.set_result(True))
    lost = asyncio.get_running_loop().create_future()
    a.add_event_handler("disconnected", lambda _: lost.done() or lost.set_result(True))
    a.transport.abort()  # the network goes: no closing tag
    await asyncio.wait_for(lost, TIMEOUT)
    await b.barrier()
    b.send_message(mto=before, mbody="while away", mtype="chat")
    await b.barrier()

    a.connect(address=(s.args.host, s.args.port))
    await asyncio.wait_for(resumed, TIMEOUT)
    check(a.boundjid.full == before, f"resumed as {a.boundjid.full}, want {before}")
    await a.messages.expect(is_msg(body="while away"), "the message sent while the connection was down")
    # Handled before the break, so not sent again on resumption.
    a.messages.absent(is_msg(body="before"), "the message handled before the break, again")
    b.send_message(mto=before, mbody="after", mtype="chat")
    await a.messages.expect(is_msg(body="after"), "a message after the resumption")


class Component(slixmpp.ComponentXMPP):
    """An external component (XEP-0114) as slixmpp implements it, playing a
    push app server (XEP-0357): it records messages and publishes, and
    answers every publish with a result."""

    def __init__(self, jid, secret):
        super().__init__(jid, secret)
        self.messages = Inbox(f"{jid} messages")
        self.publishes = Inbox(f"{jid} publishes")
        self.add_event_handler("message", self.messages.put)
        self.register_handler(Callback("push publish", MatchXPath(
            f"{{{self.default_ns}}}iq/{{{NS_PUBSUB}}}pubsub"), self._publish))
        self.add_filter("in", self._trace("<-"))
        self.add_filter("out", self._trace("->"))

    def _trace(self, arrow):
        def f(stanza):
            trace.debug("%s %s %s", self.boundjid.full, arrow, stanza)
            return stanza
        return f

    def _publish(self, iq):
        if iq["type"] != "set":
            return
        self.publishes.put(iq)
        iq.reply(clear=True).send()

    async def start(self, host, port):
        """Connect and do the handshake; the result is "ok" or why not."""
        done = asyncio.get_running_loop().create_future()

        def settle(result):
            if not done.done():
                done.set_result(result)

        self.add_event_handler("session_start", lambda _: settle("ok"))
        self.add_event_handler("stream_error", lambda e: settle(f"stream error {e['condition']}"))
        self.add_event_handler("disconnected", lambda r: settle(f"disconnected: {r}"))
        self.add_event_handler("connection_failed", lambda e: settle(f"connection failed: {e}"))
        self.connect(host, port)
        try:
            return await asyncio.wait_for(done, TIMEOUT)
        except asyncio.TimeoutError:
            self.abort()
            raise Failure(f"component {self.boundjid}: no answer to the handshake after {TIMEOUT}s")


async def sc_component(s):
    """XEP-0114 with slixmpp's ComponentXMPP, and XEP-0357 through it: the
    handshake (a wrong secret refused), messages both ways between a client
    and addresses at the component's domain, and a push notification for a
    message stored while the user was offline."""
    check(s.args.component_port, "--component-port is needed")
    domain = "push." + s.args.domain
    bad = Component(domain, s.args.password + "-wrong")
    result = await bad.start(s.args.host, s.args.component_port)
    check(result == "stream error not-authorized", f"wrong component secret: want not-authorized, got {result}")
    bad.abort()

    comp = Component(domain, s.args.password)
    result = await comp.start(s.args.host, s.args.component_port)
    check(result == "ok", f"component handshake: {result}")
    try:
        a = await s.client(0)
        token = uuid.uuid4().hex[:8]
        a.send_message(mto="bot@" + domain, mbody=f"to the component {token}", mtype="chat")
        m = await comp.messages.expect(is_msg(body=f"to the component {token}"), "the client's message")
        check(str(m["from"]) == a.boundjid.full, f"the component got the message from {m['from']}")
        comp.send_message(mto=a.boundjid.full, mfrom="bot@" + domain, mbody=f"from the component {token}", mtype="chat")
        await a.messages.expect(is_msg(frm="bot@" + domain, body=f"from the component {token}"), "the component's message")

        iq = await a.iq_result(a["xep_0030"].get_info(jid=a.boundjid.bare, timeout=TIMEOUT), "disco#info on the account")
        check(NS_PUSH in iq["disco_info"]["features"], f"{NS_PUSH} not advertised on the account: {iq}")
        enable = a.Iq()
        enable["type"] = "set"
        enable.append(ET.fromstring(f"<enable xmlns='{NS_PUSH}' jid='{domain}' node='node-{token}'/>"))
        await a.iq_result(enable.send(timeout=TIMEOUT), "push enable")
        await a.logout()

        b = await s.client(1)
        b.send_message(mto=s.jid(0), mbody=f"wake up {token}", mtype="chat")
        pub = await comp.publishes.expect(lambda iq: str(iq["from"]) == s.jid(0), "the push notification")
        publish = pub.xml.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}publish")
        check(publish is not None and publish.get("node") == f"node-{token}", f"publish to the wrong node: {pub}")
        fields = {f.get("var"): f.findtext(f"{{{NS_DATA}}}value")
                  for f in pub.xml.iter(f"{{{NS_DATA}}}field")}
        check(fields.get("FORM_TYPE") == "urn:xmpp:push:summary", f"summary form: {fields}")
        check(fields.get("message-count") == "1", f"message-count: {fields}")
        check(fields.get("last-message-sender") == b.boundjid.full, f"last-message-sender: {fields}")
        check("last-message-body" not in fields, f"the body was sent by default: {fields}")
        print(f"push notification: {fields}")
    finally:
        await asyncio.wait_for(comp.disconnect(wait=TIMEOUT / 2), TIMEOUT)


SCENARIOS = {
    "login": (sc_login, 2),
    "channel-binding": (sc_channel_binding, 1),
    "roster": (sc_roster, 2),
    "subscription": (sc_subscription, 2),
    "presence": (sc_presence, 3),
    "chat": (sc_chat, 2),
    "offline": (sc_offline, 2),
    "priority": (sc_priority, 2),
    "vcard": (sc_vcard, 2),
    "blocking": (sc_blocking, 2),
    "disco": (sc_disco, 1),
    "ping": (sc_ping, 2),
    "resume": (sc_resume, 2),
    "component": (sc_component, 2),
}


async def run(args):
    fn, _ = SCENARIOS[args.scenario]
    s = Scenario(args)
    try:
        await asyncio.wait_for(fn(s), SCENARIO_TIMEOUT)
    except asyncio.TimeoutError:
        raise Failure(f"scenario {args.scenario} took longer than {SCENARIO_TIMEOUT}s")
    finally:
        await asyncio.wait_for(s.close(), TIMEOUT)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--tls-port", type=int, help="the direct TLS (XEP-0368) port, for the login scenario")
    p.add_argument("--component-port", type=int, help="the external component (XEP-0114) port, whose component push.<domain> has --password for secret")
    p.add_argument("--domain", default="localhost")
    p.add_argument("--password")
    p.add_argument("--cafile", help="the server's certificate, to verify it; without it, verification is off")
    p.add_argument("--users", type=lambda v: v.split(","), help="account localparts, comma-separated")
    p.add_argument("--trace", action="store_true", help="print the stanza trace even on success")
    p.add_argument("--debug", action="store_true", help="put slixmpp's debug log in the trace")
    p.add_argument("--list", action="store_true", help="print each scenario and the accounts it needs")
    p.add_argument("scenario", nargs="?", choices=sorted(SCENARIOS))
    args = p.parse_args()
    if args.list:
        for name, (_, n) in SCENARIOS.items():
            print(name, n)
        return 0
    if not args.scenario or not args.port or not args.password:
        p.error("want --port, --password and a scenario")
    need = SCENARIOS[args.scenario][1]
    if not args.users or len(args.users) < need:
        p.error(f"scenario {args.scenario} wants {need} accounts in --users")

    # Stanzas go to the trace as each client sees them; slixmpp's own log
    # (SASL and TLS steps included) only from INFO up, unless --debug.
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(message)s", "%H:%M:%S"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG if args.debug else logging.INFO)
    trace.setLevel(logging.DEBUG)
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    try:
        asyncio.run(run(args))
    except Failure as e:
        print(f"FAIL {args.scenario}: {e}")
        print("--- client trace ---")
        print(buf.getvalue())
        return 1
    except KeyboardInterrupt:  # the Go test's deadline
        print(f"FAIL {args.scenario}: interrupted (deadline)")
        print("--- client trace ---")
        print(buf.getvalue())
        return 1
    except Exception as e:  # a crash is a failure too, with the same trace
        import traceback
        traceback.print_exc(file=sys.stdout)
        print(f"FAIL {args.scenario}: {type(e).__name__}: {e}")
        print("--- client trace ---")
        print(buf.getvalue())
        return 1
    if args.trace:
        print("--- client trace ---")
        print(buf.getvalue())
    print(f"PASS {args.scenario}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
