#!/usr/bin/env bash
# The io_uring model, beyond the conformance suite that 30-conformance runs against it:
# - where io_uring is refused (build/bin/no-io-uring: a seccomp filter, as in a container),
#   the server says why in one line and exits 1, and the conformance suite reports the model
#   skipped with that reason, not failed;
# - with a provided buffer ring of two buffers (build/bin/uring-smallring), running out of
#   buffers (ENOBUFS) is the rule: a newcomer must be served while non-readers hold every
#   buffer (tests/uring/ring_exhaustion.py; 30-conformance runs the whole suite against it).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
indent() { sed 's/^/    /'; }

# refused ERRNO CAUSE: the one line, the exit code, and nothing on stdout.
refused() {
	local errno=$1 cause=$2 out err rc
	err=$(mktemp)
	out=$(timeout 20 "$BIN/no-io-uring" --errno "$errno" "$BIN/uring" --port 0 2>"$err")
	rc=$?
	if ((rc == 1)) && [[ -z $out ]] && (($(wc -l <"$err") == 1)) &&
		grep -q "^uring: unavailable: io_uring refused: .*$cause" "$err"; then
		ok "refused with $errno: exit 1, one line: $(cat "$err")"
	else
		bad "refused with $errno: expected exit 1 and one line naming $cause; got exit $rc"
		indent <"$err"
		[[ -n $out ]] && indent <<<"stdout: $out"
	fi
	rm -f "$err"
}
refused EPERM 'seccomp profile.*(EPERM)'
refused ENOSYS '(ENOSYS)'

# A bad command line is still a usage error (exit 2), refused or not.
timeout 20 "$BIN/no-io-uring" "$BIN/uring" --port x >/dev/null 2>&1
rc=$?
((rc == 2)) && ok "a bad option under refusal: exit 2" || bad "a bad option under refusal: exit $rc, expected 2"

# The conformance suite, run with io_uring refused: skipped with the reason, nothing failed.
out=$(MODELS=uring BIN=$BIN timeout 120 "$BIN/no-io-uring" bash tests/suites/30-conformance.sh 2>&1)
if grep -q '^uring: skipped: io_uring refused: .*(EPERM)$' <<<"$out" &&
	[[ $(tail -n 1 <<<"$out") == "0 passed, 0 failed" ]]; then
	ok "conformance with io_uring refused: $(grep '^uring: skipped' <<<"$out")"
else
	bad "conformance with io_uring refused: expected 'uring: skipped: ...' and 0 failed"
	indent <<<"$out" | tail -n 5
fi

# scripts/bench-uring.py, the side-by-side measurement, end to end on a tiny plan: a line per
# run, then each model's summary and the ratio (no figure is judged: that is for a quiet machine).
out=$(SERVER_CPU=0 CLIENT_CPU=0 timeout 300 python3 scripts/bench-uring.py --bin "$BIN" -d 1 -r 1 -c 20 \
	--rate 200 --strace-seconds 1 2>&1)
rc=$?
if ((rc == 0)) && grep -q '^bench-uring: skipped: uring: io_uring refused' <<<"$out"; then
	ok "bench-uring.py with io_uring refused: $(tail -n 1 <<<"$out")"
elif ((rc == 0)) && [[ $(grep -c '^round 1 ' <<<"$out") == 2 ]] &&
	grep -q '^  epoll  CPU µs per round trip' <<<"$out" &&
	grep -q '^  uring  CPU µs per round trip' <<<"$out" &&
	grep -qE "^uring's CPU per round trip (is [0-9.]+x epoll's|against epoll's: not measured)" \
		<<<"$out"; then
	ok "bench-uring.py runs both models side by side and sums them up"
else
	bad "bench-uring.py (exit $rc)"
	indent <<<"$out" | tail -n 8
fi

# A ring of two buffers (30-conformance runs the whole suite against it too): non-readers
# hold every buffer, and a newcomer is served. Skipped where io_uring is refused.
why=$(python3 -c 'import sys; sys.path.insert(0, "tests/conformance"); import fixture
print(fixture.unavailable(sys.argv[1]) or "")' "$BIN/uring-smallring")
if [[ -n $why ]]; then
	echo "skip: ring exhaustion: $why"
	echo "$pass passed, $fail failed"
	exit 0
fi
out=$(timeout 120 python3 tests/uring/ring_exhaustion.py "$BIN/uring-smallring" 2>&1)
rc=$?
while IFS= read -r line; do
	case $line in
	PASS\ *) ok "smallring: ${line#PASS }" ;;
	FAIL\ *) bad "smallring: ${line#FAIL }" ;;
	*) echo "$line" ;;
	esac
done <<<"$out"
((rc == 0)) || grep -q '^FAIL' <<<"$out" || bad "ring_exhaustion.py exited $rc: $(tail -n 1 <<<"$out")"

echo "$pass passed, $fail failed"
