#!/usr/bin/env bash
# smoke.sh HOST PORT DOMAIN USER PASSWORD [register]
#
# Pre-flight check used by run.sh before each measured run, independent of the
# load tool: over plain TCP (no TLS), optionally registers USER@DOMAIN with
# XEP-0077 in-band registration, then logs in with SASL SCRAM-SHA-1, binds a
# resource, sends a message to itself and waits for it to come back. Prints one
# line per step and exits non-zero on the first failure. Needs only
# /usr/bin/python3's standard library.
set -euo pipefail
if [ $# -lt 5 ]; then
	echo "usage: $0 HOST PORT DOMAIN USER PASSWORD [register]" >&2
	exit 2
fi
exec /usr/bin/python3 - "$@" <<'PY'
import base64, hashlib, hmac, os, re, socket, sys, time

host, port, domain, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
register = len(sys.argv) > 6 and sys.argv[6] == "register"
DEADLINE = time.time() + 20


class Conn:
    def __init__(self):
        self.s = socket.create_connection((host, port), timeout=10)
        self.buf = ""

    def send(self, data):
        self.s.sendall(data.encode())

    def until(self, pattern):
        """Read until regex pattern matches the buffer; return the match, consume through it."""
        rx = re.compile(pattern, re.S)
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if time.time() > DEADLINE:
                raise SystemExit("timeout waiting for %r; have %r" % (pattern, self.buf[-500:]))
            chunk = self.s.recv(65536)
            if not chunk:
                raise SystemExit("connection closed waiting for %r; have %r" % (pattern, self.buf[-500:]))
            self.buf += chunk.decode("utf-8", "replace")

    def open_stream(self):
        self.send("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" % domain)
        return self.until(r"<(?:stream:)?features[^>]*>(.*?)</(?:stream:)?features>").group(1)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")


if register:
    c = Conn()
    feats = c.open_stream()
    c.send("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>%s</username>"
           "<password>%s</password></query></iq>" % (esc(user), esc(password)))
    m = c.until(r"<iq[^>]*id=['\"]reg1['\"][^>]*?(?:/>|>.*?</iq>)")
    stanza = m.group(0)
    if "type=\"result\"" in stanza or "type='result'" in stanza:
        print("register: ok")
    elif "conflict" in stanza:
        print("register: already registered (conflict), continuing")
    else:
        raise SystemExit("register: FAILED: %s" % stanza)
    c.send("</stream:stream>")
    c.s.close()

# SCRAM-SHA-1 login (RFC 5802), no channel binding.
c = Conn()
feats = c.open_stream()
if "SCRAM-SHA-1" not in feats:
    raise SystemExit("login: server does not offer SCRAM-SHA-1: %s" % feats)
if "starttls" in feats and "<required" in feats.split("starttls", 1)[1][:200]:
    raise SystemExit("login: server requires STARTTLS: %s" % feats)
cnonce = base64.b64encode(os.urandom(18)).decode()
bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), cnonce)
c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>%s</auth>"
       % base64.b64encode(("n,," + bare).encode()).decode())
m = c.until(r"<(challenge|failure)[^>]*>(.*?)</\1>|<failure[^>]*/>")
if m.group(1) != "challenge":
    raise SystemExit("login: SASL failure: %s" % m.group(0))
first = base64.b64decode(m.group(2)).decode()
attrs = dict(kv.split("=", 1) for kv in first.split(","))
salt, iters, nonce = base64.b64decode(attrs["s"]), int(attrs["i"]), attrs["r"]
salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iters)
ckey = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
skey = hmac.new(salted, b"Server Key", hashlib.sha1).digest()
final_wo = "c=biws,r=%s" % nonce
authmsg = ",".join([bare, first, final_wo]).encode()
sig = hmac.new(hashlib.sha1(ckey).digest(), authmsg, hashlib.sha1).digest()
proof = bytes(a ^ b for a, b in zip(ckey, sig))
c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>"
       % base64.b64encode((final_wo + ",p=" + base64.b64encode(proof).decode()).encode()).decode())
m = c.until(r"<(success|failure)[^>]*?(?:/>|>(.*?)</\1>)")
if m.group(1) != "success":
    raise SystemExit("login: SASL failure: %s" % m.group(0))
v = base64.b64decode(m.group(2) or "").decode()
want = "v=" + base64.b64encode(hmac.new(skey, authmsg, hashlib.sha1).digest()).decode()
if v and v != want:
    raise SystemExit("login: bad server signature")
print("login: ok (SCRAM-SHA-1, %d iterations)" % iters)
feats = c.open_stream()
c.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>smoke</resource></bind></iq>")
m = c.until(r"<jid>([^<]+)</jid>")
full = m.group(1)
print("bind: ok (%s)" % full)
if "urn:ietf:params:xml:ns:xmpp-session" in feats and "<optional" not in feats:
    c.send("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
    c.until(r"<iq[^>]*id=['\"]sess1['\"]")
c.send("<message to='%s' type='chat' id='m1'><body>smoke</body></message>" % esc(full))
c.until(r"<message[^>]*>.*?<body>smoke</body>")
print("message to self: ok")
print("iterations=%d" % iters)
c.send("</stream:stream>")
c.s.close()
PY
