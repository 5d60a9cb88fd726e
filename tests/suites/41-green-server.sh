#!/usr/bin/env bash
# build/bin/green as a server, for what is particular to it (the conformance suite checks the
# protocol, like for every model): a /block request holds one worker's OS thread in a
# blocking call, yet the other connections are answered meanwhile, also with --workers 1, and
# also when nothing wraps the call (--no-handoff) or the request computes (/work), thanks to
# the runtime's monitor (and not without it: the control);
# one client streaming echo data as fast as it can does not hold the only worker; and SIGTERM
# ends it with code 0 while connections sleep, idle, or read.
# Assertions are about order (answered while the block was still in progress), not time: the
# machine is shared and noisy, so time bounds are generous (like the conformance suite's) and
# only keep a failure from hanging; measured times are printed as information.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
. tests/green/suite-lib.sh

# The conformance suite's bound on an exit after SIGTERM, stretched for sanitized builds.
exit_bound_s=5
[[ -n ${SAN:-} ]] && exit_bound_s=15

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# start_server ARGS...: sets $port, $spid and $log.
nstarted=0
start_server() {
	local i
	log=$tmp/server.$((++nstarted)).log        # a fresh file: never read an old server's port
	"$BIN/green" --port 0 "$@" >"$log" 2>&1 &
	spid=$!
	pids+=("$spid")
	port=
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/^listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log" 2>/dev/null)
		[[ -n $port ]] && return 0
		sleep 0.05
	done
	echo "    the server did not start:"; indent <"$log"
	return 1
}

stop_server() {          # SIGTERM; sets $stop_rc (124: still running after $exit_bound_s s)
	local i
	kill -TERM "$spid"
	for ((i = 0; i < exit_bound_s * 20; i++)); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$spid" 2>/dev/null; then
		kill -9 "$spid"
		wait "$spid" 2>/dev/null
		stop_rc=124
	else
		wait "$spid"
		stop_rc=$?
	fi
}

# One attempt: a slow request (default /block?ms=500) in the background, then quick requests.
# True if all the quick ones were answered while the slow one was still in progress.
quick_during_block() {
	local slow=${1:-block?ms=500} answer=${2:-blocked 500 ms}
	rm -f "$tmp/block.done"
	(curl -s -m 20 "http://127.0.0.1:$port/$slow" >"$tmp/block.out"; touch "$tmp/block.done") &
	local bg=$! n
	sleep 0.1               # let the block start (if it has not, the check below fails safe)
	for n in 1 2 3; do
		curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" >"$tmp/quick.code"
		[[ $(<"$tmp/quick.code") == 200 ]] ||
			{ echo "    quick request: $(<"$tmp/quick.code")"; wait "$bg"; return 1; }
	done
	local during=1
	[[ -e $tmp/block.done ]] && during=0
	wait "$bg"
	grep -q "$answer" "$tmp/block.out" ||
		{ echo "    /$slow answered: $(<"$tmp/block.out")"; return 1; }
	((during)) || echo "    /$slow ended before the quick requests did"
	((during))
}

# expect_quick_during NAME SLOW ANSWER SERVER-ARGS...: the quick requests are answered during
# the slow one. SLOW and ANSWER hold MS, the slow request's length in milliseconds. A loaded
# machine can take longer than 500 ms to start three curls, and then the slow request ends
# first through no fault of the server; so an attempt that is too short for this machine is
# followed by a longer one (0.5, 2, then 5 s; $lengths, in ms, overrides). A server that serves
# nothing meanwhile fails all.
expect_quick_during() {
	local name=$1 slow=$2 answer=$3 got=0 ms
	shift 3
	if start_server "$@"; then
		for ms in ${lengths:-500 2000 5000}; do
			if quick_during_block "${slow//MS/$ms}" "${answer//MS/$ms}"; then got=1; break; fi
		done
		stop_server
	fi
	((got)) && ok "$name" || bad "$name"
}

for workers in 1 2; do
	expect_quick_during \
		"while /block?ms=500 holds a thread, other requests are answered (--workers $workers)" \
		"block?ms=MS" "blocked MS ms" --workers "$workers"
done

# The runtime's monitor: nothing wraps the call (--no-handoff), or the request computes, and
# the only worker's thread does not come back to its scheduler; the monitor hands the worker
# to another thread. The control: without the monitor, the quick requests wait.
expect_quick_during \
	"--no-handoff: the monitor frees the worker of an unwrapped /block?ms=500 (--workers 1)" \
	"block?ms=MS" "blocked MS ms" --workers 1 --no-handoff
lengths="500 1000 1000" expect_quick_during \
	"the monitor frees the worker of a /work?us=500000 computing (--workers 1)" \
	"work?us=MS000" "worked MS000 us" --workers 1      # /work takes at most 1 s
# (Three attempts here too, the other way round: a block that starts late lets the quick
# requests through before it, so the control fails only if they got through every time.)
name="control: with --no-handoff --no-monitor, the quick requests wait for the /block (--workers 1)"
waited=0
if start_server --workers 1 --no-handoff --no-monitor; then
	for attempt in 1 2 3; do
		if ! quick_during_block "block?ms=500" "blocked 500 ms" >/dev/null; then
			waited=1
			break
		fi
	done
	stop_server
fi
((waited)) && ok "$name" || bad "$name"

# tests/green/stream_fairness.py judges by order: the other client's line came back while the
# stream was still flowing. (On this machine the server's green thread parks now and then
# anyway, whenever a client thread is descheduled, so without the runtime's I/O budget this
# mostly passes too; the runtime test busy-io-does-not-starve-others shows the budget
# deterministically. This one checks the real server end to end.)
name="one client streams echo as fast as it can; another is answered meanwhile (--workers 1)"
if start_server --workers 1 --proto echo; then
	if out=$(timeout 60 python3 tests/green/stream_fairness.py --port "$port" 2>&1); then
		ok "$name"
		indent <<<"$out"
	else
		bad "$name"
		indent <<<"$out"
	fi
	stop_server
else
	bad "$name"
fi

# A connection that has sent nothing has no green thread, so no stack page: the acceptor
# waits for its first byte (docs/green.md, "Idle memory"). 2 KiB is half the issue's bound and
# seven times the figure measured (0.3 KiB); a green thread per connection costs 4.4. Not for
# sanitized builds: their shadow memory is not the server's.
name="2,000 connections that sent nothing, then quiet for 2 s after a request: at most 2 KiB of resident memory each"
if [[ -n ${SAN:-} ]]; then
	echo "skip $name (a sanitized build)"
elif out=$(timeout 180 python3 tests/green/idle_memory.py --conns 2000 --max-kib 2 \
           --max-kib-served 2 "$BIN/green" 2>&1); then
	ok "$name"
	indent <<<"$out"
else
	bad "$name"
	indent <<<"$out"
fi

# A keep-alive connection quiet for 1 s loses its green thread and waits in the acceptor's set
# (servers/green.c, give_back): its next request must be served as before, and its idle
# time-out must still close it.
name="a keep-alive connection quiet past the threshold is served again, then closed by --idle-timeout 3"
if start_server --workers 1 --idle-timeout 3; then
	if out=$(timeout 60 python3 - "$port" <<'PY' 2>&1
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def get():
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not data.endswith(b"Hello, World!"):
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"closed before the answer: {data!r}")
        data += chunk
get()
time.sleep(1.5)            # past the 1 s threshold: given back to the acceptor
get()
time.sleep(1.5)            # given back again
get()
start = time.monotonic()
s.settimeout(30)
rest = s.recv(4096)        # the idle time-out closes it: an end of file
print(f"closed {time.monotonic() - start:.1f} s after the last answer (time-out 3 s)")
sys.exit(0 if rest == b"" else f"expected an end of file, got {rest!r}")
PY
	); then
		ok "$name"
	else
		bad "$name"
	fi
	indent <<<"$out"
	stop_server
else
	bad "$name"
fi

name="SIGTERM with sleeping, idle and half-sent connections: exit 0 (bound: $exit_bound_s s)"
if start_server --workers 2; then
	curl -s -m 10 "http://127.0.0.1:$port/sleep?ms=30000" >/dev/null 2>&1 &
	pids+=($!)
	exec 7<>"/dev/tcp/127.0.0.1/$port"        # idle
	exec 8<>"/dev/tcp/127.0.0.1/$port"
	printf 'GET / HTTP/1.1\r\nHost: x\r\n' >&8   # half a request head
	sleep 0.3
	t0=$(date +%s%N)
	stop_server
	ms=$((($(date +%s%N) - t0) / 1000000))
	exec 7>&- 8>&-
	if ((stop_rc == 0)); then
		ok "$name"
		echo "    exited $ms ms after SIGTERM (information, not a criterion)"
	else
		bad "$name (exit $stop_rc after $ms ms)"
		indent <"$log"
	fi
else
	bad "$name"
fi
finish
