#!/usr/bin/env bash
# The runtime's tests under Valgrind (memcheck): the stacks are registered with
# VALGRIND_STACK_REGISTER, so switching between them must not look like wild stack accesses,
# and nothing may leak. Valgrind cannot run sanitizer builds: under SAN the suite skips.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
. tests/green/suite-lib.sh

if [[ -n ${SAN:-} ]]; then
	echo "skip: Valgrind cannot run a sanitizer build (SAN=$SAN)"
	finish
fi
if ! command -v valgrind >/dev/null; then
	bad "valgrind installed (apt-get install valgrind)"
	finish
fi
export GREEN_TEST_SCALE=0.02     # Valgrind runs one thread at a time, slowly
export GREEN_TEST_SPIN_MS=1000   # the retake comes ~130 ms into a computation: leave time after it
# --fair-sched=yes: Valgrind's default lock between threads is unfair, and a thread computing
# without a blocking call can take it back every time it lets go, so the monitor thread never
# ran during the 200 ms computation it must retake (long-computation-retaken failed 1 run in 3).
vg=(valgrind --quiet --fair-sched=yes --error-exitcode=97 --leak-check=full
	--errors-for-leak-kinds=definite)
run_cases valgrind/switch "${vg[@]}" "$BIN/green-test-switch"
run_cases valgrind/runtime "${vg[@]}" "$BIN/green-test-runtime"
run_cases valgrind/netpoll "${vg[@]}" "$BIN/green-test-netpoll"
finish
