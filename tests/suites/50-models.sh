#!/usr/bin/env bash
# What is particular to some models, beyond the conformance suite: tests/models/cases_MODEL.py
# for each model in MODELS that has such a file (prefork's processes, pool's hand-off, poll's
# many connections). Prints one line per case, last "N passed, N failed".
# Env (set by make): MODELS, BIN.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
MODELS=${MODELS:-$(basename -s .c servers/*.c)}
args=()
for model in $MODELS; do
	[[ -f tests/models/cases_$model.py ]] && args+=(--model "$model")
done
if ((${#args[@]} == 0)); then
	echo "0 passed, 0 failed"
	exit 0
fi
exec python3 tests/models/check_models.py --bin-dir "$BIN" "${args[@]}"
