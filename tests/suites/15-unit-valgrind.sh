#!/usr/bin/env bash
# The unit tests again, under Valgrind's memcheck: any invalid access, use of an undefined
# value or leak fails the binary. Valgrind can run neither sanitized binaries nor read the
# DWARF 5 that clang 14 writes, so it gets a build of its own: plain, with DWARF 4, in
# build/valgrind (with whichever CC the rest was built).
set -u
cd "$(dirname "$0")/../.."
if ! command -v valgrind >/dev/null; then
	echo "FAIL valgrind is not installed (apt-get install valgrind)"
	echo "0 passed, 1 failed"
	exit 1
fi
export BUILD=build/valgrind
if ! CFLAGS="-O2 -g -gdwarf-4" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -s BUILD="$BUILD" SAN= unit >/dev/null; then
	echo "FAIL could not build the unit tests for valgrind"
	echo "0 passed, 1 failed"
	exit 1
fi
UNIT_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all" \
	exec bash tests/suites/10-unit.sh
