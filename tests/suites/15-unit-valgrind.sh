#!/usr/bin/env bash
# The unit tests again, under Valgrind's memcheck: any invalid access, use of an undefined
# value or leak fails the binary. Valgrind cannot run sanitized binaries, and plain ones are
# the same whatever SAN is: under `make test SAN=...` the suite skips (plain `make test` runs it).
set -u
cd "$(dirname "$0")/../.."
if [[ -n ${SAN:-} ]]; then
	echo "skip unit-valgrind: SAN=$SAN (Valgrind runs the plain build, in make test)"
	echo "0 passed, 0 failed"
	exit 0
fi
if ! command -v valgrind >/dev/null; then
	echo "FAIL valgrind is not installed (apt-get install valgrind)"
	echo "0 passed, 1 failed"
	exit 1
fi
UNIT_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all" \
	exec bash tests/suites/10-unit.sh
