#!/usr/bin/env bash
# table.sh OUTDIR: render OUTDIR/table.md's content (to stdout) from what
# run.sh left in OUTDIR: run.meta, NAME.meta and NAME.json per server.
# Can be re-run on an old result directory.
set -euo pipefail
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
exec /usr/bin/python3 - "$1" <<'PY'
import json, os, sys

out = sys.argv[1]
TITLES = {"parley": "Parley", "parley-noarchive": "Parley (archive off)",
          "ejabberd": "ejabberd", "ejabberd-tuned": "ejabberd (tuned)", "ejabberd-mam": "ejabberd (tuned, mod_mam)",
          "prosody": "Prosody (default)", "prosody-tuned": "Prosody (tuned)", "prosody-mam": "Prosody (tuned, mod_mam)"}


def meta(path):
    d = {}
    try:
        with open(path) as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep:
                    d[k] = v
    except OSError:
        pass
    return d


run = meta(os.path.join(out, "run.meta"))
names = run.get("servers", "parley ejabberd prosody prosody-tuned").split()
M = {n: meta(os.path.join(out, n + ".meta")) for n in names}
J = {}
for n in names:
    try:
        with open(os.path.join(out, n + ".json")) as f:
            J[n] = json.load(f)
    except (OSError, ValueError):
        J[n] = None


def get(n, *path):
    v = J.get(n)
    for p in path:
        if not isinstance(v, dict) or p not in v:
            return None
        v = v[p]
    return v


def num(v, fmt):
    return "–" if v is None else fmt.format(v)


def cell(n, fn):
    if J.get(n) is None:
        return "failed" if M[n] else "not run"
    try:
        s = fn(n)
    except (TypeError, KeyError, ZeroDivisionError):
        s = None
    return "–" if s is None else s


users = run.get("users", "?")
senders = run.get("senders", "?")
rate = run.get("rate", "?")
mech = run.get("mechanism", "SCRAM-SHA-1")
iters = run.get("iterations", "4096")


def lat(n, ph):
    d = get(n, "phases", ph, "latency")
    if not d:
        return None
    return "%.2f / %.2f" % (d["p50_ms"], d["p99_ms"])


def delivery(n, ph):
    p = get(n, "phases", ph)
    if not p:
        return None
    s = "%d/%d" % (p["delivered"], p["sent"])
    bad = [(k, p.get(k, 0)) for k in ("lost", "duplicates", "misrouted", "unexpected", "error_replies", "send_errors")]
    bad = ["%d %s" % (v, k.replace("_", " ")) for k, v in bad if v]
    return s + (" (" + ", ".join(bad) + ")" if bad else " ✓")


def sessions(n):
    m = M[n]
    s, a = m.get("sessions_during_idle", ""), m.get("accounts_stored", "")
    li = get(n, "phases", "login", "logged_in")
    r = "%s / %s" % (s or "?", a or "?")
    ok = li is not None and s == str(li) and a and int(a) >= int(users)
    return r + (" ✓" if ok else " ✗")


if run.get("dry") == "1":
    # DRY=1: servers were started, smoke-checked and stopped; no load.
    print("### Server check (DRY=1: no load was run)\n")
    print("| | " + " | ".join(TITLES[n] for n in names) + " |")
    print("|---|" + "---|" * len(names))
    def smoke(n):
        try:
            with open(os.path.join(out, n + ".smoke")) as f:
                return "<br>".join(l.strip() for l in f if l.strip() and not l.startswith("iterations="))
        except OSError:
            return "not run"
    for title, fn in [
        ("version", lambda n: M[n].get("version", "failed" if os.path.exists(os.path.join(out, n + ".smoke")) else "not run")),
        ("listening process (nofile)", lambda n: "%s (%s)" % (M[n].get("server_comm", "?"), M[n].get("server_nofile", "?")) if M[n] else "–"),
        ("smoke check", smoke),
        ("sessions after the check / smoke accounts stored", lambda n: "%s / %s" % (M[n].get("smoke_sessions", "?"), M[n].get("smoke_accounts", "?")) if M[n] else "–"),
    ]:
        print("| %s | %s |" % (title, " | ".join(fn(n) for n in names)))
    print("\n- command: `%s`\n- date: %s" % (run.get("cmdline", "?"), run.get("date", "?")))
    sys.exit(0)

def other_cpu(n):
    v = M[n].get("other_cpu_pct")
    # Everything but the server and the tool; clock-tick rounding can make it
    # slightly negative on a quiet machine.
    s = "?" if not v else "%.1f%%" % max(0.0, float(v))
    return s + ("" if M[n].get("quiet") == "yes" else " (machine not quiet)")


rows = [
    ("**Register** accounts/s (XEP-0077)", lambda n: num(get(n, "phases", "register", "accounts_per_s"), "{:,.0f}")),
    ("server CPU ms/registration", lambda n: num(get(n, "phases", "register", "server_cpu_ms_per_account"), "{:.2f}")),
    ("**Logins/s** (%s, %s iterations)" % (mech, iters), lambda n: num(get(n, "phases", "login", "logins_per_s"), "{:,.0f}")),
    ("server CPU ms/login", lambda n: num(get(n, "phases", "login", "server_cpu_ms_per_login"), "{:.3f}")),
    ("login time p50 / p99 ms", lambda n: "%.1f / %.1f" % (get(n, "phases", "login", "login_time", "p50_ms"), get(n, "phases", "login", "login_time", "p99_ms"))),
    ("**Idle KiB/conn** (%s, server RSS)" % mech, lambda n: num(get(n, "phases", "idle", "server_rss_per_conn_kib"), "{:.1f}")),
    ("server RSS MiB: no conns → %s conns" % users, lambda n: "%.0f → %.0f" % (get(n, "phases", "idle", "server_rss_baseline_kib") / 1024, get(n, "phases", "idle", "server_rss_idle_kib") / 1024)),
    ("**Msgs/s at saturation** (%s senders, 1 in flight each)" % senders, lambda n: num(get(n, "phases", "throughput", "msgs_per_s"), "{:,.0f}")),
    ("server CPU µs/msg (saturation)", lambda n: num(get(n, "phases", "throughput", "server_cpu_us_per_msg"), "{:.1f}")),
    ("server CPU % of one core (saturation)", lambda n: num(get(n, "phases", "throughput", "server_cpu_pct"), "{:.0f}%")),
    ("**p50 / p99 latency ms** at %s msg/s" % rate, lambda n: lat(n, "latency")),
    ("achieved rate msg/s (latency phase)", lambda n: num(get(n, "phases", "latency", "achieved_rate"), "{:,.0f}")),
    ("server CPU µs/msg at %s msg/s" % rate, lambda n: num(get(n, "phases", "latency", "server_cpu_us_per_msg"), "{:.1f}")),
    ("tool CPU ms/login", lambda n: num(get(n, "phases", "login", "tool_cpu_ms_per_login"), "{:.3f}")),
    ("tool CPU µs/msg (saturation)", lambda n: num(get(n, "phases", "throughput", "tool_cpu_us_per_msg"), "{:.1f}")),
    ("tool CPU % of one core (saturation / latency)", lambda n: "%.0f%% / %.0f%%" % (get(n, "phases", "throughput", "tool_cpu_pct"), get(n, "phases", "latency", "tool_cpu_pct"))),
    ("delivered/sent, saturation", lambda n: delivery(n, "throughput")),
    ("delivered/sent, latency", lambda n: delivery(n, "latency")),
    ("check: sessions the server counted while idle / accounts stored", sessions),
    ("check: measured pid owns the listener", lambda n: {True: "yes ✓", False: "NO ✗"}.get(get(n, "server_owns_listener"), "unchecked")),
    ("load average before run (1/5/15 min)", lambda n: M[n].get("load_before", "").replace(" ", " / ") or None),
    ("other CPU during run (% of one core)", other_cpu),
]

print("### Parley vs ejabberd vs Prosody — %s users, same machine, same run\n" % users)
print("| metric | " + " | ".join(TITLES[n] for n in names) + " |")
print("|---|" + "---:|" * len(names))
for title, fn in rows:
    print("| %s | %s |" % (title, " | ".join(cell(n, fn) for n in names)))

print("\nAll servers: plain TCP c2s on 127.0.0.1 (no TLS), SASL %s with %s PBKDF2 iterations stored "
      "(the load tool caches each account's salted password, as clients do), in-band registration open "
      "and unthrottled, no shapers or traffic limits, one server running at a time. Prosody (default) keeps "
      "`blocklist_cache_size` at its default 64; Prosody (tuned) sets it to %s. ejabberd keeps its default "
      "`cache_size` of 1000%s. "
      "Idle memory is the server's RSS growth per held, logged-in connection; it depends on the login "
      "mechanism, so quote it with the mechanism. Latency is from just before the sender's write to the "
      "recipient's read, at a fixed total rate of %s msg/s. Server CPU is read from /proc/PID/stat of the "
      "process that owns the listening socket; Prosody runs on one core, ejabberd and Parley can use both. The load tool runs on the same cores: "
      "where server CPU and tool CPU together approach 100%% × the core count, msgs/s is bounded by the machine, "
      "not by the server.\n"
      % (mech, iters, run.get("tuned_blocklist_cache", "20000"),
         "; ejabberd (tuned) sets it to %s" % run.get("tuned_ejabberd_cache", "20000") if "ejabberd-tuned" in names else "",
         rate))

print("**Run**\n")
print("- command: `%s`" % run.get("cmdline", "?"))
print("- date: %s" % run.get("date", "?"))
print("- load: %s users, %s senders, %s per traffic phase, %s msg/s in the latency phase, %s parallel registrations/logins"
      % (users, senders, run.get("duration", "?"), rate, run.get("concurrency", "?")))
print("- machine: %s × %s, %s RAM, Linux %s, open-file limit %s"
      % (run.get("nproc", "?"), run.get("cpu", "?"), run.get("mem", "?"), run.get("kernel", "?"), run.get("nofile", "?")))
print("- Parley: git %s, %s" % (run.get("parley_rev", "?"), run.get("go", "?")))
for n in names:
    v = M[n].get("version")
    if v and not n.startswith("parley"):
        print("- %s: %s" % (TITLES[n], v))
for n in names:
    w = get(n, "warnings") or []
    if M[n].get("tool_exit", "0") not in ("", "0"):
        w = ["load tool exited %s (see %s.log)" % (M[n]["tool_exit"], n)] + w
    if M[n] and J.get(n) is None:
        w = ["no results (see %s.log and logs/%s/)" % (n, n)] + w
    for s in w:
        print("- warning, %s: %s" % (TITLES[n], s))
print("\nRaw results: `%s`" % " ".join(n + ".json" for n in names if J.get(n) is not None))
PY
