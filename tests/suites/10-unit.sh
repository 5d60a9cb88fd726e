#!/usr/bin/env bash
# Unit tests of the protocol core: runs the binaries mk/unit.mk builds ($UNIT_TESTS, set by
# `make test`; run by hand, every $BUILD/tests/test_*) and sums the "N passed, N failed" line
# each ends with. A binary that ends otherwise (it crashed, a sanitizer stopped it, it is
# missing) counts as one failure. Set UNIT_WRAPPER to run each under a tool.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
wrapper=${UNIT_WRAPPER:-}

bins=()
for name in ${UNIT_TESTS:-}; do
	bins+=("$BUILD/tests/$name")
done
if ((${#bins[@]} == 0)); then
	shopt -s nullglob
	bins=("$BUILD"/tests/test_*)
fi
if ((${#bins[@]} == 0)); then
	echo "FAIL no unit tests in $BUILD/tests: run make first"
	echo "0 passed, 1 failed"
	exit 1
fi

total_pass=0 total_fail=0
for bin in "${bins[@]}"; do
	name=$(basename "$bin")
	out=$($wrapper "$bin" 2>&1)
	rc=$?
	last=$(tail -n 1 <<<"$out")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
		((rc != 0 && f == 0)) && f=1
	else
		p=0 f=1
	fi
	if ((f == 0 && rc == 0)); then
		echo "ok   $name: $p checks"
	else
		# Its own report, minus the passing noise: failures, sanitizer or tool output.
		sed -e '$d' <<<"$out" | head -n 60
		echo "FAIL $name: $p passed, $f failed (exit $rc)"
	fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
done
echo "${total_pass} passed, ${total_fail} failed"
((total_fail == 0))
