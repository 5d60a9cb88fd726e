#!/usr/bin/env bash
# Unit tests of the benchmark runner and report (tests/bench/test_bench.py, and
# test_remote.py for the runs across hosts; Python unittest):
# each test case is one case here.
set -u
cd "$(dirname "$0")/../.."
if [[ -n ${SAN:-} ]]; then   # Python only: nothing a sanitizer could see
	echo "skip bench-units: SAN=$SAN (Python only; make test runs it)"
	echo "0 passed, 0 failed"
	exit 0
fi
out=$(python3 -m unittest -v tests/bench/test_bench.py tests/bench/test_remote.py 2>&1)
rc=$?
# unittest -v says "test_name (module.Class.test_name) ... ok|FAIL|ERROR" per test.
pass=$(grep -c ' \.\.\. ok$' <<<"$out")
fail=$(grep -cE ' \.\.\. (FAIL|ERROR)$' <<<"$out")
grep -E ' \.\.\. ' <<<"$out" | sed -E 's/^(test_[a-z_0-9]+) \(.*\) \.\.\. (ok|FAIL|ERROR)$/\2 \1/'
if ((rc != 0)); then
	grep -vE ' \.\.\. ok$' <<<"$out" | tail -n 30
	((fail == 0)) && fail=1   # a crash before any test ran
fi
echo "$pass passed, $fail failed"
