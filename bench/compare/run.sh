#!/usr/bin/env bash
# bench/compare/run.sh — run the same `parley bench` load against Parley,
# ejabberd and Prosody on this machine, one server at a time, and write a
# markdown table plus the raw JSON. See README.md beside this file.
#
#   USERS=500 DURATION=3s bench/compare/run.sh      # quick run
#   bench/compare/run.sh                            # full run (10000 users)
#
# Must run as root (apt-get, setpriv). All traffic stays on 127.0.0.1.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

# ---- options (environment) -------------------------------------------------
OPTION_VARS="USERS DURATION SERVERS SENDERS RATE CONCURRENCY PHASES MECHANISM DOMAIN PREFIX PASSWORD
C2S_PORT PARLEY_TLS_PORT PARLEY_HTTP_PORT EJABBERD_DIST_PORT TUNED_BLOCKLIST_CACHE TUNED_EJABBERD_CACHE QUIET_LOAD QUIET_CPU
QUIET_WAIT BENCH_TIMEOUT DRY OUT"
cmdline=""
for v in $OPTION_VARS; do
	[ -z "${!v+x}" ] || cmdline+="$v=$(printf '%q' "${!v}") "
done
cmdline+="$(printf '%q ' "$0" "$@")"
cmdline=${cmdline% }
USERS=${USERS:-10000}
DURATION=${DURATION:-10s}
SERVERS=${SERVERS:-"parley ejabberd ejabberd-tuned prosody prosody-tuned"}
SENDERS=${SENDERS:-$(( USERS / 2 < 1000 ? USERS / 2 : 1000 ))}
RATE=${RATE:-2000}
CONCURRENCY=${CONCURRENCY:-50}
PHASES=${PHASES:-register,login,idle,throughput,latency}
MECHANISM=${MECHANISM:-SCRAM-SHA-1}
ITERATIONS=4096 # SCRAM PBKDF2 iterations, the same for all servers
DOMAIN=${DOMAIN:-bench.local}
PREFIX=${PREFIX:-bench}
PASSWORD=${PASSWORD:-benchpass}
C2S_PORT=${C2S_PORT:-25222}      # every server's plain c2s listener
PARLEY_TLS_PORT=${PARLEY_TLS_PORT:-25223}
PARLEY_HTTP_PORT=${PARLEY_HTTP_PORT:-25280}
EJABBERD_DIST_PORT=${EJABBERD_DIST_PORT:-25290} # Erlang distribution (ejabberdctl)
TUNED_BLOCKLIST_CACHE=${TUNED_BLOCKLIST_CACHE:-20000} # prosody-tuned: blocklist_cache_size
TUNED_EJABBERD_CACHE=${TUNED_EJABBERD_CACHE:-20000}   # ejabberd-tuned: cache_size
QUIET_LOAD=${QUIET_LOAD:-1.0} # wait until the 1-min load average is below this
QUIET_CPU=${QUIET_CPU:-15}    # ... and the machine's CPU over 3 s is below this %
QUIET_WAIT=${QUIET_WAIT:-180} # ... but at most this many seconds per server
BENCH_TIMEOUT=${BENCH_TIMEOUT:-$(( 300 + USERS / 20 ))} # seconds per server run
DRY=${DRY:-0}                 # 1: start, smoke-check and stop servers; no load
OUT=${OUT:-$here/results/$(date -u +%Y%m%dT%H%M%SZ)}

# ---- helpers ---------------------------------------------------------------
# shellcheck source=bench/lib.sh
. "$here/../lib.sh"


[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, setpriv)"
for s in $SERVERS; do
	case $s in parley | parley-noarchive | ejabberd | ejabberd-tuned | ejabberd-mam | prosody | prosody-tuned | prosody-mam) ;;
	*) die "unknown server '$s' in SERVERS (want some of parley parley-noarchive ejabberd ejabberd-tuned ejabberd-mam prosody prosody-tuned prosody-mam)" ;;
	esac
done
[ "$USERS" -gt 0 ] || die "USERS must be positive"
if [[ ",$PHASES," == *,throughput,* || ",$PHASES," == *,latency,* ]]; then
	[ "$SENDERS" -gt 0 ] && [ $(( 2 * SENDERS )) -le "$USERS" ] ||
		die "SENDERS=$SENDERS needs USERS >= $(( 2 * SENDERS )) and > 0"
fi

# One run at a time on this machine (the ports are fixed).
exec 9>/tmp/parley-bench-compare.lock
flock -n 9 || die "another bench/compare/run.sh is running (lock /tmp/parley-bench-compare.lock)"

# Servers and the tool each need one descriptor per connection.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $(( USERS + 200 )) ]; then
	die "open-file limit $(ulimit -n) is too low for USERS=$USERS"
fi

tmp=$(mktemp -d /tmp/parley-compare.XXXXXX)
chmod 755 "$tmp" # the ejabberd and prosody users must reach their dirs
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
cd "$tmp" # nothing this script runs may write into the work tree by accident

SERVER_PID=""   # process that owns the listening socket
WRAPPER_PID=""  # what we started (may be the same)
SERVER_NAME=""
TOOL_PID=""
WATCH_PID=""
FAILED=()

stop_any() { # pid [seconds]: SIGTERM, wait, SIGKILL; for processes that are not our children (no wait)
	local pid=$1 t=${2:-30} i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < t * 4; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.25
	done
	log "pid $pid did not exit after ${t}s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.5
}

stop_server() {
	if [ -n "$SERVER_PID" ]; then
		log "stopping $SERVER_NAME (pid $SERVER_PID)"
		stop_any "$SERVER_PID" 30
	fi
	if [ -n "$WRAPPER_PID" ] && [ "$WRAPPER_PID" != "$SERVER_PID" ]; then
		stop_any "$WRAPPER_PID" 10
	fi
	[ -z "$WRAPPER_PID" ] || wait "$WRAPPER_PID" 2>/dev/null || true
	SERVER_PID="" WRAPPER_PID=""
}

save_logs() { # copy the current server's logs into $OUT/logs/NAME
	local name=$1 d=$tmp/$1
	[ -d "$d" ] || return 0
	mkdir -p "$OUT/logs/$name"
	find "$d" -maxdepth 2 -type f \( -name '*.log' -o -name '*.out' -o -name '*.cfg.lua' -o -name '*.yml' -o -name '*.cfg' -o -name '*.env' \) \
		-exec cp {} "$OUT/logs/$name/" \; 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -z "$WATCH_PID" ] || { kill "$WATCH_PID" 2>/dev/null || true; wait "$WATCH_PID" 2>/dev/null || true; }
	[ -z "$TOOL_PID" ] || stop_any "$TOOL_PID" 10
	stop_server
	[ -z "$SERVER_NAME" ] || save_logs "$SERVER_NAME"
	rm -rf "$tmp"
	[ $rc -eq 0 ] || log "failed (exit $rc); partial results in $OUT"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# busy_jiffies: busy clock ticks of all CPUs since boot, one number (lib.sh's
# splits tasks from IRQ; this table reports them together).
busy_jiffies() { awk 'NR == 1 { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# ---- 1. packages and packaged services --------------------------------------
ensure_packages() {
	local missing=()
	dpkg-query -W -f '${Status}' ejabberd 2>/dev/null | grep -q 'ok installed' || missing+=(ejabberd)
	dpkg-query -W -f '${Status}' prosody 2>/dev/null | grep -q 'ok installed' || missing+=(prosody)
	[ -x /usr/bin/python3 ] || missing+=(python3)
	command -v ss >/dev/null || missing+=(iproute2)
	command -v setpriv >/dev/null || missing+=(util-linux)
	command -v curl >/dev/null || missing+=(curl)
		if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq >"$OUT/logs/apt.log" 2>&1 || die "apt-get update failed (see $OUT/logs/apt.log)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$OUT/logs/apt.log" 2>&1 ||
			die "apt-get install ${missing[*]} failed (see $OUT/logs/apt.log)"
	fi
}

# The packages start their services on install (where allowed) on 5222,
# 5269, 5280 and more. Stop them with their own service commands, then by
# the pid in their own pid files; and keep them from starting at boot.
stop_packaged_services() {
	local svc pidfile pid
	for svc in ejabberd prosody; do
		case $svc in
		ejabberd) pidfile=/run/ejabberd/ejabberd.pid ;;
		prosody) pidfile=/run/prosody/prosody.pid ;;
		esac
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
			systemctl disable --now "$svc" >/dev/null 2>&1 || true
		else
			if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
				log "stopping the packaged $svc service"
				service "$svc" stop >/dev/null 2>&1 || true
			fi
			update-rc.d "$svc" disable >/dev/null 2>&1 || true
		fi
		if [ -s "$pidfile" ]; then
			pid=$(cat "$pidfile")
			if kill -0 "$pid" 2>/dev/null; then
				log "packaged $svc still running as pid $pid: SIGTERM"
				stop_any "$pid" 30
			fi
		fi
	done
}

# ---- 2. build ---------------------------------------------------------------
build_parley() {
	# The rev as built: others may commit while the run goes on.
	PARLEY_REV="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
	[ -z "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null | head -1)" ] ||
		PARLEY_REV+=" (with uncommitted changes)"
	log "building parley $PARLEY_REV"
	(cd "$repo" && go build -o "$tmp/bin/parley" ./cmd/parley) >"$OUT/logs/build.log" 2>&1 ||
		die "go build failed: $(tail -5 "$OUT/logs/build.log")"
	if [ "$DRY" != 1 ] && "$tmp/bin/parley" bench -h 2>&1 | grep -q 'not built yet'; then
		die "this tree's 'parley bench' is a stub (not built yet); DRY=1 checks the servers only"
	fi
}

# ---- 3. servers -------------------------------------------------------------
as_user() { # USER HOME CMD...: run as a system user, keeping rlimits (no PAM)
	local u=$1 h=$2
	shift 2
	setpriv --reuid="$u" --regid="$u" --init-groups env HOME="$h" "$@"
}

start_parley() { # NAME ARCHIVE(true|false)
	local d=$tmp/$1
	mkdir -p "$d/data" || return 1
	cat >"$d/parley.env" <<EOF
PARLEY_HOSTS=$DOMAIN
PARLEY_DATA_DIR=$d/data
PARLEY_LISTENERS_C2S_ADDRESS=127.0.0.1:$C2S_PORT
PARLEY_LISTENERS_C2S_STARTTLS_REQUIRED=false
PARLEY_LISTENERS_C2S_TLS_ADDRESS=127.0.0.1:$PARLEY_TLS_PORT
PARLEY_LISTENERS_HTTP_ADDRESS=127.0.0.1:$PARLEY_HTTP_PORT
PARLEY_REGISTRATION_ENABLED=true
PARLEY_AUTH_SCRAM_ITERATIONS=$ITERATIONS
PARLEY_LIMITS_MAX_CONNECTIONS=20000
PARLEY_LIMITS_MAX_CONNECTIONS_PER_IP=0
PARLEY_LIMITS_LOGIN_RATE_PER_IP=0
PARLEY_LIMITS_PING_INTERVAL=0
PARLEY_LOG_LEVEL=warn
PARLEY_ARCHIVE_ENABLED=$2
EOF
	local penv
	mapfile -t penv <"$d/parley.env"
	(cd "$d" && exec env "${penv[@]}" "$tmp/bin/parley" serve) >"$d/parley.log" 2>&1 &
	WRAPPER_PID=$!
}

ejctl() { # ejabberdctl against our node, as the ejabberd user
	local d=$tmp/$SERVER_NAME
	(cd "$d/spool" && as_user ejabberd "$d/home" /usr/sbin/ejabberdctl --config-dir "$d" \
		--ctl-config "$d/ejabberdctl.cfg" --config "$d/ejabberd.yml" --logs "$d/logs" --spool "$d/spool" "$@") 2>/dev/null
}

start_ejabberd() { # NAME CACHE_SIZE [mam]
	local d=$tmp/$1
	local mam="  # no message archive"
	# Every message archived (XEP-0313), as Parley does by default; Mnesia
	# (ejabberd's default store) logs to disk without a sync per message.
	[ "${3:-}" = mam ] && mam="  mod_mam: {default: always, db_type: mnesia, assume_mam_usage: true}"
	mkdir -p "$d/logs" "$d/spool" "$d/home" "$d/modules.d" || return 1
	sed -e "s|@DOMAIN@|$DOMAIN|g; s|@C2S_PORT@|$C2S_PORT|g; s|@CACHE_SIZE@|$2|g; s|^  # @MAM@\$|$mam|" "$here/ejabberd.yml.in" >"$d/ejabberd.yml"
	sed -e "s|@NODE@|parleybench@localhost|g; s|@DIST_PORT@|$EJABBERD_DIST_PORT|g; s|@CONFIG@|$d/ejabberd.yml|g" \
		-e "s|@PIDFILE@|$d/ejabberd.pid|g; s|@DIR@|$d|g" "$here/ejabberdctl.cfg.in" >"$d/ejabberdctl.cfg"
	# erl reads the resolver config from $CONFIG_DIR/inetrc.
	printf '{lookup,["file","native"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n' >"$d/inetrc"
	# A cookie of our own, in a HOME of our own (the node and ejabberdctl share it).
	od -An -N20 -tx1 /dev/urandom | tr -d ' \n' >"$d/home/.erlang.cookie"
	chmod 400 "$d/home/.erlang.cookie"
	chown -R ejabberd:ejabberd "$d"
	# Started as the ejabberd user directly, not as root: ejabberdctl would
	# re-exec through su, whose PAM limits reset nofile to 1024.
	(cd "$d/spool" && exec setpriv --reuid=ejabberd --regid=ejabberd --init-groups env HOME="$d/home" \
		/usr/sbin/ejabberdctl --config-dir "$d" --ctl-config "$d/ejabberdctl.cfg" --config "$d/ejabberd.yml" \
		--logs "$d/logs" --spool "$d/spool" foreground) >"$d/foreground.out" 2>&1 &
	WRAPPER_PID=$!
}

prctl() { # prosodyctl against our instance, as the prosody user
	local d=$tmp/$SERVER_NAME
	(cd "$d" && as_user prosody "$d" /usr/bin/prosodyctl --config "$d/prosody.cfg.lua" "$@") 2>/dev/null
}

start_prosody() { # NAME BLOCKLIST_CACHE_SIZE [mam]
	local d=$tmp/$1
	local mam="-- no message archive"
	# Every message archived (XEP-0313), as Parley does by default, in
	# Prosody's default (file) storage.
	[ "${3:-}" = mam ] && mam='"mam";'
	mkdir -p "$d/data" "$d/certs" || return 1
	sed -e "s|@DOMAIN@|$DOMAIN|g; s|@C2S_PORT@|$C2S_PORT|g; s|@DIR@|$d|g; s|@BLOCKLIST_CACHE@|$2|g; s|@MAM@|$mam|" \
		"$here/prosody.cfg.lua.in" >"$d/prosody.cfg.lua"
	chown -R prosody:prosody "$d"
	chmod 750 "$d/data"
	(cd "$d" && exec setpriv --reuid=prosody --regid=prosody --init-groups env HOME="$d" \
		/usr/bin/prosody -F --config "$d/prosody.cfg.lua") >"$d/foreground.out" 2>&1 &
	WRAPPER_PID=$!
}

# wait_listening: until something owns the c2s port; sets SERVER_PID.
wait_listening() {
	local deadline=$(( $(now) + 90 )) pid
	while :; do
		if ! kill -0 "$WRAPPER_PID" 2>/dev/null; then
			log "ERROR: $SERVER_NAME exited during start-up (logs in $OUT/logs/$SERVER_NAME)"
			return 1
		fi
		pid=$(listener_pid "$C2S_PORT")
		if [ -n "$pid" ]; then
			SERVER_PID=$pid
			return 0
		fi
		if [ "$(now)" -ge "$deadline" ]; then
			log "ERROR: $SERVER_NAME did not listen on 127.0.0.1:$C2S_PORT within 90s"
			return 1
		fi
		sleep 0.5
	done
}

# server_sessions: bound client sessions as the server itself counts them.
server_sessions() {
	case $SERVER_NAME in
	parley*) curl -fsS --max-time 5 "http://127.0.0.1:$PARLEY_HTTP_PORT/healthz" | sed -n 's/.*"sessions":\([0-9]*\).*/\1/p' ;;
	ejabberd*) ejctl connected_users_number | tr -d '[:space:]' ;;
	prosody*)
		# prosody.full_sessions holds the bound (authenticated) sessions;
		# the stock c2s:count() also counts unauthenticated ones.
		prctl shell '>local n = 0 for _ in pairs(prosody.full_sessions) do n = n + 1 end return n' |
			grep -o '[0-9][0-9]*' | tail -1 ;;
	esac
}

# server_accounts REGEX: how many stored accounts' local parts match REGEX.
server_accounts() {
	local re=$1
	case $SERVER_NAME in
	parley*)
		local penv
		mapfile -t penv <"$tmp/$SERVER_NAME/parley.env"
		(cd "$tmp/$SERVER_NAME" && env "${penv[@]}" "$tmp/bin/parley" user list "$DOMAIN" 2>/dev/null) |
			grep -c "^$re@" || true ;;
	ejabberd*) ejctl registered_users "$DOMAIN" | grep -c "^$re$" || true ;;
	prosody*) find "$tmp/$SERVER_NAME/data" -path '*/accounts/*' -name '*.dat' 2>/dev/null |
		grep -c "/$re\.dat$" || true ;;
	esac
}

server_version() {
	case $SERVER_NAME in
	parley*) "$tmp/bin/parley" version 2>/dev/null | head -1 ;;
	ejabberd*)
		local st
		st=$(ejctl status | grep -o 'ejabberd [^ ]* is running' | head -1 | sed 's/ is running//')
		echo "${st:-ejabberd $(dpkg-query -W -f '${Version}' ejabberd)} (Debian ejabberd $(dpkg-query -W -f '${Version}' ejabberd), Erlang/OTP $(dpkg-query -W -f '${Version}' erlang-base))" ;;
	prosody*) echo "Prosody $(cat /usr/lib/prosody/prosody.version 2>/dev/null) (Debian prosody $(dpkg-query -W -f '${Version}' prosody), $(readlink -f /usr/bin/lua5.4 >/dev/null 2>&1 && echo Lua 5.4))" ;;
	esac
}

# ---- one measured run -------------------------------------------------------
# run_one NAME: one server, start to stop. Returns non-zero when the server
# could not be started or checked; a failing load tool is only recorded.
# (Called in an || list, so errexit is off inside: every step is checked.)
run_one() {
	local name=$1 rc=0 pid i busy0 busy1 srv0 srv1 t0 t1 tool_j=0 j asked=0 start meta=$OUT/$1.meta
	SERVER_NAME=$name
	log "== $name"
	rm -f "$OUT/$name".{json,txt,log,meta,sessions,smoke}
	pid=$(listener_pid "$C2S_PORT")
	if [ -n "$pid" ]; then
		log "ERROR: port $C2S_PORT is taken by pid $pid ($(ps -o comm= -p "$pid")); not ours to stop"
		return 1
	fi
	case $name in
	parley) start_parley parley true ;;
	parley-noarchive) start_parley parley-noarchive false ;;
	ejabberd) start_ejabberd ejabberd 1000 ;;
	ejabberd-tuned) start_ejabberd ejabberd-tuned "$TUNED_EJABBERD_CACHE" ;;
	ejabberd-mam) start_ejabberd ejabberd-mam "$TUNED_EJABBERD_CACHE" mam ;;
	prosody) start_prosody prosody 64 ;;
	prosody-tuned) start_prosody prosody-tuned "$TUNED_BLOCKLIST_CACHE" ;;
	prosody-mam) start_prosody prosody-mam "$TUNED_BLOCKLIST_CACHE" mam ;;
	esac || { log "ERROR: could not set up $name"; return 1; }
	wait_listening || return 1
	log "$name listening, pid $SERVER_PID ($(ps -o comm= -p "$SERVER_PID")); nofile $(awk '/open files/ { print $4 }' "/proc/$SERVER_PID/limits")"
	# Pre-flight, independent of the load tool: registration, SCRAM login,
	# bind, a message to self. Retried while the server finishes starting.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		if "$here/smoke.sh" 127.0.0.1 "$C2S_PORT" "$DOMAIN" smoketest "$PASSWORD" register >"$OUT/$name.smoke" 2>&1; then
			break
		fi
		if [ $i -eq 10 ]; then
			log "ERROR: $name failed the smoke check: $(tail -3 "$OUT/$name.smoke")"
			return 1
		fi
		sleep 2
	done
	if ! grep -q "^iterations=$ITERATIONS$" "$OUT/$name.smoke"; then
		log "ERROR: $name does not use $ITERATIONS SCRAM iterations: $(grep iterations= "$OUT/$name.smoke")"
		return 1
	fi
	log "$name smoke check ok (register, SCRAM-SHA-1 login with $ITERATIONS iterations, bind, message)"
	{
		echo "name=$name"
		echo "version=$(server_version)"
		echo "server_comm=$(ps -o comm= -p "$SERVER_PID")"
		echo "server_nofile=$(awk '/open files/ { print $4 }' "/proc/$SERVER_PID/limits")"
	} >"$meta"
	if [ "$DRY" = 1 ]; then
		echo "smoke_sessions=$(server_sessions)" >>"$meta"
		echo "smoke_accounts=$(server_accounts smoketest)" >>"$meta"
		stop_server
		save_logs "$name"
		return 0
	fi

	wait_quiet
	{
		echo "quiet=$QUIET"
		echo "load_before=$LOAD_BEFORE"
		echo "busy_before_pct=$BUSY_BEFORE"
	} >>"$meta"
	log "$name: load $LOAD_BEFORE, CPU $BUSY_BEFORE%: running parley bench"

	busy0=$(busy_jiffies) srv0=$(proc_jiffies "$SERVER_PID") t0=$(date +%s.%N) start=$(now)
	"$tmp/bin/parley" bench \
		--addr "127.0.0.1:$C2S_PORT" --domain "$DOMAIN" --server-pid "$SERVER_PID" \
		--users "$USERS" --user-prefix "$PREFIX" --password "$PASSWORD" \
		--mechanism "$MECHANISM" --register \
		--phases "$PHASES" \
		--senders "$SENDERS" --rate "$RATE" --duration "$DURATION" --concurrency "$CONCURRENCY" \
		--max-time "${BENCH_TIMEOUT}s" \
		--json "$OUT/$name.json" --label "$name" >"$OUT/$name.txt" 2>"$OUT/$name.log" &
	TOOL_PID=$!
	# Watch the tool: sample its CPU, bound its time, and once it reports the
	# idle phase (every login held) ask the server how many sessions it has.
	while kill -0 "$TOOL_PID" 2>/dev/null; do
		j=$(proc_jiffies "$TOOL_PID")
		[ "$j" -le "$tool_j" ] || tool_j=$j
		if [ $asked = 0 ] && grep -qs 'idle: start' "$OUT/$name.log" "$OUT/$name.txt"; then
			asked=1
			(sleep 1; server_sessions >"$OUT/$name.sessions") &
			WATCH_PID=$!
		fi
		# --max-time ends it first, normally; this is the backstop.
		if [ $(( $(now) - start )) -ge $(( BENCH_TIMEOUT + 60 )) ]; then
			log "WARNING: parley bench against $name still running after $(( BENCH_TIMEOUT + 60 ))s: stopping it"
			stop_any "$TOOL_PID" 30
			break
		fi
		sleep 0.5
	done
	wait "$TOOL_PID" 2>/dev/null || rc=$?
	TOOL_PID=""
	busy1=$(busy_jiffies) srv1=$(proc_jiffies "$SERVER_PID") t1=$(date +%s.%N)
	if [ -n "$WATCH_PID" ]; then
		wait "$WATCH_PID" 2>/dev/null || true
		WATCH_PID=""
	fi
	{
		echo "tool_exit=$rc"
		echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
		echo "sessions_during_idle=$(cat "$OUT/$name.sessions" 2>/dev/null)"
		echo "accounts_stored=$(server_accounts "${PREFIX}[0-9][0-9]*")"
		if [ "${name%%-*}" = parley ]; then
			echo "logins_counted=$(curl -fsS --max-time 5 "http://127.0.0.1:$PARLEY_HTTP_PORT/metrics" |
				awk '/^parley_c2s_logins_total/ { n += $2 } END { print n + 0 }')"
		fi
		# CPU used by everything but the server and the tool while it ran,
		# in percent of one core: noise from other work on the machine.
		awk -v b0="$busy0" -v b1="$busy1" -v s0="$srv0" -v s1="$srv1" -v t0="$t0" -v t1="$t1" -v tj="$tool_j" 'BEGIN {
			wall = t1 - t0; other = (b1 - b0) - (s1 - s0) - tj
			pct = 0; if (wall > 0) pct = other / wall
			printf "wall_s=%.1f\nserver_cpu_s=%.2f\ntool_cpu_s=%.2f\nother_cpu_pct=%.1f\n", wall, (s1 - s0) / 100, tj / 100, pct }'
	} >>"$meta"
	case $rc in
	0) ;;
	3) log "WARNING: parley bench against $name finished, but its checks found problems (see $name.txt)" ;;
	*)
		log "WARNING: parley bench against $name exited $rc: $(tail -3 "$OUT/$name.log")"
		FAILED+=("$name")
		;;
	esac
	log "$name: done in $(( $(now) - start ))s; $(grep -E '^(sessions_during_idle|accounts_stored)=' "$meta" | tr '\n' ' ')"
	stop_server
	save_logs "$name"
	return 0
}

# ---- main -------------------------------------------------------------------
ensure_packages
stop_packaged_services
build_parley
started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
for s in $SERVERS; do
	run_one "$s" || {
		FAILED+=("$s")
		stop_server
		save_logs "$s"
	}
done
SERVER_NAME=""

# ---- 5. table ----------------------------------------------------------------
{
	echo "cmdline=$cmdline"
	echo "date=$started"
	echo "parley_rev=$PARLEY_REV"
	echo "go=$(go version | awk '{ print $3 }')"
	echo "nproc=$(nproc)"
	echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "nofile=$(ulimit -n)"
	echo "users=$USERS"
	echo "senders=$SENDERS"
	echo "rate=$RATE"
	echo "duration=$DURATION"
	echo "concurrency=$CONCURRENCY"
	echo "mechanism=$MECHANISM"
	echo "iterations=$ITERATIONS"
	echo "servers=$SERVERS"
	echo "tuned_blocklist_cache=$TUNED_BLOCKLIST_CACHE"
	echo "tuned_ejabberd_cache=$TUNED_EJABBERD_CACHE"
	echo "dry=$DRY"
} >"$OUT/run.meta"
"$here/table.sh" "$OUT" >"$OUT/table.md"
log "wrote $OUT/table.md"
cat "$OUT/table.md"
if [ ${#FAILED[@]} -gt 0 ]; then
	log "failed: ${FAILED[*]}"
	exit 1
fi
