# Shared by the green suites in tests/suites/4*-green-*.sh (sourced).
# Counts cases and prints the result line run.sh expects.
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL $1"
	fail=$((fail + 1))
}
finish() {
	echo "$pass passed, $fail failed"
	exit 0
}
indent() { sed 's/^/    /'; }

# run_cases PREFIX RUNNER... : every case of a test program (green-test-*), one process each,
# so a crash fails one case, not the suite. RUNNER is the program, possibly behind qemu or
# valgrind.
run_cases() {
	local prefix=$1
	shift
	local cases c out rc
	cases=$("$@" --list 2>&1) || { bad "$prefix: cannot list cases: $cases"; return; }
	for c in $cases; do
		out=$(timeout "${CASE_TIMEOUT:-300}" "$@" "$c" 2>&1)
		rc=$?
		if ((rc == 0)) && grep -qx "ok $c" <<<"$out"; then
			ok "$prefix/$c"
			grep -v -x "ok $c" <<<"$out" | indent
		else
			bad "$prefix/$c (exit $rc)"
			indent <<<"$out"
		fi
	done
}

# check_overflow RUNNER...: the overflow program must die with the report naming the thread.
check_overflow() {
	local out rc
	out=$(timeout 120 "$@" 2>&1)
	rc=$?
	if grep -q 'stack overflow in green thread #[0-9]* (recurser)' <<<"$out" && ((rc != 0)) &&
		! grep -q 'went unnoticed' <<<"$out"; then
		ok "stack overflow ends in a report naming the green thread"
		grep -m1 'stack overflow' <<<"$out" | indent
	else
		bad "stack overflow ends in a report naming the green thread (exit $rc)"
		indent <<<"$out"
	fi
}
