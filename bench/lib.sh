# bench/lib.sh — shell helpers shared by bench/archive.sh, bench/cluster.sh
# and bench/compare/run.sh (sourced, not run): logging, stopping processes
# by PID, free ports, CPU accounting from /proc, waiting for a quiet
# machine, and building parley.

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s; }

stop_pid() { # PID SIGNAL SECONDS: signal, wait, then SIGKILL
	local pid=$1 sig=$2 t=$3 i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < t * 4; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.25
	done
	log "pid $pid did not exit after ${t}s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# free_port VAR: sets VAR to a TCP port that no socket uses, outside the
# kernel's ephemeral range (where the tool's own connections and other
# programs' take theirs), and not handed out before. It runs in this shell,
# not a subshell, so that TAKEN keeps count.
TAKEN=" "
read -r EPH_LO EPH_HI </proc/sys/net/ipv4/ip_local_port_range || { EPH_LO=32768 EPH_HI=60999; }
if [ "$EPH_LO" -gt 12000 ]; then PORT_LO=10000 PORT_N=$(( EPH_LO - 10000 )); else PORT_LO=$(( EPH_HI + 1 )) PORT_N=$(( 65535 - EPH_HI )); fi
free_port() {
	local _port _try
	for ((_try = 0; _try < 200; _try++)); do
		_port=$(( PORT_LO + (RANDOM * 32768 + RANDOM) % PORT_N ))
		[[ $TAKEN == *" $_port "* ]] && continue
		[ -z "$(ss -tanH "sport = :$_port" 2>/dev/null)" ] || continue
		TAKEN+="$_port "
		printf -v "$1" '%s' "$_port"
		return 0
	done
	die "no free port found"
}

listener_pid() { ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
# busy_jiffies: "TASKS IRQ" busy clock ticks of all CPUs since boot: user,
# nice, system and steal; irq and softirq (loopback TCP is mostly softirq,
# which the kernel also charges to the process it interrupted, so a process's
# time can include some of IRQ).
busy_jiffies() { awk 'NR == 1 { print $2 + $3 + $4 + $9, $7 + $8 }' /proc/stat; }
proc_jiffies() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_jiffies() { # the postmaster ($PG_PID) and its children; 0 without one
	local p s=0
	[ -n "${PG_PID:-}" ] || { echo 0; return; }
	for p in "$PG_PID" $(pgrep -P "$PG_PID" 2>/dev/null || true); do
		s=$(( s + $(proc_jiffies "$p") ))
	done
	echo $s
}
cpu_busy() { # SECONDS: percent of the whole machine busy
	local a b
	a=$(head -1 /proc/stat)
	sleep "$1"
	b=$(head -1 /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y); busy = 0; tot = 0
		for (i = 2; i <= 11; i++) { d = y[i] - x[i]; tot += d; if (i != 5 && i != 6) busy += d }
		pct = 0; if (tot > 0) pct = 100 * busy / tot; printf "%.1f", pct }'
}

# wait_quiet: bounded wait until the machine's CPU over 3 s is below
# QUIET_CPU% and the 1-min load average below QUIET_LOAD (or the CPU has
# stayed low for 4 checks in a row, ~30 s: the load average lags behind a
# previous run), at most QUIET_WAIT seconds. Sets QUIET LOAD_BEFORE
# BUSY_BEFORE.
wait_quiet() {
	local deadline=$(( $(now) + QUIET_WAIT )) load busy calm=0
	while :; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		busy=$(cpu_busy 3)
		if awk -v b="$busy" -v q="$QUIET_CPU" 'BEGIN { exit !(b < q) }'; then calm=$(( calm + 1 )); else calm=0; fi
		if [ $calm -gt 0 ] && { [ $calm -ge 4 ] || awk -v l="$load" -v q="$QUIET_LOAD" 'BEGIN { exit !(l < q) }'; }; then
			QUIET=yes
			break
		fi
		if [ "$(now)" -ge "$deadline" ]; then
			QUIET=no
			log "WARNING: machine not quiet after ${QUIET_WAIT}s (load $load, CPU $busy%); measuring anyway"
			break
		fi
		log "waiting for a quiet machine: load $load (want < $QUIET_LOAD), CPU $busy% (want < $QUIET_CPU%)"
		sleep 5
	done
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	BUSY_BEFORE=$busy
}

# build_parley: sets bin to $PARLEY_BIN or a fresh build of ./cmd/parley
# into $tmp/bin (log in $OUT/logs/build.log), and PARLEY_REV to what it is.
build_parley() {
	PARLEY_REV="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
	[ -z "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null | head -1)" ] ||
		PARLEY_REV+=" (with uncommitted changes)"
	if [ -n "${PARLEY_BIN:-}" ]; then
		[ -x "$PARLEY_BIN" ] || die "PARLEY_BIN=$PARLEY_BIN is not executable"
		bin=$PARLEY_BIN
		PARLEY_REV+=", prebuilt $PARLEY_BIN"
	else
		log "building parley $PARLEY_REV"
		(cd "$repo" && go build -o "$tmp/bin/parley" ./cmd/parley) >"$OUT/logs/build.log" 2>&1 ||
			die "go build failed: $(tail -5 "$OUT/logs/build.log")"
		bin=$tmp/bin/parley
	fi
}
