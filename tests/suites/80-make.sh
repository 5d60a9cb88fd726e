#!/usr/bin/env bash
# `make help` is the list of what a user can type: it must work without building anything,
# name every .PHONY target of the Makefile and mk/*.mk (make's own database says which those
# are, so a target added later without its help line fails here), and name every variable
# the targets read that a user sets on the command line.
set -u
cd "$(dirname "$0")/../.."
unset MAKEFLAGS MFLAGS MAKELEVEL   # our own make, not a sub-make of `make test`
if [[ -n ${SAN:-} ]]; then   # make's own targets and help: the same whatever SAN is
	echo "skip make: SAN=$SAN (the Makefile's help is the same; make test runs it)"
	echo "0 passed, 0 failed"
	exit 0
fi
pass=0 fail=0
ok() { echo "PASS make/$1"; pass=$((pass + 1)); }
bad() { echo "FAIL make/$1: $2"; fail=$((fail + 1)); }

help=$(make --no-print-directory help 2>&1)
rc=$?
if ((rc == 0)) && [[ $(head -n 1 <<<"$help") == usage:* ]]; then
	ok help-runs
else
	bad help-runs "exit $rc, first line '$(head -n 1 <<<"$help")'"
fi

# The targets: `make -pq` prints make's database, whose .PHONY line lists them all.
phony=$(make --no-print-directory -pq 2>/dev/null | sed -n 's/^\.PHONY: //p' | tr ' ' '\n' | sort -u)
if [[ -z $phony ]]; then
	bad every-target "make -pq printed no .PHONY line"
else
	missing=""
	# Phony targets that only other targets use (mk/refs.mk's note that go is missing).
	internal=" go-missing "
	for t in $phony; do
		[[ $internal == *" $t "* ]] && continue
		grep -qE "(^|, )make $t( |,|$)" <<<"$help" || missing+=" $t"
	done
	[[ -z $missing ]] && ok every-target || bad every-target "not in make help:$missing"
fi

missing=""
for v in CC SAN BUILD MODELS SUITE MODEL CHECK_ARGS FUZZ_SECONDS QUICK FULL SCENARIOS REFS \
	SERVER_CPUS CLIENT_CPUS BENCH_ARGS RESULTS GREEN_IDLE_CONNS CROSS_CC GREEN_SWITCH \
	SERVER_HOST CLIENT_HOSTS SERVER_ADDR SSH_CONFIG REMOTE_BUILD LINK; do
	grep -qE "(^| )$v=" <<<"$help" || missing+=" $v"
done
[[ -z $missing ]] && ok every-variable || bad every-variable "not in make help:$missing"

# One line each: no line of the list wraps past a terminal's width.
long=$(awk 'length > 100' <<<"$help")
[[ -z $long ]] && ok one-line-each || bad one-line-each "longer than 100 columns: $(head -n 1 <<<"$long")"

echo "$pass passed, $fail failed"
