#!/usr/bin/env bash
# Plaintext keep-alive throughput of each model against nginx: wrk -t1, server pinned to one
# core and wrk to another, servers alternated round by round so that drift in the machine's
# speed hits them all alike. Prints each server's median requests/s and its ratio to nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/nginx.sh

usage() {
	cat <<USAGE
usage: scripts/bench-models.sh [-d SECONDS] [-r ROUNDS] [-c CONNS] [-w WORKERS] [MODEL...]
  -d SECONDS   each wrk run (default 5)
  -r ROUNDS    rounds; every server runs once per round (default 5)
  -c CONNS     connections (default 100)
  -w WORKERS   --workers for every model (default 1; single-threaded models take only 1)
  MODEL...     models from build/bin (default: fork thread select epoll, and green if built)
Server on CPU \$SERVER_CPU (default 0), wrk on CPU \$CLIENT_CPU (default 1).
USAGE
}

secs=5 rounds=5 conns=100 workers=1
while getopts "d:r:c:w:h" opt; do
	case $opt in
	d) secs=$OPTARG ;; r) rounds=$OPTARG ;; c) conns=$OPTARG ;; w) workers=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
for n in "$secs" "$rounds" "$conns" "$workers"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench-models: '$n' is not a positive whole number" >&2; usage >&2; exit 2; }
done
models=("$@")
if ((${#models[@]} == 0)); then
	models=(fork thread select epoll)
	[[ -x build/bin/green ]] && models+=(green)
fi
for m in "${models[@]}"; do
	[[ -x build/bin/$m ]] || { echo "bench-models: build/bin/$m not found (run make)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "bench-models: wrk not found (apt-get install wrk)" >&2; exit 2; }
server_cpu=${SERVER_CPU:-0} client_cpu=${CLIENT_CPU:-1}

out=$(mktemp -d)
server_pid=
cleanup() {
	[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	nginx_stop
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a model on a free port; sets server_pid and port.
start_model() {
	local m=$1 log=$out/$1.log
	taskset -c "$server_cpu" build/bin/"$m" --port 0 --max-conns 100000 --workers "$workers" \
		>"$log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on [^ ]*:\([0-9]*\) .*/\1/p' "$log")
		[[ -n $port ]] && return 0
		sleep 0.05
	done
	echo "bench-models: $m did not start: $(cat "$log")" >&2
	exit 1
}

run_wrk() {   # port label
	local rps
	rps=$(taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$1/plaintext" |
		awk '/^Requests\/sec:/ { print $2 }')
	echo "$rps" >>"$out/$2.rps"
	printf '  %-8s %12.0f req/s\n' "$2" "$rps"
}

for r in $(seq "$rounds"); do
	echo "round $r/$rounds"
	nginx_start "$server_cpu" || exit 1
	run_wrk "$NGINX_PORT" nginx
	nginx_stop
	for m in "${models[@]}"; do
		start_model "$m"
		run_wrk "$port" "$m"
		kill "$server_pid"; wait "$server_pid" || true; server_pid=
	done
done

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ref=$(median "$out/nginx.rps")
echo
echo "plaintext keep-alive, wrk -t1 -c$conns, ${secs}s x $rounds rounds, server CPU $server_cpu, wrk CPU $client_cpu"
printf '%-8s %14s %10s\n' server "median req/s" "vs nginx"
for s in nginx "${models[@]}"; do
	med=$(median "$out/$s.rps")
	printf '%-8s %14.0f %9.2fx\n' "$s" "$med" "$(awk -v a="$med" -v b="$ref" 'BEGIN { print a / b }')"
done
