#!/usr/bin/env bash
# The unit tests again, under Valgrind's memcheck: any invalid access, use of an undefined
# value or leak fails the binary. Valgrind cannot run sanitized binaries, so under
# `make test SAN=...` the suite builds plain ones for itself, in build/valgrind.
set -u
cd "$(dirname "$0")/../.."
if ! command -v valgrind >/dev/null; then
	echo "FAIL valgrind is not installed (apt-get install valgrind)"
	echo "0 passed, 1 failed"
	exit 1
fi
if [[ -n ${SAN:-} ]]; then
	export BUILD=build/valgrind
	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s BUILD="$BUILD" SAN= unit >/dev/null; then
		echo "FAIL could not build the unit tests for valgrind"
		echo "0 passed, 1 failed"
		exit 1
	fi
fi
UNIT_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all" \
	exec bash tests/suites/10-unit.sh
