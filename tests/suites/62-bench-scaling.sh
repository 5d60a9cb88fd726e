#!/usr/bin/env bash
# The scaling scenario and skipped models in `make bench`, end to end on scaled-down plans:
# - on a machine of fewer than 4 cores (here: the runner pinned to 2), scaling is skipped with
#   one line, in the output and in the report, and the other scenarios run;
# - with --scaling-cores 1,2 (the server on CPUs 0-1, shared with the generator), the plan
#   runs: epoll on 1 core, then 2 workers on 2 cores, for /plaintext and echo, the connections
#   each worker got recorded; a one-thread model sits it out (n/a); four plots;
# - with io_uring refused (build/bin/no-io-uring), uring is skipped with the reason, in the
#   output and in the report, and the other model runs.
# Never a timing: only structure, counts and notes.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
check() {   # check NAME WHY-IF-FALSE COMMAND...
	local name=$1 why=$2
	shift 2
	if "$@"; then ok "$name"; else bad "$name" "$why"; fi
}
# One round: these cases check the plan's rows, not the verdicts that rounds are for.
bench() { timeout 300 python3 -m harness.bench --bin "$BIN" --refs "" --quick --duration 1 \
	--warmup 0 --reps 1 "$@"; }
# rows FILE: "model point x server_cpus per-worker valid" per run of runs.csv
rows() {
	python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(r["model"], r["scenario"], r["point"], r["x"], r["server_cpus"],
          r["server_conns_per_worker"].replace(" ", "+") or "-")' "$1"
}
two=$(python3 -c 'import os; print(",".join(map(str, sorted(os.sched_getaffinity(0))[:2])))')

# --- fewer than 4 cores: skipped with one line -----------------------------------------------
r1=$tmp/r1
taskset -c "$two" python3 -m harness.bench --bin "$BIN" --refs "" --quick --duration 1 --warmup 0 \
	--reps 1 --models epoll --scenarios "scaling idle" --idle-conns 10 --out "$r1" >"$tmp/r1.log" 2>&1
rc=$?
line="skipping scaling: this machine has 2 cores, fewer than 4"
check "skip-exit" "exit $rc: $(tail -n 2 "$tmp/r1.log")" test "$rc" = 0
check "skip-said" "no '$line' in the output" grep -q "$line" "$tmp/r1.log"
check "skip-one-line" "the skip is not said in exactly one line" \
	test "$(grep -c 'scaling' "$tmp/r1.log")" = 1
check "skip-report" "report.md does not say scaling was skipped" \
	grep -q '^- \*\*Skipped\*\*: scaling: this machine has 2 cores, fewer than 4' "$r1/report.md"
check "skip-others-run" "no idle run: $(rows "$r1/runs.csv" 2>&1 | tr '\n' ' ')" \
	test "$(rows "$r1/runs.csv" | cut -d' ' -f1-3)" = "epoll idle c=10"

# --- a scaled-down plan: 1 and 2 cores ---------------------------------------------------------
if (($(nproc) >= 2)); then
	r2=$tmp/r2
	bench --server-cpus "$two" --client-cpus "$two" --models "epoll select" --scenarios scaling \
		--scaling-cores 1,2 --out "$r2" >"$tmp/r2.log" 2>&1
	rc=$?
	check "plan-exit" "exit $rc: $(tail -n 2 "$tmp/r2.log")" test "$rc" = 0
	got=$(rows "$r2/runs.csv" | cut -d' ' -f1-5 | sort | tr '\n' ';')
	one_cpu=${two%,*}
	two_cpus=$(python3 -c 'import sys; from harness.bench import cpus
print(cpus.to_text(cpus.parse(sys.argv[1])))' "$two")
	want="epoll scaling echo/1 1 $one_cpu;epoll scaling echo/2 2 $two_cpus;"
	want+="epoll scaling http/1 1 $one_cpu;epoll scaling http/2 2 $two_cpus;"
	check "plan-rows" "rows: $got, expected $want" test "$got" = "$want"
	# Two workers on two cores, each with some of the connections; one worker: no count.
	split=$(rows "$r2/runs.csv" | awk '$3 ~ /\/2$/ {print $6}')
	check "plan-per-worker" "connections per worker at 2 cores: $split" \
		test "$(grep -cE '^[1-9][0-9]*\+[1-9][0-9]*$' <<<"$split")" = 2
	check "plan-one-worker" "a count at 1 core" \
		test "$(rows "$r2/runs.csv" | awk '$3 ~ /\/1$/ {print $6}' | sort -u)" = "-"
	check "plan-n/a" "no note that select sits out scaling" \
		grep -q 'select in scaling: one thread: it cannot use more cores' "$r2/env.txt"
	check "plan-plots" "plots: $(cut -f1 "$r2/plots/index.txt" 2>/dev/null | tr '\n' ' ')" \
		test "$(grep -c '^scaling_' "$r2/plots/index.txt" 2>/dev/null)" = 4
	check "plan-report" "report.md has no scaling section" grep -q 'Scaling' "$r2/report.md"
fi

# --- io_uring refused: uring skipped with the reason ---------------------------------------
if [[ -x $BIN/uring && -x $BIN/no-io-uring ]]; then
	r3=$tmp/r3
	"$BIN/no-io-uring" timeout 300 python3 -m harness.bench --bin "$BIN" --refs "" --quick \
		--duration 1 --warmup 0 --reps 1 --models "uring epoll" --scenarios idle --idle-conns 10 \
		--out "$r3" >"$tmp/r3.log" 2>&1
	rc=$?
	check "uring-skip-exit" "exit $rc: $(tail -n 2 "$tmp/r3.log")" test "$rc" = 0
	check "uring-skip-said" "the output does not say why uring is skipped" \
		grep -q 'skipping uring: io_uring refused: .*(EPERM)' "$tmp/r3.log"
	check "uring-skip-report" "report.md does not say why uring is skipped" \
		grep -q '^- \*\*Skipped\*\*: uring: io_uring refused: .*(EPERM)' "$r3/report.md"
	check "uring-skip-others" "rows: $(rows "$r3/runs.csv" | tr '\n' ' ')" \
		test "$(rows "$r3/runs.csv" | cut -d' ' -f1)" = "epoll"
fi

echo "$pass passed, $fail failed"
