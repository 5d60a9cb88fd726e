#!/usr/bin/env bash
# The runtime's tests cross-compiled for aarch64 (switch_aarch64.S) and run under qemu-aarch64.
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user. Where they are missing the
# suite says so and skips, unless the cross tools are expected: under CI (CI=true; .ci/run
# installs them) or with GREEN_CROSS=1, a missing tool is a failure, not a silent skip.
set -u
cd "$(dirname "$0")/../.."
. tests/green/suite-lib.sh

expected=0
[[ -n ${CI:-} || ${GREEN_CROSS:-} == 1 ]] && expected=1
missing=
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=" aarch64-linux-gnu-gcc"
command -v qemu-aarch64 >/dev/null || missing+=" qemu-aarch64"
[[ -d /usr/aarch64-linux-gnu/lib ]] || missing+=" libc6-dev-arm64-cross"
if [[ -n $missing ]]; then
	if ((expected)); then
		bad "aarch64 cross tools present (missing:$missing)"
	else
		echo "skip: no aarch64 cross tools (missing:$missing); GREEN_CROSS=1 makes this a failure"
	fi
	finish
fi

if ! out=$(make --no-print-directory cross-aarch64 2>&1); then
	bad "make cross-aarch64"
	indent <<<"$out" | tail -n 30
	finish
fi
ok "make cross-aarch64 (switch_aarch64.S and the runtime, warning-free)"
qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
bin=build/aarch64/bin
file "$bin/green-test-switch" 2>/dev/null | grep -q aarch64 && ok "the tests are aarch64 binaries" ||
	bad "the tests are aarch64 binaries"
export GREEN_TEST_SCALE=0.05     # qemu is slow; the counts shrink, the cases stay
run_cases aarch64/switch "${qemu[@]}" "$bin/green-test-switch"
run_cases aarch64/runtime "${qemu[@]}" "$bin/green-test-runtime"
run_cases aarch64/netpoll "${qemu[@]}" "$bin/green-test-netpoll"
check_overflow "${qemu[@]}" "$bin/green-test-overflow"

# The server itself, on aarch64: a request, a sleep, a block, and a clean stop.
name="aarch64 server: /, /sleep, /block, then SIGTERM ends it with 0"
log=$(mktemp)
"${qemu[@]}" "$bin/green" --port 0 --workers 2 >"$log" 2>&1 &
qpid=$!
port=
for ((i = 0; i < 200; i++)); do
	[[ -n $port ]] && break
	sleep 0.05
	port=$(sed -n 's/^listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log" 2>/dev/null)
done
answers=
if [[ -n $port ]]; then
	answers=$(curl -s -m 20 "http://127.0.0.1:$port/"; curl -s -m 20 "http://127.0.0.1:$port/sleep?ms=50"
	          curl -s -m 20 "http://127.0.0.1:$port/block?ms=50")
fi
kill -TERM "$qpid" 2>/dev/null
for ((i = 0; i < 200; i++)); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.05; done
kill -9 "$qpid" 2>/dev/null
wait "$qpid"
rc=$?
if [[ $answers == *"Hello, World!"*"slept 50 ms"*"blocked 50 ms"* ]] && ((rc == 0)); then
	ok "$name"
else
	bad "$name (exit $rc)"
	indent <<<"$answers"
	indent <"$log"
fi
rm -f "$log"
finish
