#!/usr/bin/env bash
# Server CPU per request at a fixed rate, green against epoll, side by side: each model with
# --workers 1 on one core, build/bin/loadgen --rate (open loop) on the other, the models
# alternated round by round (and their order swapped every other round) so that drift in a
# shared machine's speed hits both alike. While loadgen measures, `perf stat -p` counts the
# server's CPU time (task-clock), its system calls, futex calls and context switches (software
# events and tracepoints: no hardware counters needed). Prints, per case, each model's median
# per request with its min-max, and green/epoll as the median of the per-round ratios, and
# the rate loadgen held (a machine too busy to hold it makes the round worthless: rerun).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	cat <<USAGE
usage: scripts/bench-green-rate.sh [-d SECONDS] [-r ROUNDS] [-R RATE] [CASE...]
  -d SECONDS   each measured run, after 1 s of warm-up (default 3)
  -r ROUNDS    rounds; every model runs every case once per round (default 3)
  -R RATE      requests (round trips) per second (default 20000)
  CASE...      http (c=100, GET /plaintext) and/or echo (c=1000, 64 bytes) (default both)
Models: \$MODELS (default "epoll green"), from build/bin. Server on CPU \$SERVER_CPU
(default 0), loadgen on CPU \$CLIENT_CPU (default 1).
USAGE
}

secs=3 rounds=3 rate=20000
while getopts "d:r:R:h" opt; do
	case $opt in
	d) secs=$OPTARG ;; r) rounds=$OPTARG ;; R) rate=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
for n in "$secs" "$rounds" "$rate"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench-green-rate: '$n' is not a positive whole number" >&2; exit 2; }
done
cases=("$@")
((${#cases[@]})) || cases=(http echo)
for c in "${cases[@]}"; do
	[[ $c == http || $c == echo ]] || { echo "bench-green-rate: unknown case '$c' (http or echo)" >&2; exit 2; }
done
read -ra models <<<"${MODELS:-epoll green}"
for m in "${models[@]}" loadgen; do
	[[ -x build/bin/$m ]] || { echo "bench-green-rate: build/bin/$m not found (run make)" >&2; exit 2; }
done
command -v perf >/dev/null || { echo "bench-green-rate: perf not found (apt-get install linux-perf)" >&2; exit 2; }
server_cpu=${SERVER_CPU:-0} client_cpu=${CLIENT_CPU:-1}

out=$(mktemp -d)
server_pid=
cleanup() {
	[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a model on a free port; sets server_pid and port.
start_model() {   # model proto
	local log=$out/server.log
	taskset -c "$server_cpu" build/bin/"$1" --port 0 --workers 1 --proto "$2" \
		--max-conns 100000 >"$log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on [^ ]*:\([0-9]*\).*/\1/p' "$log")
		[[ -n $port ]] && return 0
		sleep 0.05
	done
	echo "bench-green-rate: $1 did not start: $(cat "$log")" >&2
	exit 1
}

stop_model() {
	kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# One measured run: loadgen's requests and perf's counts, as one line of $out/CASE.MODEL.
# A run whose loadgen failed (on a busy machine, 1,000 connects at once can all time out) is
# said so and run once more; a second failure ends the benchmark.
run() {   # case model
	measure "$@" && return 0
	echo "  $1 $2: loadgen failed; once more" >&2
	measure "$@"
}

measure() {   # case model
	local args=(--proto http --path /plaintext -c 100)
	[[ $1 == echo ]] && args=(--proto echo --size 64 -c 1000)
	start_model "$2" "${args[1]}"
	taskset -c "$client_cpu" build/bin/loadgen --port "$port" "${args[@]}" --rate "$rate" \
		--warmup 1 -d "$secs" --json "$out/lg.json" >/dev/null &
	local lg=$!
	sleep 1   # loadgen's warm-up: connect, then settle at the rate
	perf stat -x, -o "$out/perf.csv" -p "$server_pid" \
		-e task-clock,raw_syscalls:sys_enter,syscalls:sys_enter_futex,context-switches \
		-- sleep "$secs" 2>/dev/null
	if ! wait "$lg"; then
		stop_model
		return 1
	fi
	stop_model
	python3 - "$out/lg.json" "$out/perf.csv" "$secs" >>"$out/$1.$2" <<'PY'
import json, sys
lg = json.load(open(sys.argv[1]))
# perf's window is loadgen's measured one, give or take a scheduling tick: count at its rate
reqs = lg["requests_per_s"] * float(sys.argv[3])
errs = sum(lg["errors"].values())
count = {}
for line in open(sys.argv[2]):
    f = line.strip().split(",")
    if len(f) > 2 and not line.startswith("#") and f[0] not in ("", "<not counted>"):
        count[f[2]] = float(f[0])
cpu_us = count.get("task-clock", 0) * 1000   # perf reports msec
if not reqs:
    sys.exit("bench-green-rate: loadgen completed no requests")
print(cpu_us / reqs, count.get("raw_syscalls:sys_enter", 0) / reqs,
      count.get("syscalls:sys_enter_futex", 0) / reqs, count.get("context-switches", 0) / reqs,
      lg["requests_per_s"], errs)
PY
	tail -n1 "$out/$1.$2" | awk -v m="$2" -v c="$1" \
		'{ printf "  %-5s %-6s %6.2f us/req  %5.2f syscalls/req  %5.3f futex/req  %5.3f cs/req  %7.0f req/s  %d errors\n", c, m, $1, $2, $3, $4, $5, $6 }'
}

for r in $(seq "$rounds"); do
	echo "round $r/$rounds"
	order=("${models[@]}")
	((r % 2 == 0)) && order=($(printf '%s\n' "${models[@]}" | tac))
	for c in "${cases[@]}"; do
		for m in "${order[@]}"; do
			run "$c" "$m"
		done
	done
done

echo
echo "median (min-max) over $rounds rounds, $rate req/s, --workers 1, server on CPU $server_cpu:"
python3 - "$out" "${models[0]}" "${cases[@]}" -- "${models[@]}" <<'PY'
import statistics, sys
out, base = sys.argv[1], sys.argv[2]
sep = sys.argv.index("--")
cases, models = sys.argv[3:sep], sys.argv[sep + 1:]
def rows(c, m):
    return [list(map(float, l.split())) for l in open(f"{out}/{c}.{m}")]
def fmt(xs, f):
    return f"{f.format(statistics.median(xs))} ({f.format(min(xs))}-{f.format(max(xs))})"
for c in cases:
    for m in models:
        r = rows(c, m)
        col = lambda i: [x[i] for x in r]
        line = (f"  {c:5} {m:6} CPU {fmt(col(0), '{:.2f}')} us/req   syscalls {fmt(col(1), '{:.2f}')}"
                f"   futex {fmt(col(2), '{:.3f}')}   cs {fmt(col(3), '{:.3f}')} /req"
                f"   held {fmt(col(4), '{:.0f}')} req/s")
        if m != base:
            ratio = [a[0] / b[0] for a, b in zip(r, rows(c, base))]
            line += f"   {m}/{base} CPU {fmt(ratio, '{:.2f}')}x"
        print(line)
PY
