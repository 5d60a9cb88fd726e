#!/usr/bin/env bash
# What the green runtime's monitor costs a busy server: CPU time per request of green with
# the monitor and without it (--no-monitor), side by side. Open loop at a fixed rate (HTTP
# /plaintext, 100 connections, 20,000 req/s by default), --workers 1, the server pinned to one
# core and loadgen to another, the two alternated round by round so that drift in the
# machine's speed hits both alike. Server CPU is the process's user + system time over the
# whole loadgen run (warm-up included) divided by the requests answered in it.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	cat <<USAGE
usage: scripts/bench-monitor.sh [-d SECONDS] [-r ROUNDS] [-c CONNS] [-R RATE]
  -d SECONDS   each measured run (default 10; one more second of warm-up)
  -r ROUNDS    rounds; each round runs both servers (default 5)
  -c CONNS     connections (default 100)
  -R RATE      requests/s in all (default 20000)
Server on CPU \$SERVER_CPU (default 0), loadgen on CPU \$CLIENT_CPU (default 1).
USAGE
}

secs=10 rounds=5 conns=100 rate=20000
while getopts "d:r:c:R:h" opt; do
	case $opt in
	d) secs=$OPTARG ;; r) rounds=$OPTARG ;; c) conns=$OPTARG ;; R) rate=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || { echo "bench-monitor: unexpected argument '$1'" >&2; usage >&2; exit 2; }
for n in "$secs" "$rounds" "$conns" "$rate"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] ||
		{ echo "bench-monitor: '$n' is not a positive whole number" >&2; usage >&2; exit 2; }
done
for b in green loadgen; do
	[[ -x build/bin/$b ]] || { echo "bench-monitor: build/bin/$b not found (run make)" >&2; exit 2; }
done
server_cpu=${SERVER_CPU:-0} client_cpu=${CLIENT_CPU:-1}
hz=$(getconf CLK_TCK)

out=$(mktemp -d)
server_pid= nruns=0
cleanup() {
	[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # utime + stime, all threads

run() {   # label server-options...
	local label=$1 log=$out/server.$((++nruns)).log port= t0 t1 reqs   # a fresh log each time
	shift
	taskset -c "$server_cpu" build/bin/green --port 0 --workers 1 --max-conns 10000 "$@" \
		>"$log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on [^ ]*:\([0-9]*\) .*/\1/p' "$log")
		[[ -n $port ]] && break
		sleep 0.05
	done
	[[ -n $port ]] || { echo "bench-monitor: green $* did not start: $(cat "$log")" >&2; exit 1; }
	t0=$(cpu_ticks "$server_pid")
	taskset -c "$client_cpu" build/bin/loadgen --port "$port" --path /plaintext -c "$conns" \
		--rate "$rate" -d "$secs" --warmup 1 --json "$out/run.json" >/dev/null
	t1=$(cpu_ticks "$server_pid")
	kill "$server_pid"; wait "$server_pid" || true; server_pid=
	reqs=$(python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j["requests"] + j.get("warmup_requests", 0))' "$out/run.json")
	awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.3f\n", t / hz * 1e6 / n }' \
		>>"$out/$label.us"
	printf '  %-12s %8d requests  %7.3f us CPU/request\n' "$label" "$reqs" "$(tail -1 "$out/$label.us")"
}

for r in $(seq "$rounds"); do
	echo "round $r/$rounds"
	run monitor
	run no-monitor --no-monitor
done

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo, hi }'; }
echo
echo "green --workers 1, /plaintext, $conns connections, $rate req/s open loop, ${secs}s x $rounds rounds"
printf '%-12s %16s %14s\n' server "median us/req" range
for s in monitor no-monitor; do
	printf '%-12s %16.3f %14s\n' "$s" "$(median "$out/$s.us")" "$(spread "$out/$s.us")"
done
awk -v a="$(median "$out/monitor.us")" -v b="$(median "$out/no-monitor.us")" \
	'BEGIN { printf "with the monitor / without: %.3fx\n", a / b }'
