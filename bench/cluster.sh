#!/usr/bin/env bash
# bench/cluster.sh — cross-node messaging beside single-node, on one machine.
#
# Starts a throwaway PostgreSQL and two clustered Parley nodes (embedded
# NATS) on 127.0.0.1, then runs `parley bench` twice with the same load:
#
#   local  senders and their partners all on node 1
#   cross  senders on node 1, partners on node 2 (--recipient-addr)
#
# Server CPU is summed over both nodes' PIDs in both runs (so the local run
# includes node 2's idle CPU). Writes $OUT/table.md (markdown: msgs/s,
# server CPU µs/msg, cross/local ratio, p50/p99 at RATE msg/s, tool CPU,
# the exact commands) and each run's JSON, text and logs.
#
#   USERS=400 SENDERS=100 DURATION=3s bench/cluster.sh   # quick
#   bench/cluster.sh                                      # default load
#
# Options (environment): USERS (2000) SENDERS (200) DURATION (10s) RATE
# (2000) CONCURRENCY (50) MECHANISM (SCRAM-SHA-1) DOMAIN (bench.local)
# PREFIX (bench; the runs use PREFIX-l and PREFIX-x accounts) PASSWORD
# PPROF (set: each node serves Go's profiler, its address logged)
# SETTLE (2s) RUNS ("local cross") QUIET_LOAD (1.0) QUIET_CPU (15)
# QUIET_WAIT (180 s per run) BENCH_TIMEOUT (s per run) PG_BINDIR (newest
# /usr/lib/postgresql/*/bin) PARLEY_BIN (a built parley; default: build
# ./cmd/parley) OUT (default: a new temporary directory, printed).
#
# Loopback only. Stops only the processes it started, by PID. As root,
# PostgreSQL runs as the postgres user.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

OPTION_VARS="USERS SENDERS DURATION RATE CONCURRENCY MECHANISM DOMAIN PREFIX PASSWORD SETTLE RUNS
QUIET_LOAD QUIET_CPU QUIET_WAIT BENCH_TIMEOUT PG_BINDIR PARLEY_BIN OUT PPROF"
cmdline=""
for v in $OPTION_VARS; do
	[ -z "${!v+x}" ] || cmdline+="$v=$(printf '%q' "${!v}") "
done
cmdline+="$(printf '%q ' "$0" "$@")"
cmdline=${cmdline% }

USERS=${USERS:-2000}
SENDERS=${SENDERS:-200}
DURATION=${DURATION:-10s}
RATE=${RATE:-2000}
CONCURRENCY=${CONCURRENCY:-50}
MECHANISM=${MECHANISM:-SCRAM-SHA-1}
ITERATIONS=4096
DOMAIN=${DOMAIN:-bench.local}
PREFIX=${PREFIX:-bench}
PASSWORD=${PASSWORD:-benchpass}
SETTLE=${SETTLE:-2s} # only the RSS baseline before login; no idle phase here
RUNS=${RUNS:-"local cross"}
QUIET_LOAD=${QUIET_LOAD:-1.0}
QUIET_CPU=${QUIET_CPU:-15}
QUIET_WAIT=${QUIET_WAIT:-180}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-$(( 300 + USERS / 20 ))}
PHASES=register,login,throughput,latency

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

for r in $RUNS; do
	case $r in local | cross) ;; *) die "unknown run '$r' in RUNS (want local and/or cross)" ;; esac
done
[ "$SENDERS" -gt 0 ] && [ $(( 2 * SENDERS )) -le "$USERS" ] || die "SENDERS=$SENDERS needs USERS >= $(( 2 * SENDERS )) and > 0"
for c in ss curl jq flock awk; do
	command -v "$c" >/dev/null || die "$c is needed"
done
if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4n | tail -1) || true
fi
[ -x "${PG_BINDIR:-}/initdb" ] && [ -x "$PG_BINDIR/postgres" ] && [ -x "$PG_BINDIR/psql" ] ||
	die "no PostgreSQL binaries (initdb, postgres, psql) in '${PG_BINDIR:-/usr/lib/postgresql/*/bin}': apt-get install postgresql, or set PG_BINDIR"
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || die "running as root and there is no postgres user to run PostgreSQL as"
	command -v setpriv >/dev/null || die "setpriv is needed (util-linux)"
fi

exec 9>/tmp/parley-bench-cluster.lock
flock -n 9 || die "another bench/cluster.sh is running (lock /tmp/parley-bench-cluster.lock)"

ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $(( USERS + 200 )) ]; then
	die "open-file limit $(ulimit -n) is too low for USERS=$USERS"
fi

OUT=${OUT:-$(mktemp -d /tmp/parley-cluster-bench.XXXXXX)}
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
log "results go to $OUT"
tmp=$(mktemp -d /tmp/parley-cluster.XXXXXX)
chmod 755 "$tmp" # the postgres user must reach its directory
cd "$tmp"        # nothing run here may write into the work tree

PG_PID="" N1_PID="" N2_PID="" TOOL_PID=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$TOOL_PID" TERM 10
	stop_pid "$N2_PID" TERM 30
	stop_pid "$N1_PID" TERM 30
	stop_pid "$PG_PID" INT 30 # fast shutdown
	for f in n1/parley.log n1/parley.env n2/parley.log n2/parley.env pg/postgres.log; do
		[ -f "$tmp/$f" ] && cp "$tmp/$f" "$OUT/logs/${f//\//-}"
	done
	rm -rf "$tmp"
	[ $rc -eq 0 ] || log "failed (exit $rc); logs in $OUT/logs"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build -------------------------------------------------------------------
build_parley
help=$("$bin" bench -h 2>&1 || true)
[[ $help == *-recipient-addr* ]] ||
	die "$bin bench has no --recipient-addr: cmd/parley/bench.go must register bench.Config.RecipientAddr and take --server-pid as bench.PIDs"

# ---- PostgreSQL ----------------------------------------------------------------
# As root, PostgreSQL runs as the postgres user (it refuses root); setpriv
# execs, so a background postmaster's $! is its own PID.
AS_PG=()
[ "$(id -u)" -ne 0 ] || AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups)
mkdir -p "$tmp/pg/sock"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$tmp/pg"
log "starting PostgreSQL ($PG_BINDIR)"
"${AS_PG[@]}" "$PG_BINDIR/initdb" -D "$tmp/pg/data" -U postgres -A trust -E UTF8 --no-locale --no-sync --no-instructions \
	>"$OUT/logs/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$OUT/logs/initdb.log")"
psql_pg() { "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
# start_pg: the postmaster on a free port, until it answers; fails if it
# exits (the port was taken after all: the caller tries another).
start_pg() {
	local i
	free_port PG_PORT
	# fsync stays on, as in internal/testpg.
	"${AS_PG[@]}" "$PG_BINDIR/postgres" -D "$tmp/pg/data" -h 127.0.0.1 -p "$PG_PORT" -k "$tmp/pg/sock" \
		-c max_connections=300 -c logging_collector=off >"$tmp/pg/postgres.log" 2>&1 &
	PG_PID=$!
	for ((i = 0; ; i++)); do
		if ! kill -0 "$PG_PID" 2>/dev/null; then
			wait "$PG_PID" 2>/dev/null || true
			PG_PID=""
			return 1
		fi
		# Ours, not another server that happens to answer on the port.
		[ "$(listener_pid "$PG_PORT")" = "$PG_PID" ] && psql_pg -c 'SELECT 1' >/dev/null 2>&1 && return 0
		[ $i -lt 120 ] || die "postgres not ready after 30s: $(tail -5 "$tmp/pg/postgres.log")"
		sleep 0.25
	done
}
for try in 1 2 3; do
	start_pg && break
	[ $try -lt 3 ] || die "postgres exited: $(tail -5 "$tmp/pg/postgres.log")"
	log "postgres could not start on port $PG_PORT: trying another"
done
log "PostgreSQL pid $PG_PID on 127.0.0.1:$PG_PORT"
psql_pg -c 'CREATE DATABASE parley' >/dev/null || die "CREATE DATABASE failed"
DSN="postgres://postgres@127.0.0.1:$PG_PORT/parley?sslmode=disable"
PG_VERSION=$("$PG_BINDIR/postgres" --version)

# ---- two nodes -----------------------------------------------------------------
declare -A C2S HTTP ROUTE TLS PPROF_PORT
for n in n1 n2; do
	free_port p && C2S[$n]=$p
	free_port p && HTTP[$n]=$p
	free_port p && ROUTE[$n]=$p
	free_port p && TLS[$n]=$p
	if [ -n "${PPROF:-}" ]; then free_port p && PPROF_PORT[$n]=$p; fi
done
start_node() { # NAME PEER
	local n=$1 peer=$2 d=$tmp/$1 penv
	mkdir -p "$d/data"
	cat >"$d/parley.env" <<EOF
PARLEY_HOSTS=$DOMAIN
PARLEY_DATA_DIR=$d/data
PARLEY_STORAGE_DRIVER=postgres
PARLEY_STORAGE_POSTGRES_DSN=$DSN
PARLEY_CLUSTER_NODE_NAME=$n
PARLEY_CLUSTER_LISTEN=127.0.0.1:${ROUTE[$n]}
PARLEY_CLUSTER_PEERS=nats://127.0.0.1:${ROUTE[$peer]}
PARLEY_LISTENERS_C2S_ADDRESS=127.0.0.1:${C2S[$n]}
PARLEY_LISTENERS_C2S_STARTTLS_REQUIRED=false
PARLEY_LISTENERS_C2S_TLS_ADDRESS=127.0.0.1:${TLS[$n]}
PARLEY_LISTENERS_HTTP_ADDRESS=127.0.0.1:${HTTP[$n]}
PARLEY_REGISTRATION_ENABLED=true
PARLEY_AUTH_SCRAM_ITERATIONS=$ITERATIONS
PARLEY_LIMITS_MAX_CONNECTIONS=20000
PARLEY_LIMITS_MAX_CONNECTIONS_PER_IP=0
PARLEY_LIMITS_LOGIN_RATE_PER_IP=0
PARLEY_LIMITS_PING_INTERVAL=0
PARLEY_LOG_LEVEL=warn
EOF
	if [ -n "${PPROF:-}" ]; then
		echo "PARLEY_DEBUG_PPROF_ADDRESS=127.0.0.1:${PPROF_PORT[$n]}" >>"$d/parley.env"
		log "$n profiler: http://127.0.0.1:${PPROF_PORT[$n]}/debug/pprof/"
	fi
	mapfile -t penv <"$d/parley.env"
	(cd "$d" && exec env "${penv[@]}" "$bin" serve) >"$d/parley.log" 2>&1 &
	eval "${n^^}_PID=$!"
}
wait_listening() { # NAME PID
	local n=$1 pid=$2 i
	for ((i = 0; ; i++)); do
		kill -0 "$pid" 2>/dev/null || die "$n exited during start-up: $(tail -5 "$tmp/$n/parley.log")"
		[ "$(listener_pid "${C2S[$n]}")" != "$pid" ] || return 0
		[ $i -lt 240 ] || die "$n did not listen on 127.0.0.1:${C2S[$n]} within 60s"
		sleep 0.25
	done
}
live_nodes() { curl -fsS --max-time 5 "http://127.0.0.1:${HTTP[$1]}/cluster" 2>/dev/null | jq -r '.nodes | length' 2>/dev/null || echo 0; }
sessions() { curl -fsS --max-time 5 "http://127.0.0.1:${HTTP[$1]}/healthz" 2>/dev/null | jq -r '.sessions' 2>/dev/null || echo '?'; }

# One after the other, so that the schema is created once.
log "starting node n1 (c2s 127.0.0.1:${C2S[n1]})"
start_node n1 n2
wait_listening n1 "$N1_PID"
log "starting node n2 (c2s 127.0.0.1:${C2S[n2]})"
start_node n2 n1
wait_listening n2 "$N2_PID"
for ((i = 0; ; i++)); do
	[ "$(live_nodes n1)" = 2 ] && [ "$(live_nodes n2)" = 2 ] && break
	[ $i -lt 120 ] || die "the nodes do not see each other after 30s (GET /cluster: n1 $(live_nodes n1), n2 $(live_nodes n2) nodes)"
	sleep 0.25
done
log "cluster up: n1 pid $N1_PID, n2 pid $N2_PID, both list 2 nodes"

# ---- runs ------------------------------------------------------------------------
# run_one local|cross
run_one() {
	local run=$1 recip rc=0 start j tool_j=0 snap0="" snap1="" line
	case $run in
	local) recip=${C2S[n1]} ;;
	cross) recip=${C2S[n2]} ;;
	esac
	wait_quiet
	log "$run: load $LOAD_BEFORE, CPU $BUSY_BEFORE%: running parley bench"
	local -a cmd=("$bin" bench
		--addr "127.0.0.1:${C2S[n1]}" --recipient-addr "127.0.0.1:$recip" --domain "$DOMAIN"
		--server-pid "$N1_PID,$N2_PID"
		--users "$USERS" --user-prefix "$PREFIX-${run:0:1}" --password "$PASSWORD" --mechanism "$MECHANISM"
		--phases "$PHASES" --senders "$SENDERS" --rate "$RATE" --duration "$DURATION"
		--concurrency "$CONCURRENCY" --settle "$SETTLE" --max-time "${BENCH_TIMEOUT}s"
		--json "$OUT/$run.json" --label "$run")
	printf '%q ' "${cmd[@]}" | sed 's/ $//' >"$OUT/$run.cmd"
	start=$(now)
	"${cmd[@]}" >"$OUT/$run.txt" 2>"$OUT/$run.log" &
	TOOL_PID=$!
	# Snapshot the sessions per node and everyone's CPU when the traffic
	# starts and ends (to 0.2 s; at the tool's exit if it ends first), for
	# the noise figure. The tool's CPU is the last seen, once it is gone.
	snap() { echo "$(date +%s.%N) $(busy_jiffies) $(proc_jiffies "$N1_PID") $(proc_jiffies "$N2_PID") $tool_j $(pg_jiffies)"; }
	while :; do
		j=$(proc_jiffies "$TOOL_PID")
		[ "$j" -le "$tool_j" ] || tool_j=$j
		if ! kill -0 "$TOOL_PID" 2>/dev/null; then
			[ -z "$snap0" ] || [ -n "$snap1" ] || snap1=$(snap)
			break
		fi
		if [ -z "$snap0" ] && grep -qs '^throughput: start' "$OUT/$run.log"; then
			snap0=$(snap)
			echo "sessions_n1=$(sessions n1)" >"$OUT/$run.meta"
			echo "sessions_n2=$(sessions n2)" >>"$OUT/$run.meta"
		fi
		if [ -n "$snap0" ] && [ -z "$snap1" ] && grep -qs '^latency: done' "$OUT/$run.log"; then
			snap1=$(snap)
		fi
		if [ $(( $(now) - start )) -ge $(( BENCH_TIMEOUT + 60 )) ]; then
			log "WARNING: parley bench ($run) still running after $(( BENCH_TIMEOUT + 60 ))s: stopping it"
			stop_pid "$TOOL_PID" TERM 30
			break
		fi
		sleep 0.2
	done
	wait "$TOOL_PID" 2>/dev/null || rc=$?
	TOOL_PID=""
	{
		echo "tool_exit=$rc"
		echo "quiet=$QUIET"
		echo "load_before=$LOAD_BEFORE"
		echo "busy_before_pct=$BUSY_BEFORE"
		echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
		if [ -n "$snap0" ] && [ -n "$snap1" ]; then
			# The machine's busy time (irq and softirq included) less that of
			# the nodes, the tool and PostgreSQL during the traffic phases, in
			# % of one core: other work on the machine, about 0 when quiet
			# (±3: 10 ms ticks, 0.2 s polling). And the irq + softirq time.
			echo "traffic_snapshots=$snap0 / $snap1"
			awk -v a="$snap0" -v b="$snap1" 'BEGIN { split(a, x); split(b, y); wall = y[1] - x[1]
				other = (y[2] - x[2]) + (y[3] - x[3]) - (y[4] - x[4]) - (y[5] - x[5]) - (y[6] - x[6]) - (y[7] - x[7])
				printf "traffic_wall_s=%.1f\nother_cpu_pct=%.1f\nirq_cpu_pct=%.1f\npg_cpu_pct=%.1f\n", wall, other / wall, (y[3] - x[3]) / wall, (y[7] - x[7]) / wall }'
		fi
	} >>"$OUT/$run.meta"
	case $rc in
	0) log "$run: done in $(( $(now) - start ))s" ;;
	3) log "WARNING: $run finished but its checks found problems: $(grep PROBLEM "$OUT/$run.txt" | head -3)" ;;
	*) log "WARNING: parley bench ($run) exited $rc: $(tail -3 "$OUT/$run.log")" ;;
	esac
	kill -0 "$N1_PID" 2>/dev/null && kill -0 "$N2_PID" 2>/dev/null || die "a node exited during the $run run (logs in $OUT/logs)"
}

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
for r in $RUNS; do
	run_one "$r"
done

# ---- table -------------------------------------------------------------------------
meta() { [ -f "$OUT/$1.meta" ] && sed -n "s/^$2=//p" "$OUT/$1.meta" | head -1 || true; }
jqr() { jq -r "$2" "$OUT/$1.json" 2>/dev/null || echo '?'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f×", a / b; else printf "–" }'; }
num() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "?" || v == "" || v == "null") print "?"; else printf f, v }'; }
have() { [ -s "$OUT/$1.json" ]; }

row() { # LABEL JQ FORMAT [ratio]
	local label=$1 expr=$2 fmt=$3 want_ratio=${4:-} r v l="" x=""
	local line="| $label |"
	for r in local cross; do
		if have "$r"; then v=$(jqr "$r" "$expr"); else v="?"; fi
		line+=" $(num "$v" "$fmt") |"
		[ $r = local ] && l=$v || x=$v
	done
	[ -n "$want_ratio" ] && line+=" $(ratio "$x" "$l") |" || line+=" |"
	echo "$line"
}
checkrow() { # LABEL PHASE
	local line="| $1 |" r
	for r in local cross; do
		if have "$r"; then
			line+=" $(jqr "$r" ".phases.$2 | \"\(.delivered)/\(.sent)\" + (if (.lost + .duplicates + .misrouted + .unexpected + .error_replies + .send_errors + .streams_ended) == 0 and .sent > 0 then \" ✓\" else \" ✗ (lost \(.lost), dup \(.duplicates), misrouted \(.misrouted), errors \(.error_replies + .send_errors), streams ended \(.streams_ended))\" end)") |"
		else
			line+=" – |"
		fi
	done
	echo "$line |"
}
metarow() { # LABEL KEY
	local line="| $1 |" r
	for r in local cross; do line+=" $(meta "$r" "$2") |"; done
	echo "$line |"
}
pidrow() { # LABEL PHASE: CPU µs/msg of n1 + n2
	local line="| $1 |" r
	for r in local cross; do
		if have "$r"; then
			line+=" $(jqr "$r" "(.phases.$2 | (if .msgs_per_s then .delivered_in_window else .sent end) as \$n | .server_cpu_ms_per_pid // [] | map(. * 1000 / \$n | . * 10 | round / 10 | tostring) | join(\" + \"))") |"
		else
			line+=" – |"
		fi
	done
	echo "$line |"
}

{
	echo "# Cross-node messaging beside single-node"
	echo
	echo "Two Parley nodes clustered over embedded NATS on one machine, one PostgreSQL."
	echo "**local**: senders and partners on node 1. **cross**: senders on node 1, partners on node 2."
	echo "Server CPU is summed over both nodes' PIDs in both runs (local includes node 2's idle CPU)."
	echo
	echo "| metric | local | cross | cross / local |"
	echo "|---|---:|---:|---:|"
	row "**Msgs/s at saturation** ($SENDERS senders, 1 in flight each)" '.phases.throughput.msgs_per_s' '%.0f' r
	row "server CPU µs/msg (saturation), both nodes" '.phases.throughput.server_cpu_us_per_msg' '%.1f' r
	pidrow "… of which node 1 + node 2" throughput
	row "server CPU % of one core (saturation)" '.phases.throughput.server_cpu_pct' '%.0f%%'
	row "**p50 latency ms** at $RATE msg/s" '.phases.latency.latency.p50_ms' '%.2f' r
	row "**p99 latency ms** at $RATE msg/s" '.phases.latency.latency.p99_ms' '%.2f' r
	row "max latency ms at $RATE msg/s" '.phases.latency.latency.max_ms' '%.2f'
	row "achieved rate msg/s (latency phase)" '.phases.latency.achieved_rate' '%.0f'
	row "server CPU µs/msg at $RATE msg/s, both nodes" '.phases.latency.server_cpu_us_per_msg' '%.1f' r
	pidrow "… of which node 1 + node 2" latency
	row "tool CPU µs/msg (saturation)" '.phases.throughput.tool_cpu_us_per_msg' '%.1f'
	row "tool CPU µs/msg at $RATE msg/s" '.phases.latency.tool_cpu_us_per_msg' '%.1f'
	row "tool CPU % of one core (saturation)" '.phases.throughput.tool_cpu_pct' '%.0f%%'
	checkrow "delivered/sent, saturation" throughput
	checkrow "delivered/sent, latency" latency
	metarow "sessions at traffic start: node 1" sessions_n1
	metarow "sessions at traffic start: node 2" sessions_n2
	row "logins/s (SCRAM-SHA-1)" '.phases.login.logins_per_s' '%.0f'
	metarow "load average before run (1/5/15 min)" load_before
	metarow "machine quiet before run" quiet
	metarow "other CPU during traffic (% of one core; ≈ 0 when quiet)" other_cpu_pct
	metarow "irq + softirq during traffic (% of one core; loopback TCP)" irq_cpu_pct
	metarow "PostgreSQL CPU during traffic (% of one core)" pg_cpu_pct
	echo
	echo "Goals (cluster issue): server CPU per cross-node message ≤ 1.5× a local one (summed over both nodes); p99 at 2,000 msg/s ≤ 2 ms."
	echo
	echo "**Run**"
	echo
	echo "- command: \`$cmdline\`"
	echo "- date: $started"
	echo "- load: $USERS users, $SENDERS senders, $DURATION per traffic phase, $RATE msg/s in the latency phase, $CONCURRENCY parallel registrations/logins, $MECHANISM ($ITERATIONS iterations)"
	echo "- machine: $(nproc) × $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
	echo "- Parley: git $PARLEY_REV, $(go version 2>/dev/null | awk '{ print $3 }'); $PG_VERSION"
	echo "- nodes: n1 pid $N1_PID (c2s 127.0.0.1:${C2S[n1]}), n2 pid $N2_PID (c2s 127.0.0.1:${C2S[n2]}); environment in logs/n1-parley.env, logs/n2-parley.env"
	echo
	echo "Commands:"
	echo
	echo '```sh'
	for r in $RUNS; do cat "$OUT/$r.cmd"; echo; done
	echo '```'
	echo
	echo "Raw results: $(for r in $RUNS; do printf '%s.json %s.txt ' "$r" "$r"; done)in $OUT"
} >"$OUT/table.md"
log "wrote $OUT/table.md"
cat "$OUT/table.md"
