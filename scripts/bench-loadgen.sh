#!/usr/bin/env bash
# Is loadgen ever the bottleneck? It against wrk, both with one thread pinned to the same core,
# against the same nginx (one worker, pinned to another core), plaintext keep-alive, runs
# alternated (wrk, loadgen, wrk, loadgen, ...) so that drift in the machine's speed hits both
# alike. Prints each run, the medians, their ratio, and each tool's CPU time per request; then
# how closely --rate holds its target, and how many of 10,000 idle connections it establishes.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/nginx.sh

usage() {
	cat <<USAGE
usage: scripts/bench-loadgen.sh [-d SECONDS] [-r ROUNDS] [-c CONNS] [-R RATE]
  -d SECONDS   each run (default 3)
  -r ROUNDS    rounds; each tool runs once per round (default 5)
  -c CONNS     connections (default 100)
  -R RATE      the --rate check's target, requests/s (default 20000)
nginx on CPU \$SERVER_CPU (default 0), wrk and loadgen on CPU \$CLIENT_CPU (default 1).
USAGE
}

secs=3 rounds=5 conns=100 rate=20000
while getopts "d:r:c:R:h" opt; do
	case $opt in
	d) secs=$OPTARG ;; r) rounds=$OPTARG ;; c) conns=$OPTARG ;; R) rate=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || { echo "bench-loadgen: unexpected argument '$1'" >&2; exit 2; }
for n in "$secs" "$rounds" "$conns" "$rate"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench-loadgen: '$n' is not a positive whole number" >&2; exit 2; }
done
[[ -x build/bin/loadgen ]] || { echo "bench-loadgen: build/bin/loadgen not found (run make)" >&2; exit 2; }
for tool in wrk /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench-loadgen: $tool not found (apt-get install wrk time)" >&2; exit 2; }
done
server_cpu=${SERVER_CPU:-0} client_cpu=${CLIENT_CPU:-1}

out=$(mktemp -d)
cleanup() {
	nginx_stop
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nginx_start "$server_cpu" || exit 1
port=$NGINX_PORT

# Each run appends "req/s cpu-seconds" to $out/TOOL; cpu is user + sys, from /usr/bin/time.
run_wrk() {
	/usr/bin/time -f "%U %S" -o "$out/time" taskset -c "$client_cpu" \
		wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/" >"$out/wrk.txt"
	record wrk "$(awk '/^Requests\/sec:/ { print $2 }' "$out/wrk.txt")" \
		"$(awk '/requests in/ { print $1 }' "$out/wrk.txt")"
}
run_loadgen() {
	/usr/bin/time -f "%U %S" -o "$out/time" taskset -c "$client_cpu" \
		build/bin/loadgen --port "$port" -t1 -c"$conns" -d"$secs" --warmup 0 --json "$out/lg.json" >/dev/null
	record loadgen "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests_per_s"])' "$out/lg.json")" \
		"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$out/lg.json")"
}
record() {   # tool req/s requests
	local cpu
	cpu=$(awk '{ print $1 + $2 }' "$out/time")
	echo "$2 $cpu $3" >>"$out/$1"
	printf '  %-8s %12.0f req/s  %6.2f us CPU/request\n' "$1" "$2" "$(awk -v c="$cpu" -v n="$3" 'BEGIN { print c * 1e6 / n }')"
}

for r in $(seq "$rounds"); do
	echo "round $r/$rounds"
	run_wrk
	run_loadgen
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wrk_rps=$(awk '{ print $1 }' "$out/wrk" | median)
lg_rps=$(awk '{ print $1 }' "$out/loadgen" | median)
wrk_cpu=$(awk '{ print $2 * 1e6 / $3 }' "$out/wrk" | median)
lg_cpu=$(awk '{ print $2 * 1e6 / $3 }' "$out/loadgen" | median)
echo
echo "plaintext keep-alive against nginx (1 worker, CPU $server_cpu), -t1 -c$conns on CPU $client_cpu, ${secs}s x $rounds rounds"
printf '%-8s %14s %16s\n' tool "median req/s" "us CPU/request"
printf '%-8s %14.0f %16.2f\n' wrk "$wrk_rps" "$wrk_cpu" loadgen "$lg_rps" "$lg_cpu"
printf 'loadgen / wrk: %.3f x the requests/s, %.3f x the CPU per request\n' \
	"$(awk -v a="$lg_rps" -v b="$wrk_rps" 'BEGIN { print a / b }')" \
	"$(awk -v a="$lg_cpu" -v b="$wrk_cpu" 'BEGIN { print a / b }')"

echo
taskset -c "$client_cpu" build/bin/loadgen --port "$port" -c"$conns" -d"$secs" --warmup 1 --rate "$rate" \
	--json "$out/rate.json" >/dev/null
python3 - "$out/rate.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["rate"]
print("--rate %.0f: achieved %.1f/s (%.2f%% off), %d of %d sends late, %d errors"
      % (r["target"], r["achieved"], 100 * abs(r["achieved"] - r["target"]) / r["target"],
         r["late_sends"], r["sends"], sum(d["errors"].values())))
PY
taskset -c "$client_cpu" build/bin/loadgen --port "$port" --idle -c 10000 -d 1 --warmup 1 \
	--json "$out/idle.json" >/dev/null
python3 -c 'import json,sys; c = json.load(open(sys.argv[1]))["connections"]
print("--idle -c 10000: %d established, %d open at the end" % (c["established"], c["open_at_end"]))' "$out/idle.json"
