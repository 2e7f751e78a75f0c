#!/usr/bin/python3
"""Three slixmpp clients on three Parley nodes, one of which is killed
mid-conversation and restarted; driven by cluster_test.go.

    /usr/bin/python3 kill_node.py --domain localhost --password secret \
        --users alice,bob,carol \
        --node 127.0.0.1:5222,n1/tls/selfsigned.crt \
        --node 127.0.0.1:5322,n2/tls/selfsigned.crt \
        --node 127.0.0.1:5422,n3/tls/selfsigned.crt

alice connects to the first node, bob to the second, carol to the third.
The script and the Go test take turns: the script prints a line "@ WHAT"
when it wants the test to act, and waits for the test's answer on stdin:

    @ kill      -> "killed"                 (the third node got SIGKILL)
    @ restart   -> "restarted HOST:PORT CA" (the third node runs again)

It also prints "@ unavailable SECONDS" when alice has heard that carol is
gone. It prints PASS and exits 0 when every check held; otherwise it
prints why, with every client's stanza trace, and exits 1. Every wait is
bounded, and so is the whole run.
"""

import argparse
import asyncio
import time

from clusterxmpp import (TIMEOUT, CHAT_INTERVAL, Client, Failure, check, exchange, is_msg, is_pres,
                         run, say, summarise)

DEATH_TIMEOUT = 10.0  # from the kill to alice hearing carol is gone
SCENARIO_TIMEOUT = 55.0  # the whole run


def is_push(jid, subscription=None):
    def pred(iq):
        items = iq["roster"]["items"]
        return jid in items and (subscription is None or items[jid]["subscription"] == subscription)
    return pred


async def subscribe_both(a, b):
    """The RFC 6121 §3 handshake both ways, each step checked: a subscribes
    to b, b approves, b subscribes to a, a approves."""
    for x, y in ((a, b), (b, a)):
        xb, yb = x.boundjid.bare, y.boundjid.bare
        x.send_presence_subscription(yb, ptype="subscribe")
        push = await x.pushes.expect(is_push(yb), f"push for {yb} after subscribe")
        check(push["roster"]["items"][yb]["ask"] == "subscribe", f"push after subscribe lacks ask='subscribe': {push}")
        req = await y.presences.expect(is_pres(xb, "subscribe", bare=True), f"subscribe from {xb}")
        check(str(req["from"]) == xb, f"§3.1.3: subscribe must come from the bare JID, got {req['from']}")
        y.send_presence_subscription(xb, ptype="subscribed")
        want_y = "from" if x is a else "both"
        want_x = "to" if x is a else "both"
        await y.pushes.expect(is_push(xb, want_y), f"push {xb} subscription={want_y} for the approver")
        await x.presences.expect(is_pres(yb, "subscribed", bare=True), f"subscribed from {yb}")
        await x.pushes.expect(is_push(yb, want_x), f"push {yb} subscription={want_x} for the subscriber")
        # §3.1.5/§4.3: the subscriber gets the contact's current presence.
        await x.presences.expect(is_pres(y.boundjid.full, "available"),
                                 f"presence of {y.boundjid.full} after approval")
    say(f"{a.name} and {b.name} are subscribed both ways")


class Chat:
    """x sends y a numbered message every CHAT_INTERVAL until stopped: the
    conversation that goes on while a node dies."""

    def __init__(self, x, y):
        self.x, self.y = x, y
        self.prefix = f"chat {x.name}->{y.name} "
        self.sent = 0
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        while True:
            self.x.send_message(mto=self.y.boundjid.full, mbody=f"{self.prefix}{self.sent}", mtype="chat")
            self.sent += 1
            await asyncio.sleep(CHAT_INTERVAL)

    async def stop_and_check(self):
        """Every message arrives, once, in order (RFC 6120 §10.1)."""
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        last = f"{self.prefix}{self.sent - 1}"
        await self.y.messages.expect(is_msg(frm=self.x.boundjid.full, body=last), f"the last chat message {last!r}")
        got = [int(m["body"][len(self.prefix):]) for m in self.y.messages.seen
               if str(m["from"]) == self.x.boundjid.full and m["body"].startswith(self.prefix)]
        check(got == list(range(self.sent)),
              f"{self.y.name} got {self.x.name}'s {self.sent} numbered messages as {summarise(got, self.sent)}")
        self.y.messages.items = [m for m in self.y.messages.items if not m["body"].startswith(self.prefix)]
        say(f"{self.x.name} -> {self.y.name}: {self.sent} messages, each received once and in order")


async def scenario(args, test, clients):
    users = args.users.split(",")
    nodes = [n.split(",", 1) for n in args.node]

    def client(i, resource, node):
        addr, cafile = node
        c = Client(users[i], f"{users[i]}@{args.domain}/{resource}", args.password, cafile)
        clients.append(c)
        return c

    alice, bob, carol = client(0, "a", nodes[0]), client(1, "b", nodes[1]), client(2, "c", nodes[2])
    for c, node in ((alice, nodes[0]), (bob, nodes[1]), (carol, nodes[2])):
        await c.login(node[0])

    # Presence subscriptions across nodes: n1<->n2 and n1<->n3.
    await subscribe_both(alice, bob)
    await subscribe_both(alice, carol)

    # Every ordered pair of nodes carries a message to a full JID; bare JIDs
    # reach the one available resource (RFC 6121 §8.5.2.1.1).
    for x, y in ((alice, bob), (bob, alice), (alice, carol), (carol, alice), (bob, carol), (carol, bob)):
        await exchange(x, y)
    await exchange(alice, bob, to=bob.boundjid.bare, what="to the bare JID")
    await exchange(alice, carol, to=carol.boundjid.bare, what="to the bare JID")
    say("messages cross every pair of nodes")

    # Mid-conversation: alice and bob chat on, carol has just replied.
    chats = [Chat(alice, bob), Chat(bob, alice)]
    await exchange(alice, carol, what="just before the kill")
    await exchange(carol, alice, what="just before the kill")
    await test.ask("kill", "killed")
    killed = time.monotonic()
    say("the Go test killed carol's node")

    # alice's node notices the death and tells her, once.
    gone = is_pres(carol.boundjid.full, "unavailable")
    await alice.presences.expect(gone, f"unavailable presence from {carol.boundjid.full} after her node died",
                                 timeout=DEATH_TIMEOUT)
    took = time.monotonic() - killed
    print(f"@ unavailable {took:.2f}", flush=True)
    say(f"alice got carol's unavailable presence {took:.2f}s after the kill")
    carol.abort()

    # Messages for carol now go to offline storage: her full JID is gone
    # with her session, so a chat to it is treated as to the bare JID
    # (RFC 6121 §8.5.3.2.1), and nobody gets an error.
    alice.send_message(mto=carol.boundjid.bare, mbody="while away, to the bare JID", mtype="chat")
    alice.send_message(mto=carol.boundjid.full, mbody="while away, to the old full JID", mtype="chat")
    await alice.barrier()

    # The chat went on through the death; let it run a little past it.
    await asyncio.sleep(1.0)
    for c in chats:
        await c.stop_and_check()
    check(alice.presences.count(gone) == 1,
          f"alice got {alice.presences.count(gone)} unavailable presences from {carol.boundjid.full}, want 1")
    for c in (alice, bob):
        errors = [m for m in c.messages.seen if m["type"] == "error"]
        check(not errors, f"{c.name} got message errors: {errors}")
    check(bob.presences.count(is_pres(carol.boundjid.full)) == 0,
          f"bob, who has no subscription with carol, got her presence: {bob.presences.seen}")
    check(alice.presences.count(is_pres(bob.boundjid.full, "unavailable")) == 0,
          "alice got unavailable presence from bob, whose node is alive")

    # carol's node comes back, with the same name and data directory.
    addr, cafile = await test.ask("restart", "restarted")
    restarted = len(alice.presences.seen)
    carol2 = client(2, "c", (addr, cafile))
    await carol2.login(addr)
    back = is_pres(carol2.boundjid.full, "available")
    await alice.presences.expect(back, f"available presence from {carol2.boundjid.full} after she logged in again")
    # §4.3: her node probes alice's, across the cluster.
    await carol2.presences.expect(is_pres(alice.boundjid.full, "available"),
                                  f"alice's presence ({alice.boundjid.full}) after carol logged in again")
    for body in ("while away, to the bare JID", "while away, to the old full JID"):
        m = await carol2.messages.expect(is_msg(frm=alice.boundjid.full, body=body), f"offline message {body!r}")
        check(m.xml.find("{urn:xmpp:delay}delay") is not None, f"offline message without <delay/> (XEP-0203): {m}")
    say("carol is back: presence both ways, offline messages delivered")

    # bob's node learns of carol's new session a moment after alice's did.
    for x, y in ((alice, carol2), (bob, carol2), (carol2, alice), (carol2, bob)):
        await x.sees(y)
    for x, y in ((alice, carol2), (carol2, alice), (bob, carol2), (carol2, bob), (alice, bob), (bob, alice)):
        await exchange(x, y, what="after the restart")
    await exchange(alice, carol2, to=carol2.boundjid.bare, what="to the bare JID after the restart")

    # Exactly once: no client got any message twice.
    for c in (alice, bob, carol, carol2):
        bodies = [m["body"] for m in c.messages.seen]
        dups = sorted({b for b in bodies if bodies.count(b) > 1})
        check(not dups, f"{c.name} ({c.boundjid.full}) got these messages more than once: {dups}")
    check(alice.presences.count(back, restarted) == 1,
          f"alice got {alice.presences.count(back, restarted)} available presences from {carol2.boundjid.full} after the restart, want 1")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", default="localhost")
    p.add_argument("--password", required=True)
    p.add_argument("--users", required=True, help="three localparts: on the first, second and third node")
    p.add_argument("--node", action="append", required=True, help="HOST:PORT,CAFILE of a node's c2s listener, three times")
    args = p.parse_args()
    if len(args.node) != 3 or len(args.users.split(",")) != 3:
        p.error("want three --node and three --users")
    run(args, scenario, SCENARIO_TIMEOUT)
