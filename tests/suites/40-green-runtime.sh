#!/usr/bin/env bash
# The green-thread runtime's own tests (tests/green/): every callee-saved register across
# switches; spawn/sleep/exit of 100,000 green threads; stealing; wake-ups from many workers;
# close while waiting; I/O deadlines; interrupts; blocking calls with 1 and 2 workers; TCP over
# loopback; the stack-overflow report; and wait-slot races forced at their exact point
# (test_netpoll.c). Under `make test SAN=1` and `SAN=thread` the same programs run sanitized.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
. tests/green/suite-lib.sh

# Sanitized builds are several times slower, and this machine may be shared: the big counts
# shrink, the cases stay. TSan most: each green thread's TSan fiber costs it about 5 ms of
# zeroing on a loaded machine, so 20,000 of them came within seconds of the 120 s watchdog.
case ${SAN:-} in
'') ;;
thread) export GREEN_TEST_SCALE=${GREEN_TEST_SCALE:-0.05} ;;
*) export GREEN_TEST_SCALE=${GREEN_TEST_SCALE:-0.2} ;;
esac

run_cases switch "$BIN/green-test-switch"
run_cases runtime "$BIN/green-test-runtime"
run_cases netpoll "$BIN/green-test-netpoll"
check_overflow "$BIN/green-test-overflow"
finish
