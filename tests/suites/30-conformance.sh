#!/usr/bin/env bash
# The black-box conformance suite (tests/conformance/) against every server model, both
# protocols. Each model's cases are printed as "PASS MODEL/group/case" or "FAIL ...: why",
# then "MODEL: N passed, N failed"; the last line sums them all. A model the machine cannot
# run (uring where io_uring is refused) prints "MODEL: skipped: WHY" and counts neither way.
# Env (set by make): MODELS, the models to check (default: every servers/*.c); BIN, where
# their binaries are (default build/bin).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
MODELS=${MODELS:-$(basename -s .c servers/*.c)}
total_pass=0 total_fail=0
for model in $MODELS; do
	out=$(mktemp)
	python3 tests/conformance/conformance.py --bin "$BIN/$model" --proto both 2>&1 |
		tee "$out" | sed -E -e "s#^(PASS|FAIL) #\1 $model/#" -e '/^[0-9]+ passed, [0-9]+ failed$/d'
	last=$(tail -n 1 "$out")
	skip=$(grep -m1 '^skip: ' "$out")
	rm -f "$out"
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	else
		p=0 f=1
		echo "FAIL $model: the conformance suite ended without a result line"
	fi
	if [[ -n $skip ]]; then
		echo "$model: skipped: ${skip#skip: $model: }"
	else
		echo "$model: $p passed, $f failed"
	fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
done
echo "${total_pass} passed, ${total_fail} failed"
