"""What the cluster tests' slixmpp scripts share: a recording client,
waits bounded by TIMEOUT, the turn-taking with the Go test, and the run
loop with its stanza trace. The scenarios are in kill_node.py and
drain_node.py."""

import asyncio
import io
import logging
import pathlib
import sys
import time

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

TIMEOUT = 10.0  # one wait: a reply, a pushed stanza, a login
TEST_TIMEOUT = 30.0  # for the Go test to act on a request
CHAT_INTERVAL = 0.1  # between two messages of a background chat

trace = logging.getLogger("cluster.trace")  # every stanza, per client


class Failure(Exception):
    """An assertion failed."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def say(msg):
    print(f"[{time.monotonic() - START:6.2f}s] {msg}", flush=True)


START = time.monotonic()


class Inbox:
    """Stanzas a client received, waited on by predicate. `seen` keeps
    every one ever received, for the exactly-once checks."""

    def __init__(self, name):
        self.name = name
        self.items = []
        self.seen = []
        self._changed = asyncio.Event()

    def put(self, item):
        self.items.append(item)
        self.seen.append(item)
        self._changed.set()

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

    def count(self, pred, since=0):
        """How many stanzas matching pred arrived, from seen[since] on."""
        return sum(1 for item in self.seen[since:] if pred(item))


class Client(slixmpp.ClientXMPP):
    """A slixmpp client that records what it receives and decides nothing
    on its own: subscription requests wait for the scenario."""

    def __init__(self, name, jid, password, cafile):
        super().__init__(jid, password)
        self.name = name
        # Trust this node's self-signed certificate and check it for real.
        self.ca_certs = pathlib.Path(cafile)
        self.auto_authorize = None
        self.auto_subscribe = False
        self.register_plugin("xep_0203")
        self.messages = Inbox(f"{name} messages")
        self.presences = Inbox(f"{name} presences")
        self.pushes = Inbox(f"{name} roster pushes")
        self.add_event_handler("message", self.messages.put)
        self.add_event_handler("presence", self.presences.put)
        self.add_event_handler("roster_update", self._roster_update)
        self.add_filter("in", self._trace("<-"))
        self.add_filter("out", self._trace("->"))

    def _trace(self, arrow):
        def f(stanza):
            trace.debug("%s %s %s", self.name, arrow, stanza)
            return stanza
        return f

    def _roster_update(self, iq):
        if iq["type"] == "set":
            self.pushes.put(iq)

    def abort(self):
        if self.transport:
            try:
                super().abort()
            except AttributeError:
                pass  # asyncio's SSL transport was already torn down

    async def login(self, addr):
        """STARTTLS, SCRAM, bind, the roster (which makes the session an
        interested resource, RFC 6121 §2.1.6), then initial presence."""
        host, port = addr.rsplit(":", 1)
        done = asyncio.get_running_loop().create_future()

        def settle(result):
            if not done.done():
                done.set_result(result)

        self.add_event_handler("session_start", lambda _: settle("ok"))
        self.add_event_handler("failed_all_auth", lambda _: settle("auth failed"))
        self.add_event_handler("stream_error", lambda e: settle(f"stream error {e}"))
        self.add_event_handler("disconnected", lambda r: settle(f"disconnected before the session started: {r}"))
        self.add_event_handler("connection_failed", lambda e: settle(f"connection failed: {e}"))
        self.connect(address=(host, int(port)))
        try:
            result = await asyncio.wait_for(done, TIMEOUT)
        except asyncio.TimeoutError:
            result = f"no session after {TIMEOUT}s"
        if result != "ok":
            self.abort()
            raise Failure(f"{self.name}: login at {addr}: {result}")
        await self.iq_result(self.get_roster(timeout=TIMEOUT), "roster get")
        self.send_presence()
        say(f"{self.name} logged in as {self.boundjid.full} at {addr}")

    async def iq_result(self, fut, what):
        try:
            return await asyncio.wait_for(fut, TIMEOUT + 1)
        except IqError as e:
            raise Failure(f"{self.name}: {what}: server answered error "
                          f"{e.iq['error']['type']}/{e.iq['error']['condition']}: {e.iq}")
        except (IqTimeout, asyncio.TimeoutError):
            raise Failure(f"{self.name}: {what}: no answer in {TIMEOUT}s")

    async def barrier(self):
        """A roster round trip: the client's node has handled whatever the
        client sent before."""
        await self.iq_result(self.get_roster(timeout=TIMEOUT), "barrier roster get")

    async def sees(self, other):
        """Wait until this client's node routes to other's full JID: an iq
        that the other client itself answers (with anything but the
        server's service-unavailable). A session bound on one node reaches
        the others' directories a moment later."""
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while True:
            iq = self.make_iq_get(queryxmlns="urn:xmpp:ping", ito=other.boundjid.full)
            try:
                await iq.send(timeout=2)
                return
            except IqError as e:
                if e.iq["error"]["condition"] != "service-unavailable":
                    return  # the other client answered: routed
                if asyncio.get_running_loop().time() > deadline:
                    raise Failure(f"{self.name}: {other.boundjid.full} still unreachable after {TIMEOUT}s")
                await asyncio.sleep(0.1)
            except IqTimeout:
                if asyncio.get_running_loop().time() > deadline:
                    raise Failure(f"{self.name}: {other.boundjid.full} still unreachable after {TIMEOUT}s")
                await asyncio.sleep(0.1)

    async def logout(self):
        await asyncio.wait_for(self.disconnect(wait=TIMEOUT / 2), TIMEOUT)


def is_msg(frm=None, body=None, mtype=None):
    def pred(m):
        return ((frm is None or str(m["from"]) == str(frm))
                and (body is None or m["body"] == body)
                and (mtype is None or m["type"] == mtype))
    return pred


def is_pres(frm, ptype=None, bare=False):
    def pred(p):
        f = p["from"].bare if bare else str(p["from"])
        return f == str(frm) and (ptype is None or p["type"] == ptype)
    return pred


SEQ = 0


async def exchange(x, y, to=None, what=""):
    """x sends y a chat message (to y's full JID unless told otherwise)
    and y receives it from x's full JID."""
    global SEQ
    SEQ += 1
    body = f"{x.name}->{y.name} #{SEQ} {what}".strip()
    x.send_message(mto=to or y.boundjid.full, mbody=body, mtype="chat")
    await y.messages.expect(is_msg(frm=x.boundjid.full, body=body), f"message {body!r} from {x.boundjid.full}")


def summarise(got, n):
    missing = sorted(set(range(n)) - set(got))
    dups = sorted({i for i in got if got.count(i) > 1})
    return f"{got} (missing {missing}, duplicated {dups}, in order {got == sorted(got)})"


class Test:
    """The Go test on the other end of stdin and stdout."""

    def __init__(self, reader):
        self.reader = reader

    async def ask(self, what, answer):
        print(f"@ {what}", flush=True)
        try:
            line = await asyncio.wait_for(self.reader.readline(), TEST_TIMEOUT)
        except asyncio.TimeoutError:
            raise Failure(f"no {answer!r} from the Go test {TEST_TIMEOUT}s after '@ {what}'")
        words = line.decode().split()
        check(words[:1] == [answer], f"after '@ {what}' the Go test said {line!r}, want {answer!r}")
        return words[1:]


async def main(args, scenario, scenario_timeout):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    clients = []
    try:
        await asyncio.wait_for(scenario(args, Test(reader), clients), scenario_timeout)
        ok = True
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        ok = False
    except asyncio.TimeoutError:
        print(f"FAIL: the scenario took longer than {scenario_timeout}s", flush=True)
        ok = False
    for c in clients:
        if c.transport:
            try:
                await c.logout()
            except Exception:  # cleanup only; the verdict is in
                c.abort()
    return ok



def run(args, scenario, scenario_timeout):
    """Runs scenario(args, test, clients) and exits 0 (PASS) or 1 (FAIL,
    with every client's stanza trace)."""
    traces = io.StringIO()
    handler = logging.StreamHandler(traces)
    handler.setFormatter(logging.Formatter("%(relativeCreated)8.0fms %(message)s"))
    trace.addHandler(handler)
    trace.setLevel(logging.DEBUG)
    logging.basicConfig(level=logging.ERROR)  # slixmpp's own complaints
    try:
        ok = asyncio.run(main(args, scenario, scenario_timeout))
    except KeyboardInterrupt:  # the Go test's deadline
        print("FAIL: interrupted (deadline)", flush=True)
        ok = False
    if not ok:
        print("stanza trace:\n" + traces.getvalue(), flush=True)
        sys.exit(1)
    print("PASS", flush=True)
