#!/usr/bin/env bash
# Runs every test suite (tests/suites/*.sh, in name order) and sums their results.
# Each suite prints its cases and ends with a line "N passed, N failed"; a suite that ends
# otherwise (a crash, a missing tool) counts as one failure, so nothing fails silently.
# Usage: tests/run.sh [SUITE-NAME-PATTERN]      (env: BUILD, BIN, MODELS, SAN, set by make)
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
total_pass=0 total_fail=0
# Suites run in the order of their numbers, so no two may share one: their order would be
# the accident of their names. Checked on a whole run.
if [[ -z $pattern ]]; then
	for n in $(ls tests/suites/*.sh | sed 's|.*/||; s|-.*||' | sort | uniq -d); do
		echo "FAIL suites: more than one suite is numbered $n:" tests/suites/"$n"-*.sh
		total_fail=$((total_fail + 1))
	done
fi
for suite in tests/suites/*.sh; do
	name=$(basename "$suite" .sh)
	[[ -n $pattern && $name != *$pattern* ]] && continue
	printf '=== %s\n' "$name"
	t0=$SECONDS
	out=$(mktemp)
	bash "$suite" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	last=$(tail -n 1 "$out")
	rm -f "$out"
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
		if ((rc != 0 && f == 0)); then f=1; echo "FAIL $name: exited $rc"; fi
	else
		p=0 f=1
		echo "FAIL $name: ended without a result line (exit $rc)"
	fi
	printf '=== %s: %d passed, %d failed (%d s)\n' "$name" "$p" "$f" $((SECONDS - t0))
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
done
echo "${total_pass} passed, ${total_fail} failed"
((total_fail == 0))
