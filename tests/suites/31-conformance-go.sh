#!/usr/bin/env bash
# The conformance suite against the Go reference server (build/bin/ref-go, mk/refs.mk): every
# case but those tests/conformance/README.md lists as known failures of net/http (reported as
# KNOWN; one that comes to pass fails). Without `go`, one line saying so, and nothing is run.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
if [[ -n ${SAN:-} ]]; then   # the Go binary is the same in every build: checked once, unsanitized
	echo "skip go: SAN=$SAN (ref-go is not a sanitizer build)"
	echo "0 passed, 0 failed"
	exit 0
fi
if [[ ! -x $BIN/ref-go ]]; then
	if [[ -n ${CI:-} ]]; then
		echo "FAIL go: $BIN/ref-go is not built (CI installs golang-go)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "skip go: $BIN/ref-go is not built ('go' is not installed: apt-get install golang-go)"
	echo "0 passed, 0 failed"
	exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
python3 tests/conformance/conformance.py --bin "$BIN/ref-go" --proto both --known-failures go \
	2>&1 | tee "$out" | sed -E -e "s#^(PASS|FAIL|KNOWN) #\1 go/#"
rc=${PIPESTATUS[0]}
if ! [[ $(tail -n 1 "$out") =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
	echo "FAIL go: the conformance suite ended without a result line"
	echo "0 passed, 1 failed"
	exit 1
fi
exit "$rc"
