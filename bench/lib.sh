# bench/lib.sh — shell helpers shared by bench/archive.sh and
# bench/cluster.sh (sourced, not run): logging, CPU accounting from /proc,
# waiting for a quiet machine, and building parley.

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s; }

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
