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
vg=(valgrind --quiet --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite)
run_cases valgrind/switch "${vg[@]}" "$BIN/green-test-switch"
run_cases valgrind/runtime "${vg[@]}" "$BIN/green-test-runtime"
run_cases valgrind/netpoll "${vg[@]}" "$BIN/green-test-netpoll"
finish
