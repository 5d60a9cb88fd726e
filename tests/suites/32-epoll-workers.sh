#!/usr/bin/env bash
# epoll --workers N: N event loops, each with its own epoll set and SO_REUSEPORT listener.
# - the whole conformance suite with --workers 2 (every case's server gets it, before the
#   case's own options): --max-conns is one limit over both workers, a stop stops both;
# - connections land on both workers, and the count at the stop adds up; --workers 1 is one
#   thread and one listening socket, today's model (tests/workers/spread.py).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
indent() { sed 's/^/    /'; }

out=$(timeout 900 python3 tests/conformance/conformance.py --bin "$BIN/epoll" --proto both \
	--server-args "--workers 2" 2>&1)
last=$(tail -n 1 <<<"$out")
if [[ $last =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] && ((BASH_REMATCH[1] > 0)); then
	ok "conformance, epoll --workers 2: $last"
else
	bad "conformance, epoll --workers 2: $last"
	grep '^FAIL' <<<"$out" | indent
fi

out=$(timeout 120 python3 tests/workers/spread.py "$BIN/epoll" 2>&1)
rc=$?
while IFS= read -r line; do
	case $line in
	PASS\ *) ok "${line#PASS }" ;;
	FAIL\ *) bad "${line#FAIL }" ;;
	*) echo "$line" ;;
	esac
done <<<"$out"
((rc == 0)) || grep -q '^FAIL' <<<"$out" || bad "spread.py exited $rc: $(tail -n 1 <<<"$out")"

echo "$pass passed, $fail failed"
