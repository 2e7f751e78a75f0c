#!/usr/bin/env bash
# The whole test suite: installs what it needs (idempotently), then vet,
# staticcheck, the Go tests (unit, in-process server, PostgreSQL, interop with
# real clients, the web chat in chromium) and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# --- system packages: PostgreSQL (storage tests), slixmpp (interop), node,
# chromium (browser tests)
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
/usr/bin/python3 -c 'import slixmpp' >/dev/null 2>&1 || need+=(python3-slixmpp)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
[ -x /usr/bin/chromium ] || need+=(chromium)   # the web chat's browser test
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  # The Debian package starts a cluster on 5432; tests start their own.
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do
      $SUDO pg_ctlcluster ${c%/*} ${c#*/} stop 2>/dev/null || true
    done
  fi
fi

# --- npm packages for the xmpp.js interop client
if [ -f test/interop/package-lock.json ]; then
  log "npm ci (test/interop)"
  (cd test/interop && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- npm packages of web/: the web chat (Converse.js) the server serves at
# /, and playwright-core for the browser test (test/browser)
log "npm ci (web)"
(cd web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)

log "gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change: $bad"; exit 1; fi

log "go vet"
go vet ./...

log "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

log "go test"
go test -race -count=1 -timeout 20m ./...

log "fuzz (short)"
# A count of executions, not a duration: a time limit can end a run with
# "context deadline exceeded" on a loaded machine (a Go fuzzing quirk).
fuzztime=${FUZZTIME:-100000x}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | awk '{print $2}'); do
    echo "fuzz $pkg $f ($fuzztime)"
    go test -run '^$' -fuzz "^${f}\$" -fuzztime "$fuzztime" -fuzzminimizetime 100x "$pkg" >/tmp/parley-fuzz.log 2>&1 || { cat /tmp/parley-fuzz.log; exit 1; }
  done
done

log "all tests passed"
