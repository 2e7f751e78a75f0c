#!/usr/bin/env bash
# bench/archive.sh — the message archive's cost, end to end, on one machine.
#
# Runs `parley bench` (register, login, throughput, latency) against one
# `parley serve` on 127.0.0.1, once per run in RUNS, each with fresh data:
#
#   sqlite    archive on (archive.enabled: true, the default), SQLite
#   postgres  archive on, a throwaway PostgreSQL started here
#   off       archive off (PARLEY_ARCHIVE_ENABLED=false), SQLite
#
# Every message the tool sends is a chat message between two local users,
# so with the archive on each is archived twice (a row for the sender, one
# for the recipient) before it is delivered. The script reads the archive
# writer's metrics (GET /metrics: parley_archive_commits_total,
# parley_archive_messages_total, parley_archive_max_batch) when each
# traffic phase starts and ends, for archived rows/s and messages per
# commit, and counts the archive table's rows at the end (sqlite3, psql)
# against the messages sent. PostgreSQL's CPU (postmaster and children) is
# measured beside the server's. Writes $OUT/table.md and each run's JSON,
# text and logs.
#
#   USERS=400 SENDERS=100 DURATION=3s bench/archive.sh   # quick
#   bench/archive.sh                                      # default load
#
# Options (environment): USERS (2000) SENDERS (200) DURATION (10s) RATE
# (2000) CONCURRENCY (50) MECHANISM (SCRAM-SHA-1) DOMAIN (bench.local)
# PREFIX (bench) PASSWORD SETTLE (2s) RUNS ("sqlite postgres off")
# PG_SYNC (PostgreSQL synchronous_commit: on) QUIET_LOAD (0.6) QUIET_CPU
# (15) QUIET_WAIT (180 s per run) BENCH_TIMEOUT (s per run) PG_BINDIR
# (newest /usr/lib/postgresql/*/bin) PARLEY_BIN (a built parley; default:
# build ./cmd/parley) OUT (default: a new temporary directory, printed).
#
# Loopback only. Stops only the processes it started, by PID. As root,
# PostgreSQL runs as the postgres user.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

OPTION_VARS="USERS SENDERS DURATION RATE CONCURRENCY MECHANISM DOMAIN PREFIX PASSWORD SETTLE RUNS PG_SYNC
QUIET_LOAD QUIET_CPU QUIET_WAIT BENCH_TIMEOUT PG_BINDIR PARLEY_BIN OUT"
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
SETTLE=${SETTLE:-2s}
RUNS=${RUNS:-"sqlite postgres off"}
PG_SYNC=${PG_SYNC:-on}
QUIET_LOAD=${QUIET_LOAD:-0.6}
QUIET_CPU=${QUIET_CPU:-15}
QUIET_WAIT=${QUIET_WAIT:-180}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-$(( 300 + USERS / 20 ))}
PHASES=register,login,throughput,latency

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

want_pg=""
for r in $RUNS; do
	case $r in sqlite | off) ;; postgres) want_pg=yes ;; *) die "unknown run '$r' in RUNS (want sqlite, postgres and/or off)" ;; esac
done
[ "$SENDERS" -gt 0 ] && [ $(( 2 * SENDERS )) -le "$USERS" ] || die "SENDERS=$SENDERS needs USERS >= $(( 2 * SENDERS )) and > 0"
for c in ss curl jq flock awk sqlite3; do
	command -v "$c" >/dev/null || die "$c is needed"
done
if [ -n "$want_pg" ]; then
	if [ -z "${PG_BINDIR:-}" ]; then
		PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4n | tail -1) || true
	fi
	[ -x "${PG_BINDIR:-}/initdb" ] && [ -x "$PG_BINDIR/postgres" ] && [ -x "$PG_BINDIR/psql" ] ||
		die "no PostgreSQL binaries (initdb, postgres, psql) in '${PG_BINDIR:-/usr/lib/postgresql/*/bin}': apt-get install postgresql, or set PG_BINDIR"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root and there is no postgres user to run PostgreSQL as"
		command -v setpriv >/dev/null || die "setpriv is needed (util-linux)"
	fi
fi

exec 9>/tmp/parley-bench-archive.lock
flock -n 9 || die "another bench/archive.sh is running (lock /tmp/parley-bench-archive.lock)"

ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $(( USERS + 200 )) ]; then
	die "open-file limit $(ulimit -n) is too low for USERS=$USERS"
fi

OUT=${OUT:-$(mktemp -d /tmp/parley-archive-bench.XXXXXX)}
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
log "results go to $OUT"
tmp=$(mktemp -d /tmp/parley-archive.XXXXXX)
chmod 755 "$tmp" # the postgres user must reach its directory
cd "$tmp"        # nothing run here may write into the work tree

PG_PID="" SRV_PID="" TOOL_PID=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$TOOL_PID" TERM 10
	stop_pid "$SRV_PID" TERM 30
	stop_pid "$PG_PID" INT 30 # fast shutdown
	[ -f "$tmp/pg/postgres.log" ] && cp "$tmp/pg/postgres.log" "$OUT/logs/"
	rm -rf "$tmp"
	[ $rc -eq 0 ] || log "failed (exit $rc); logs in $OUT/logs"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build -------------------------------------------------------------------
build_parley

# ---- PostgreSQL ----------------------------------------------------------------
PG_VERSION=""
if [ -n "$want_pg" ]; then
	AS_PG=()
	[ "$(id -u)" -ne 0 ] || AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups)
	mkdir -p "$tmp/pg/sock"
	[ "$(id -u)" -ne 0 ] || chown -R postgres: "$tmp/pg"
	log "starting PostgreSQL ($PG_BINDIR, synchronous_commit=$PG_SYNC)"
	"${AS_PG[@]}" "$PG_BINDIR/initdb" -D "$tmp/pg/data" -U postgres -A trust -E UTF8 --no-locale --no-sync --no-instructions \
		>"$OUT/logs/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$OUT/logs/initdb.log")"
	psql_pg() { "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }
	start_pg() {
		local i
		free_port PG_PORT
		# fsync stays on, as in internal/testpg; synchronous_commit as asked.
		"${AS_PG[@]}" "$PG_BINDIR/postgres" -D "$tmp/pg/data" -h 127.0.0.1 -p "$PG_PORT" -k "$tmp/pg/sock" \
			-c max_connections=100 -c logging_collector=off -c synchronous_commit="$PG_SYNC" >"$tmp/pg/postgres.log" 2>&1 &
		PG_PID=$!
		for ((i = 0; ; i++)); do
			if ! kill -0 "$PG_PID" 2>/dev/null; then
				wait "$PG_PID" 2>/dev/null || true
				PG_PID=""
				return 1
			fi
			[ "$(listener_pid "$PG_PORT")" = "$PG_PID" ] && psql_pg -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
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
	psql_pg -d postgres -c 'CREATE DATABASE parley' >/dev/null || die "CREATE DATABASE failed"
	PG_VERSION=$("$PG_BINDIR/postgres" --version)
	PG_SETTINGS=$(psql_pg -d postgres -At -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay')")
fi

# ---- one server per run ----------------------------------------------------------
start_server() { # RUN: a fresh server for the run; sets SRV_PID C2S HTTP
	local run=$1 d=$tmp/$1 penv i
	mkdir -p "$d/data"
	free_port C2S
	free_port HTTP
	free_port TLS
	cat >"$d/parley.env" <<EOF
PARLEY_HOSTS=$DOMAIN
PARLEY_DATA_DIR=$d/data
PARLEY_LISTENERS_C2S_ADDRESS=127.0.0.1:$C2S
PARLEY_LISTENERS_C2S_STARTTLS_REQUIRED=false
PARLEY_LISTENERS_C2S_TLS_ADDRESS=127.0.0.1:$TLS
PARLEY_LISTENERS_HTTP_ADDRESS=127.0.0.1:$HTTP
PARLEY_REGISTRATION_ENABLED=true
PARLEY_AUTH_SCRAM_ITERATIONS=$ITERATIONS
PARLEY_LIMITS_MAX_CONNECTIONS=20000
PARLEY_LIMITS_MAX_CONNECTIONS_PER_IP=0
PARLEY_LIMITS_LOGIN_RATE_PER_IP=0
PARLEY_LIMITS_PING_INTERVAL=0
PARLEY_LOG_LEVEL=warn
EOF
	case $run in
	postgres)
		echo "PARLEY_STORAGE_DRIVER=postgres" >>"$d/parley.env"
		echo "PARLEY_STORAGE_POSTGRES_DSN=postgres://postgres@127.0.0.1:$PG_PORT/parley?sslmode=disable" >>"$d/parley.env"
		;;
	off) echo "PARLEY_ARCHIVE_ENABLED=false" >>"$d/parley.env" ;;
	esac
	mapfile -t penv <"$d/parley.env"
	(cd "$d" && exec env "${penv[@]}" "$bin" serve) >"$d/parley.log" 2>&1 &
	SRV_PID=$!
	for ((i = 0; ; i++)); do
		kill -0 "$SRV_PID" 2>/dev/null || die "$run: parley exited during start-up: $(tail -5 "$d/parley.log")"
		[ "$(listener_pid "$C2S")" != "$SRV_PID" ] || break
		[ $i -lt 240 ] || die "$run: parley did not listen on 127.0.0.1:$C2S within 60s"
		sleep 0.25
	done
	log "$run: parley pid $SRV_PID on 127.0.0.1:$C2S"
}

# archive_metrics: "COMMITS MESSAGES MAX_BATCH" from the server's metrics.
archive_metrics() {
	curl -fsS --max-time 5 "http://127.0.0.1:$HTTP/metrics" 2>/dev/null | awk '
		$1 == "parley_archive_commits_total" { c = $2 }
		$1 == "parley_archive_messages_total" { m = $2 }
		$1 == "parley_archive_max_batch" { x = $2 }
		END { printf "%d %d %d\n", c, m, x }'
}

# archive_rows: rows in the run's archive table (after the server stopped).
archive_rows() {
	case $1 in
	postgres) psql_pg -d parley -At -c 'SELECT COUNT(*) FROM archive' ;;
	*) sqlite3 "$tmp/$1/data/parley.db" 'SELECT COUNT(*) FROM archive' ;;
	esac
}

run_one() { # RUN
	local run=$1 rc=0 start j tool_j=0 t0="" t1="" l0="" l1=""
	start_server "$run"
	wait_quiet
	log "$run: load $LOAD_BEFORE, CPU $BUSY_BEFORE%: running parley bench"
	local -a cmd=("$bin" bench
		--addr "127.0.0.1:$C2S" --domain "$DOMAIN" --server-pid "$SRV_PID"
		--users "$USERS" --user-prefix "$PREFIX" --password "$PASSWORD" --mechanism "$MECHANISM"
		--phases "$PHASES" --senders "$SENDERS" --rate "$RATE" --duration "$DURATION"
		--concurrency "$CONCURRENCY" --settle "$SETTLE" --max-time "${BENCH_TIMEOUT}s"
		--json "$OUT/$run.json" --label "$run")
	printf '%q ' "${cmd[@]}" | sed 's/ $//' >"$OUT/$run.cmd"
	start=$(now)
	"${cmd[@]}" >"$OUT/$run.txt" 2>"$OUT/$run.log" &
	TOOL_PID=$!
	# Snapshots (to 0.2 s) when each traffic phase starts and ends: time,
	# machine busy and irq ticks, server, tool and PostgreSQL CPU ticks,
	# and the archive writer's counters.
	snap() { echo "$(date +%s.%N) $(busy_jiffies) $(proc_jiffies "$SRV_PID") $tool_j $(pg_jiffies) $(archive_metrics)"; }
	while :; do
		j=$(proc_jiffies "$TOOL_PID")
		[ "$j" -le "$tool_j" ] || tool_j=$j
		if ! kill -0 "$TOOL_PID" 2>/dev/null; then
			[ -z "$t0" ] || [ -n "$t1" ] || t1=$(snap)
			[ -z "$l0" ] || [ -n "$l1" ] || l1=$(snap)
			break
		fi
		[ -n "$t0" ] || ! grep -qs '^throughput: start' "$OUT/$run.log" || t0=$(snap)
		[ -z "$t0" ] || [ -n "$t1" ] || ! grep -qs '^throughput: done' "$OUT/$run.log" || t1=$(snap)
		[ -n "$l0" ] || ! grep -qs '^latency: start' "$OUT/$run.log" || l0=$(snap)
		[ -z "$l0" ] || [ -n "$l1" ] || ! grep -qs '^latency: done' "$OUT/$run.log" || l1=$(snap)
		if [ $(( $(now) - start )) -ge $(( BENCH_TIMEOUT + 60 )) ]; then
			log "WARNING: parley bench ($run) still running after $(( BENCH_TIMEOUT + 60 ))s: stopping it"
			stop_pid "$TOOL_PID" TERM 30
			break
		fi
		sleep 0.2
	done
	wait "$TOOL_PID" 2>/dev/null || rc=$?
	TOOL_PID=""
	local final
	final=$(archive_metrics)
	kill -0 "$SRV_PID" 2>/dev/null || die "$run: parley exited during the run (log: $(tail -3 "$tmp/$run/parley.log"))"
	stop_pid "$SRV_PID" TERM 30
	SRV_PID=""
	cp "$tmp/$run/parley.log" "$OUT/logs/$run-parley.log"
	cp "$tmp/$run/parley.env" "$OUT/logs/$run-parley.env"
	{
		echo "tool_exit=$rc"
		echo "quiet=$QUIET"
		echo "load_before=$LOAD_BEFORE"
		echo "busy_before_pct=$BUSY_BEFORE"
		echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
		echo "archive_metrics_end=$final"
		echo "archive_max_batch=$(echo "$final" | cut -d' ' -f3)"
		echo "archive_rows=$(archive_rows "$run" || echo '?')"
		# Per phase: wall time, archived rows/s (two rows a message: both
		# parties are local), messages per commit, PostgreSQL's and other
		# work's CPU in % of one core (other ≈ 0 when the machine is quiet).
		for ph in thr:"$t0|$t1" lat:"$l0|$l1"; do
			local name=${ph%%:*} pair=${ph#*:}
			local a=${pair%%|*} b=${pair#*|}
			[ -n "$a" ] && [ -n "$b" ] || continue
			echo "${name}_snapshots=$a / $b"
			awk -v a="$a" -v b="$b" -v p="$name" 'BEGIN { split(a, x); split(b, y); wall = y[1] - x[1]
				other = (y[2] - x[2]) + (y[3] - x[3]) - (y[4] - x[4]) - (y[5] - x[5]) - (y[6] - x[6])
				commits = y[7] - x[7]; msgs = y[8] - x[8]
				printf "%s_wall_s=%.1f\n%s_archived_msgs=%d\n%s_archived_rows_per_s=%.0f\n", p, wall, p, msgs, p, 2 * msgs / wall
				if (commits > 0) printf "%s_msgs_per_commit=%.1f\n", p, msgs / commits; else printf "%s_msgs_per_commit=–\n", p
				printf "%s_pg_cpu_pct=%.1f\n%s_other_cpu_pct=%.1f\n%s_irq_cpu_pct=%.1f\n", p, (y[6] - x[6]) / wall, p, other / wall, p, (y[3] - x[3]) / wall }'
		done
	} >"$OUT/$run.meta"
	case $rc in
	0) log "$run: done in $(( $(now) - start ))s" ;;
	3) log "WARNING: $run finished but its checks found problems: $(grep PROBLEM "$OUT/$run.txt" | head -3)" ;;
	*) log "WARNING: parley bench ($run) exited $rc: $(tail -3 "$OUT/$run.log")" ;;
	esac
}

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
for r in $RUNS; do
	run_one "$r"
done

# ---- table -------------------------------------------------------------------------
meta() { [ -f "$OUT/$1.meta" ] && sed -n "s/^$2=//p" "$OUT/$1.meta" | head -1 || true; }
jqr() { jq -r "$2" "$OUT/$1.json" 2>/dev/null || echo '?'; }
num() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "?" || v == "" || v == "null") print "?"; else printf f, v }'; }
have() { [ -s "$OUT/$1.json" ]; }
title() {
	case $1 in
	sqlite) echo "archive on, SQLite" ;;
	postgres) echo "archive on, PostgreSQL" ;;
	off) echo "archive off (SQLite)" ;;
	esac
}

row() { # LABEL JQ FORMAT
	local line="| $1 |" r v
	for r in $RUNS; do
		if have "$r"; then v=$(jqr "$r" "$2"); else v="?"; fi
		line+=" $(num "$v" "$3") |"
	done
	echo "$line"
}
metarow() { # LABEL KEY
	local line="| $1 |" r
	for r in $RUNS; do line+=" $(meta "$r" "$2") |"; done
	echo "$line"
}
pgrow() { # LABEL PHASE(thr|lat) JQ-RATE: PostgreSQL CPU µs/msg = pct% of a core / rate
	local line="| $1 |" r pct rate
	for r in $RUNS; do
		pct=$(meta "$r" "${2}_pg_cpu_pct")
		rate=$(have "$r" && jqr "$r" "$3" || echo '?')
		if [ "$r" = postgres ]; then line+=" $(awk -v p="$pct" -v m="$rate" 'BEGIN { if (m + 0 > 0) printf "%.1f", p * 10000 / m; else print "?" }') |"; else line+=" – |"; fi
	done
	echo "$line"
}
arow() { # LABEL JQ-RATE: archived rows/s, two a message (checked by rowscheck)
	local line="| $1 |" r v
	for r in $RUNS; do
		if [ "$r" = off ]; then line+=" 0 |"; continue; fi
		if have "$r"; then v=$(jqr "$r" "2 * $2"); else v="?"; fi
		line+=" $(num "$v" '%.0f') |"
	done
	echo "$line"
}
checkrow() { # LABEL PHASE
	local line="| $1 |" r
	for r in $RUNS; do
		if have "$r"; then
			line+=" $(jqr "$r" ".phases.$2 | \"\(.delivered)/\(.sent)\" + (if (.lost + .duplicates + .misrouted + .unexpected + .error_replies + .send_errors + .streams_ended) == 0 and .sent > 0 then \" ✓\" else \" ✗ (lost \(.lost), dup \(.duplicates), misrouted \(.misrouted), errors \(.error_replies + .send_errors), streams ended \(.streams_ended))\" end)") |"
		else
			line+=" – |"
		fi
	done
	echo "$line"
}
rowscheck() { # archive rows counted against 2 × messages sent (both phases)
	local line="| archive rows counted / 2 × messages sent |" r rows sent
	for r in $RUNS; do
		rows=$(meta "$r" archive_rows)
		sent=$(have "$r" && jqr "$r" '.phases.throughput.sent + .phases.latency.sent' || echo '?')
		if [ "$r" = off ]; then
			line+=" $rows / 0 $([ "$rows" = 0 ] && echo ✓ || echo ✗) |"
		else
			line+=" $rows / $(( 2 * ${sent//[!0-9]/0} )) $([ "$rows" = $(( 2 * ${sent//[!0-9]/0} )) ] && echo ✓ || echo ✗) |"
		fi
	done
	echo "$line"
}

{
	echo "# Message archive: cost of archiving every message on both sides"
	echo
	echo "One Parley on 127.0.0.1 per column, fresh data each; every message is a chat message between two local users,"
	echo "so with the archive on it is archived twice (sender's and recipient's rows) before delivery."
	echo
	header="| metric |" sep="|---|"
	for r in $RUNS; do header+=" $(title "$r") |"; sep+="---:|"; done
	echo "$header"
	echo "$sep"
	row "**Msgs/s at saturation** ($SENDERS senders, 1 in flight each)" '.phases.throughput.msgs_per_s' '%.0f'
	arow "**archived rows/s** at saturation (2 × msgs/s)" '.phases.throughput.msgs_per_s'
	metarow "… from the writer's metrics over the phase (±0.2 s)" thr_archived_rows_per_s
	metarow "messages per commit at saturation (mean)" thr_msgs_per_commit
	metarow "messages per commit, most seen" archive_max_batch
	row "server CPU µs/msg (saturation)" '.phases.throughput.server_cpu_us_per_msg' '%.1f'
	pgrow "PostgreSQL CPU µs/msg (saturation)" thr '.phases.throughput.msgs_per_s'
	row "server CPU % of one core (saturation)" '.phases.throughput.server_cpu_pct' '%.0f%%'
	metarow "PostgreSQL CPU % of one core (saturation)" thr_pg_cpu_pct
	row "**p50 latency ms** at $RATE msg/s" '.phases.latency.latency.p50_ms' '%.2f'
	row "**p99 latency ms** at $RATE msg/s" '.phases.latency.latency.p99_ms' '%.2f'
	row "max latency ms at $RATE msg/s" '.phases.latency.latency.max_ms' '%.2f'
	row "achieved rate msg/s (latency phase)" '.phases.latency.achieved_rate' '%.0f'
	arow "archived rows/s at $RATE msg/s (2 × achieved rate)" '.phases.latency.achieved_rate'
	metarow "messages per commit at $RATE msg/s (mean)" lat_msgs_per_commit
	row "server CPU µs/msg at $RATE msg/s" '.phases.latency.server_cpu_us_per_msg' '%.1f'
	pgrow "PostgreSQL CPU µs/msg at $RATE msg/s" lat '.phases.latency.achieved_rate'
	row "tool CPU µs/msg (saturation)" '.phases.throughput.tool_cpu_us_per_msg' '%.1f'
	row "tool CPU % of one core (saturation)" '.phases.throughput.tool_cpu_pct' '%.0f%%'
	checkrow "delivered/sent, saturation" throughput
	checkrow "delivered/sent, latency" latency
	rowscheck
	metarow "load average before run (1/5/15 min)" load_before
	metarow "machine quiet before run" quiet
	metarow "other CPU during saturation (% of one core; ≈ 0 when quiet)" thr_other_cpu_pct
	metarow "other CPU during latency phase (% of one core)" lat_other_cpu_pct
	echo
	echo "**Run**"
	echo
	echo "- command: \`$cmdline\`"
	echo "- date: $started"
	echo "- load: $USERS users, $SENDERS senders, $DURATION per traffic phase, $RATE msg/s in the latency phase, $CONCURRENCY parallel registrations/logins, $MECHANISM ($ITERATIONS iterations)"
	echo "- machine: $(nproc) × $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
	echo "- Parley: git $PARLEY_REV, $(go version 2>/dev/null | awk '{ print $3 }'); SQLite in WAL mode with synchronous=FULL (one WAL fsync per commit)"
	[ -z "$PG_VERSION" ] || echo "- $PG_VERSION: $PG_SETTINGS"
	echo "- environment of each server: logs/RUN-parley.env"
	echo
	echo "Commands:"
	echo
	echo '```sh'
	for r in $RUNS; do cat "$OUT/$r.cmd"; echo; done
	echo '```'
	echo
	echo "Raw results: $(for r in $RUNS; do printf '%s.json %s.txt %s.meta ' "$r" "$r" "$r"; done)in $OUT"
} >"$OUT/table.md"
log "wrote $OUT/table.md"
cat "$OUT/table.md"
