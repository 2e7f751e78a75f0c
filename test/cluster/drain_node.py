#!/usr/bin/python3
"""Two slixmpp clients chatting across a three-node Parley cluster while
their nodes are drained, one with `parley drain` and one with SIGTERM;
driven by drain_test.go.

    /usr/bin/python3 drain_node.py --domain localhost --password secret \
        --users alice,bob --cafile domain.crt \
        --node localhost:5222 --node localhost:5322

alice connects to the first node, bob to the second. The script and the Go
test take turns: the script prints "@ WHAT" when it wants the test to act
and waits for the test's answer on stdin:

    @ drain     -> "drained"   (the first node was drained by parley drain)
    @ sigterm   -> "stopped"   (the second node drained on SIGTERM)

A drained client must be sent elsewhere with see-other-host (RFC 6120
4.9.3.19), which slixmpp follows, and log in there by itself; the chat
both ways goes on throughout, and every message arrives exactly once. It
prints PASS and exits 0 when every check held; otherwise it prints why,
with every client's stanza trace, and exits 1. Every wait is bounded, and
so is the whole run.
"""

import argparse
import asyncio

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from clusterxmpp import TIMEOUT, CHAT_INTERVAL, Client, check, exchange, run, say, summarise

SCENARIO_TIMEOUT = 55.0  # the whole run
MOVE_TIMEOUT = 20.0  # from asking for a drain to the client's new session


class Mover:
    """Follows a client across redirects: counts its sessions, records the
    stream errors it got, and on see-other-host reconnects to the host
    given (RFC 6120 4.9.3.19). slixmpp 1.8.3 means to do this itself, but
    its reconnect() calls connect() without the new address, so it dials
    the JID's domain instead; its handler is replaced here."""

    def __init__(self, c):
        self.c = c
        self.sessions = 0
        self.errors = []
        self._changed = asyncio.Event()
        # Set while the client has a session to send on. A client must not
        # write after it closed its stream (RFC 6120 4.4), so the chat
        # waits while the client moves.
        self.ready = asyncio.Event()
        self.ready.set()
        c.remove_handler("Stream Error")
        c.register_handler(Callback("Stream Error", MatchXPath("{%s}error" % c.stream_ns), self._error))
        c.add_event_handler("session_start", self._started)

    def _started(self, _):
        self.sessions += 1
        self.ready.set()
        if self.sessions > 1:
            # A new session after a redirect: initial presence again, which
            # also hands over what was stored offline meanwhile.
            self.c.send_presence()
            say(f"{self.c.name} logged in again as {self.c.boundjid.full} at {self.c.address[0]}:{self.c.address[1]}")
        self._changed.set()

    def _error(self, e):
        self.ready.clear()
        self.c.event("stream_error", e)
        self.errors.append((e["condition"], e["see_other_host"]))
        other = e["see_other_host"]
        if e["condition"] != "see-other-host" or not other:
            return
        host, port = other.rsplit(":", 1)
        host = host.strip("[]")

        def redial(_):
            self.c.connect(address=(host, int(port)))
        self.c.add_event_handler("disconnected", redial, disposable=True)
        self.c.disconnect(wait=2.0, reason="see-other-host")

    async def moved(self, before, what):
        """Wait for a session after the one counted as before (the session
        count when the move was asked for)."""
        want = before + 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MOVE_TIMEOUT
        while self.sessions < want:
            self._changed.clear()
            left = deadline - loop.time()
            check(left > 0, f"{self.c.name} did not log in again within {MOVE_TIMEOUT}s after {what}; stream errors: {self.errors}")
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass
        check(self.errors and self.errors[-1][0] == "see-other-host",
              f"{self.c.name} was moved without see-other-host: stream errors {self.errors}")
        return self.errors[-1][1]


class Chat:
    """x sends y a numbered message every CHAT_INTERVAL until stopped."""

    def __init__(self, x, y, mover):
        self.x, self.y, self.mover = x, y, mover
        self.prefix = f"chat {x.name}->{y.name} "
        self.sent = 0
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        while True:
            await self.mover.ready.wait()
            self.x.send_message(mto=self.y.boundjid.bare, mbody=f"{self.prefix}{self.sent}", mtype="chat")
            self.sent += 1
            await asyncio.sleep(CHAT_INTERVAL)

    async def stop_and_check(self):
        """Every message arrives exactly once. (Order is not checked: a
        message stored offline while the recipient moved arrives at its
        initial presence, possibly after newer live ones.)"""
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        await self.x.barrier()
        prefix = self.prefix
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            got = [int(m["body"][len(prefix):]) for m in self.y.messages.seen
                   if m["body"].startswith(prefix)]
            if sorted(set(got)) == list(range(self.sent)) or loop.time() > deadline:
                break
            await asyncio.sleep(0.1)
        check(sorted(got) == list(range(self.sent)),
              f"{self.y.name} got {self.x.name}'s {self.sent} numbered messages as {summarise(got, self.sent)}")
        say(f"{self.x.name} -> {self.y.name}: {self.sent} messages, each received once "
            f"({'in order' if got == sorted(got) else 'not all in order'})")


async def scenario(args, test, clients):
    users = args.users.split(",")
    alice = Client(users[0], f"{users[0]}@{args.domain}/a", args.password, args.cafile)
    bob = Client(users[1], f"{users[1]}@{args.domain}/b", args.password, args.cafile)
    clients += [alice, bob]
    am, bm = Mover(alice), Mover(bob)
    await alice.login(args.node[0])
    await bob.login(args.node[1])
    for x, y in ((alice, bob), (bob, alice)):
        await x.sees(y)
        await exchange(x, y)

    chats = [Chat(alice, bob, am), Chat(bob, alice, bm)]
    await asyncio.sleep(1.0)
    before = am.sessions
    await test.ask("drain", "drained")
    target = await am.moved(before, "the first node was drained")
    say(f"alice was sent to {target} and is back")
    check(target not in (args.node[0],), f"alice was sent back to the drained node {target}")
    check(target != args.node[1], f"alice was sent to bob's node {target}, not the least loaded one")
    await asyncio.sleep(1.0)

    before = bm.sessions
    await test.ask("sigterm", "stopped")
    target = await bm.moved(before, "the second node got SIGTERM")
    say(f"bob was sent to {target} and is back")
    await asyncio.sleep(1.0)
    for c in chats:
        await c.stop_and_check()
    for x, y in ((alice, bob), (bob, alice)):
        await x.sees(y)
        await exchange(x, y, what="after both moves")
    for c in (alice, bob):
        errors = [m for m in c.messages.seen if m["type"] == "error"]
        check(not errors, f"{c.name} got message errors: {errors}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", default="localhost")
    p.add_argument("--password", required=True)
    p.add_argument("--users", required=True, help="two localparts: on the first and second node")
    p.add_argument("--cafile", required=True, help="the certificate every node presents")
    p.add_argument("--node", action="append", required=True, help="HOST:PORT of a node's c2s listener, twice")
    args = p.parse_args()
    if len(args.node) != 2 or len(args.users.split(",")) != 2:
        p.error("want two --node and two --users")
    run(args, scenario, SCENARIO_TIMEOUT)
