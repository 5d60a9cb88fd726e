#!/usr/bin/env bash
# The portable fallback switch (switch_ucontext.c, for targets without an assembly one) must
# keep working: build the runtime tests with GREEN_SWITCH=ucontext and run them.
set -u
cd "$(dirname "$0")/../.."
. tests/green/suite-lib.sh
if [[ -n ${SAN:-} ]]; then   # built with SAN= below: the same run whatever SAN is
	echo "skip ucontext: SAN=$SAN (the suite builds without a sanitizer; make test runs it)"
	finish
fi

build=build/ucontext
if ! out=$(make --no-print-directory GREEN_SWITCH=ucontext BUILD=$build SAN= MODELS= \
	$build/bin/green-test-switch $build/bin/green-test-runtime $build/bin/green-test-netpoll 2>&1); then
	bad "make GREEN_SWITCH=ucontext"
	indent <<<"$out" | tail -n 30
	finish
fi
ok "make GREEN_SWITCH=ucontext"
export GREEN_TEST_SCALE=0.2
run_cases ucontext/switch "$build/bin/green-test-switch"
run_cases ucontext/runtime "$build/bin/green-test-runtime"
run_cases ucontext/netpoll "$build/bin/green-test-netpoll"
finish
