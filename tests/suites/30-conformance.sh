#!/usr/bin/env bash
# The black-box conformance suite (tests/conformance/) against every server model, both
# protocols, and against the variants of a model that change how it works inside: epoll with
# two workers, uring with a provided buffer ring of two buffers (ENOBUFS all the time). Each
# one's cases are printed as "PASS NAME/group/case" or "FAIL ...: why", then "NAME: N passed,
# N failed"; the last line sums them all. A model the machine cannot run (uring where
# io_uring is refused) prints "NAME: skipped: WHY" and counts neither way.
# Env (set by make): MODELS, the models to check (default: every servers/*.c); BIN, where
# their binaries are (default build/bin).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
MODELS=${MODELS:-$(basename -s .c servers/*.c)}
total_pass=0 total_fail=0

# variants MODEL: one line per variant, "NAME BINARY [SERVER-OPTION]...".
variants() {
	case $1 in
	epoll) echo "epoll--workers-2 epoll --workers 2" ;;
	uring) echo "uring-smallring uring-smallring" ;;
	esac
}

# check NAME BINARY [SERVER-OPTION]...: the whole suite against one server.
check() {
	local name=$1 binary=$2 out last skip p f
	shift 2
	out=$(mktemp)
	python3 tests/conformance/conformance.py --bin "$BIN/$binary" --proto both \
		--server-args "$*" 2>&1 |
		tee "$out" | sed -E -e "s#^(PASS|FAIL) #\1 $name/#" -e '/^[0-9]+ passed, [0-9]+ failed$/d'
	last=$(tail -n 1 "$out")
	skip=$(grep -m1 '^skip: ' "$out")
	rm -f "$out"
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	else
		p=0 f=1
		echo "FAIL $name: the conformance suite ended without a result line"
	fi
	if [[ -n $skip ]]; then
		echo "$name: skipped: ${skip#skip: $binary: }"
	else
		echo "$name: $p passed, $f failed"
	fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
}

for model in $MODELS; do
	check "$model" "$model"
	while read -r name binary args; do
		[[ -n $name ]] && check "$name" "$binary" $args
	done <<<"$(variants "$model")"
done
echo "${total_pass} passed, ${total_fail} failed"
