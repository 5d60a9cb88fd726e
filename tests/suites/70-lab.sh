#!/usr/bin/env bash
# The course-lab kit end to end, as docs/lab.md has a student use it, on a scratch copy of
# the source tree (the real one is untouched):
#   - the skeleton, copied as is, builds as a model that is not in MODELS and fails the
#     checks it should fail (every group that needs an answer), fast and with a reason,
#     while the command-line and stop checks pass;
#   - with TODO 2 done it is the iterative server the handout describes: basic and http pass;
#   - the worked example (the skeleton filled in with poll()) passes the whole suite, and the
#     score line is the last line a teacher collects;
#   - one name added to MODELS is all make, make test and make bench need;
#   - make bench runs the student's model beside a reference one and reports both;
#   - a model built on the green runtime (part 5) needs nothing but its file;
#   - the handout, the skeleton and the suite agree on the groups and the TODOs.
# Env (from make test): CC, SAN, BIN. Prints one line per case, last "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
# The makes below are a student's, in another tree: not sub-makes of `make test` (whose
# MAKEFLAGS would hand them its variables and its job server). What they share with this
# make test they are given on their command lines.
unset MAKEFLAGS MFLAGS MAKELEVEL
passed=0 failed=0
pass() { echo "PASS lab/$1"; passed=$((passed + 1)); }
fail() { local name=$1; shift; echo "FAIL lab/$name: $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; exit $((failed > 0)); }
oneline() { tr '\n' ' ' | cut -c1-300; }

scratch=$(mktemp -d /tmp/c10k-lab.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM   # make check and make bench kill the servers they started

# The sources as they are in this working tree (tracked and new files, no build outputs), so
# that the suite tests what is here, not the last commit.
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 cp --parents -t "$scratch" 2>/dev/null
else
	tar --exclude=./build --exclude=./results -cf - . | tar -C "$scratch" -xf -
fi
if [[ ! -f $scratch/lab/skeleton.c || ! -f $scratch/tests/lab/poll.c ]]; then
	fail scratch-copy "could not copy the source tree to $scratch"
	finish
fi
bin=${BIN:-build/bin}   # relative to the tree: the same in the scratch copy, whatever SAN is
build=(--no-print-directory "CC=${CC:-cc}" "SAN=${SAN:-}" "BUILD=${BUILD:-build}")
mk=(make -s -j"$(nproc)" -C "$scratch" "${build[@]}")
LIMIT=900                # seconds for one make check or bench: only a hung one reaches it

# make check MODEL=$1 in the scratch tree; stdout in $scratch/check-$1.out (the score line
# last, as a teacher collects it), stderr in .err. Sets check_rc.
run_check() {
	timeout -k 10 "$LIMIT" "${mk[@]}" check "MODEL=$1" \
		>"$scratch/check-$1.out" 2>"$scratch/check-$1.err"
	check_rc=$?
}
# The result lines of check output $1 for group $2 with verdict $3 (PASS or FAIL).
results() { grep "^$3 $2/" "$1"; }
count() { results "$@" | wc -l; }
score_of() { tail -n 1 "$1"; }

# --- The skeleton, copied as is ----------------------------------------------------------

cp "$scratch/lab/skeleton.c" "$scratch/servers/labskel.c"
if "${mk[@]}" "$bin/labskel" >"$scratch/build.log" 2>&1; then
	pass skeleton-builds
else
	fail skeleton-builds "make $bin/labskel: $(tail -n 3 "$scratch/build.log" | oneline)"
fi

run_check labskel
out=$scratch/check-labskel.out
score=$(score_of "$out")
if [[ $check_rc == 124 || $check_rc == 137 ]]; then
	fail skeleton-fails-fast "make check did not finish within $LIMIT s"
elif grep -q "did not finish within" "$out"; then
	fail skeleton-fails-fast "a case hung: $(grep -m1 'did not finish within' "$out")"
elif [[ ! $score =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	fail skeleton-fails-fast "the last line is not a score: '$score'" \
		"($(tail -n 2 "$scratch/check-labskel.err" | oneline))"
elif ((BASH_REMATCH[2] == 0 || check_rc == 0)); then
	fail skeleton-fails-fast "the unfilled skeleton failed nothing (exit $check_rc, $score)"
else
	pass skeleton-fails-fast
fi

# What the skeleton's comment and the handout promise of it, group by group.
why=""
for g in http bad-input concurrency limits echo; do
	(($(count "$out" "$g" FAIL) > 0)) || why+="$g: no case failed; "
	(($(count "$out" "$g" PASS) == 0)) || why+="$g: $(results "$out" "$g" PASS | head -n 1) "
done
cmdline=$(results "$out" basic PASS |
	grep -v -E '^PASS basic/(help|version|bad-option-.*|port-in-use)$')
(($(count "$out" basic PASS) > 0)) || why+="basic: not even the command-line cases passed; "
(($(count "$out" basic FAIL) > 0)) || why+="basic: no case failed; "
[[ -z $cmdline ]] || why+="basic: a case needing an answer passed: $(head -n 1 <<<"$cmdline"); "
stops=$(results "$out" lifecycle PASS | grep -v -E '^PASS lifecycle/sig(term|int)-')
(($(count "$out" lifecycle PASS) > 0)) || why+="lifecycle: not even the stop cases passed; "
[[ -z $stops ]] || why+="lifecycle: a case needing an answer passed: $(head -n 1 <<<"$stops"); "
[[ -z $why ]] && pass skeleton-fails-the-right-groups || fail skeleton-fails-the-right-groups "$why"

if grep -q '^FAIL basic/get-root: .*closed' "$out"; then
	pass skeleton-says-why
else
	fail skeleton-says-why "basic/get-root does not say the connection was closed:" \
		"$(grep -m1 '^FAIL basic/get-root' "$out")"
fi
# The per-group summary a student reads before the score.
if grep -q -E '^ +concurrency +0 of +[1-9][0-9]* passed$' "$out"; then
	pass summary-per-group
else
	fail summary-per-group "no 'concurrency 0 of N passed' line before the score"
fi

# --- TODO 1 and 2 done: the iterative server ---------------------------------------------

python3 - "$scratch/lab/skeleton.c" "$scratch/servers/labiter.c" <<'EOF'
import re, sys
src, dst = sys.argv[1:]
text = open(src).read()
body = re.compile(r"(static void on_connection\(struct server \*srv, int fd\)\n\{\n)"
                  r".*?\n\}\n", re.S)
if not body.search(text) or '.name = "skeleton"' not in text:
    sys.exit("lab/skeleton.c has no on_connection() or no name \"skeleton\" to fill in")
text = body.sub(lambda m: m.group(1) + "\tstruct bufpool pool = BUFPOOL_INIT(2);\n"
                "\tserve_blocking(&srv->opts, fd, &pool);\n\tbufpool_drain(&pool);\n}\n", text, 1)
open(dst, "w").write(text.replace('.name = "skeleton"', '.name = "labiter"'))
EOF
if [[ ! -f $scratch/servers/labiter.c ]]; then
	fail iterative-server "could not fill in TODO 2 of lab/skeleton.c"
elif ! "${mk[@]}" "$bin/labiter" >"$scratch/build.log" 2>&1; then
	fail iterative-server "does not build: $(tail -n 3 "$scratch/build.log" | oneline)"
else
	# Only basic and http: the cases with several clients would each wait out their limit.
	out=$scratch/check-labiter.out
	(cd "$scratch" && timeout -k 10 "$LIMIT" python3 tests/conformance/conformance.py \
		--bin "$bin/labiter" --group basic --group http >"$out" 2>&1)
	score=$(score_of "$out")
	if [[ $score =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] && ((BASH_REMATCH[1] > 0)); then
		pass iterative-server
	else
		fail iterative-server "basic and http: $score; $(grep -m1 '^FAIL' "$out")"
	fi
fi

# --- The worked example: the skeleton filled in with poll() ------------------------------

# Under a student's name: servers/poll.c is the suite's own poll model (on loop.h).
sed 's/\.name = "poll"/.name = "labpoll"/' "$scratch/tests/lab/poll.c" >"$scratch/servers/labpoll.c"
run_check labpoll
out=$scratch/check-labpoll.out
score=$(score_of "$out")
if [[ $score =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] && ((check_rc == 0 && BASH_REMATCH[1] > 0)); then
	pass worked-example-passes
else
	fail worked-example-passes "make check MODEL=labpoll: exit $check_rc, '$score';" \
		"$(grep -m1 '^FAIL' "$out")"
fi
# All of it: a group left out would also end "0 failed".
total=$(cd "$scratch" && python3 tests/conformance/conformance.py --list 2>/dev/null | wc -l)
if ((total > 0 && $(grep -c '^PASS ' "$out") == total)); then
	pass worked-example-runs-every-case
else
	fail worked-example-runs-every-case "$(grep -c '^PASS ' "$out") passed of the $total cases listed"
fi

# --- One name in MODELS is all it takes ---------------------------------------------------

sed -i 's/^MODELS := \(.*\)$/MODELS := \1 labpoll/' "$scratch/Makefile"
why=""
grep -q '^MODELS := .* labpoll$' "$scratch/Makefile" || why+="no 'MODELS := ...' line in Makefile; "
rm -f "$scratch/$bin/labpoll"   # built by make check above; make must want to build it again
dry=(make -n -C "$scratch" "${build[@]}")
plan=$("${dry[@]}" all 2>&1)
grep -q -- "-o $bin/labpoll " <<<"$plan" || why+="make does not build $bin/labpoll; "
plan=$("${dry[@]}" test 2>&1)
grep -q 'MODELS="[^"]* labpoll"' <<<"$plan" || why+="make test does not hand labpoll to the suites; "
plan=$("${dry[@]}" bench 2>&1)
grep -q -- '--models "[^"]* labpoll"' <<<"$plan" || why+="make bench does not run labpoll; "
[[ -z $why ]] && pass one-list || fail one-list "$why"

# --- make bench: the student's model beside a reference one -------------------------------

# Never under a sanitizer (make bench measures build/bin), and in the smallest run there is.
res=$scratch/bench-results
timeout -k 10 "$LIMIT" make -s -C "$scratch" --no-print-directory "CC=${CC:-cc}" SAN= BUILD=build \
	bench MODELS="labpoll epoll" SCENARIOS=idle QUICK=1 \
	BENCH_ARGS="--idle-conns 20 --out $res" >"$scratch/bench.log" 2>&1
rc=$?
why=""
((rc == 0)) || why+="make bench exited $rc: $(tail -n 3 "$scratch/bench.log" | oneline); "
for f in report.md report.html runs.csv; do
	[[ -s $res/$f ]] || why+="no $f; "
done
if [[ -s $res/runs.csv ]]; then
	for m in labpoll epoll; do
		python3 - "$res/runs.csv" "$m" <<'EOF' || why+="runs.csv has no valid idle run of $m; "
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["model"] == sys.argv[2]]
sys.exit(0 if any(r["scenario"] == "idle" and r["valid"] == "1" for r in rows) else 1)
EOF
	done
fi
if [[ -s $res/report.md ]] && ! grep -q labpoll "$res/report.md"; then
	why+="report.md never names labpoll; "
fi
[[ -z $why ]] && pass bench-student-model || fail bench-student-model "$why"

# --- Part 5: a model on the green runtime is one file too --------------------------------

# Where the runtime is in the tree (mk/lab.mk links it to any model that includes green.h).
if [[ -f $scratch/servers/green/green.h && -f $scratch/servers/green.c ]]; then
	sed 's/\.name = "green"/.name = "labgreen"/' "$scratch/servers/green.c" \
		>"$scratch/servers/labgreen.c"
	if ! "${mk[@]}" "$bin/labgreen" >"$scratch/build.log" 2>&1; then
		fail green-model-one-file "make $bin/labgreen: $(tail -n 3 "$scratch/build.log" | oneline)"
	elif ! "$scratch/$bin/labgreen" --version | grep -q '^labgreen '; then
		fail green-model-one-file "$bin/labgreen --version:" \
			"$("$scratch/$bin/labgreen" --version 2>&1 | oneline)"
	else
		pass green-model-one-file
	fi
else
	echo "SKIP lab/green-model-one-file: the green runtime is not in this tree"
fi

# --- The handout, the skeleton and the suite agree ----------------------------------------

groups=$(python3 -c 'import sys; sys.path.insert(0, "tests/conformance")
from check import GROUPS; print(" ".join(GROUPS))' 2>/dev/null)
why=""
[[ -n $groups ]] || why+="cannot read the suite's groups; "
for g in $groups; do
	grep -q "^| $g |" docs/lab.md || why+="group $g is not in docs/lab.md's table; "
done
for n in $(grep -o 'TODO [0-9]' docs/lab.md | sort -u | cut -d' ' -f2); do
	grep -q "TODO $n" lab/skeleton.c || why+="docs/lab.md names TODO $n, lab/skeleton.c has none; "
done
for n in $(grep -o 'TODO [0-9]' lab/skeleton.c | sort -u | cut -d' ' -f2); do
	grep -q "TODO $n" docs/lab.md || why+="lab/skeleton.c has TODO $n, docs/lab.md never names it; "
done
[[ -z $why ]] && pass handout-matches || fail handout-matches "$why"

finish
