#!/usr/bin/env bash
# Runs every test suite (tests/suites/*.sh) and sums their results.
# Each suite prints its cases and ends with a line "N passed, N failed"; a suite that ends
# otherwise (a crash, a missing tool) counts as one failure, so nothing fails silently.
# Usage: tests/run.sh ["PATTERN..."]   the suites whose name contains one of the words
#                                      (env: BUILD, BIN, MODELS, SAN, set by make;
#                                       TEST_JOBS, how many suites run at once)
#
# The suites spend most of their time waiting (for servers, time-outs, clients), not
# computing, so TEST_JOBS of them (default 4) run at once. Each one's output is kept apart
# and printed whole, in the order of their numbers, as soon as it and those before it have
# ended: the log reads as if they had run one after another. Running them side by side is
# also a test: every suite must pass on a loaded machine.
#
# The whole script is one block, read before it runs: a file changed under a run (a git
# checkout, an edit) cannot change what the run does next.
{
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
jobs=${TEST_JOBS:-4}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "tests/run.sh: TEST_JOBS must be a whole number from 1" >&2; exit 2; }
total_pass=0 total_fail=0
# Suites are printed in the order of their numbers, so no two may share one: their order
# would be the accident of their names. Checked on a whole run.
if [[ -z $pattern ]]; then
	for n in $(ls tests/suites/*.sh | sed 's|.*/||; s|-.*||' | sort | uniq -d); do
		echo "FAIL suites: more than one suite is numbered $n:" tests/suites/"$n"-*.sh
		total_fail=$((total_fail + 1))
	done
fi
suites=()
for suite in tests/suites/*.sh; do
	name=$(basename "$suite" .sh)
	[[ -z $pattern ]] && { suites+=("$suite"); continue; }
	for word in $pattern; do
		[[ $name == *"$word"* ]] && { suites+=("$suite"); break; }
	done
done
# The longest suites start first, so that the run does not end waiting for one slow suite
# started last: their seconds in the last run are kept in $times (a suite not timed yet
# counts as the longest, then higher numbers first, which are the slower ones).
times=${BUILD:-build}/test-times
order=$(for i in "${!suites[@]}"; do
	name=$(basename "${suites[$i]}" .sh)
	t=$(awk -v n="$name" '$1 == n { print $2 }' "$times" 2>/dev/null)
	echo "${t:-999999} $i"
done | sort -k1,1nr -k2,2nr | cut -d' ' -f2)

out=$(mktemp -d)
launcher=
# kill_tree PID: the process and everything it started (an interrupted run leaves nothing).
kill_tree() {
	local child
	for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
	kill "$1" 2>/dev/null
}
cleanup() {
	[[ -n $launcher ]] && kill_tree "$launcher"
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_all: every suite, at most $jobs at once; suite i writes $out/i.log, then $out/i.rc
# (its exit code) and $out/i.time (its seconds) when it ends.
start_all() {
	local i running=0
	for i in $order; do
		if ((running >= jobs)); then
			wait -n
			running=$((running - 1))
		fi
		(
			t0=$SECONDS
			bash "${suites[$i]}" >"$out/$i.log" 2>&1
			rc=$?
			echo $((SECONDS - t0)) >"$out/$i.time"
			echo "$rc" >"$out/$i.rc"
		) &
		running=$((running + 1))
	done
	wait
}
start_all &
launcher=$!

for i in "${!suites[@]}"; do
	name=$(basename "${suites[$i]}" .sh)
	until [[ -s $out/$i.rc ]]; do sleep 0.2; done
	printf '=== %s\n' "$name"
	cat "$out/$i.log"
	rc=$(<"$out/$i.rc")
	last=$(tail -n 1 "$out/$i.log")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
		if ((rc != 0 && f == 0)); then f=1; echo "FAIL $name: exited $rc"; fi
	else
		p=0 f=1
		echo "FAIL $name: ended without a result line (exit $rc)"
	fi
	printf '=== %s: %d passed, %d failed (%d s)\n' "$name" "$p" "$f" "$(<"$out/$i.time")"
	echo "$name $(<"$out/$i.time")" >>"$out/times"
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
done
wait "$launcher" 2>/dev/null
launcher=
# The times of this run replace those of the suites it ran; the others' stay.
if [[ -d ${BUILD:-build} && -s $out/times ]]; then
	{ awk 'NR == FNR { ran[$1] = 1; next } !($1 in ran)' "$out/times" "$times" 2>/dev/null
	  cat "$out/times"; } | sort >"$out/times.new" && mv "$out/times.new" "$times"
fi
echo "${total_pass} passed, ${total_fail} failed"
((total_fail == 0))
exit
}
