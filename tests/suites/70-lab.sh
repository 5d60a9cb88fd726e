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
#   - make check writes results.json (each case, its group, verdict and message; the score);
#   - typical student bugs, put into copies of the reference models, fail with their cause:
#     a data race under SAN=thread names the racing functions and the file with the whole
#     report; an fd leaked by a fork parent is named by no-fd-leak and blamed by the idle
#     time-out case it also fails; unreaped children show in ps, by the commands of Q1.4;
#   - part 3's checkpoints turn green the cases the handout says: the worked example taken
#     back to checkpoint 1 (no deadlines) and 2 (deadlines judged after serving);
#   - the handout, the skeleton and the suite agree: the groups, the TODOs, Part 3's time,
#     every sample line of check output (compared with the suite's real output), the install
#     line;
#   - each part's make bench command runs (as a dry run) every scenario and point its
#     questions read, select's efficiency points under FD_SETSIZE.
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
	# The cases the handout shows lines of, for the comparison at the end.
	sample=()
	for c in $(grep -o -E '^ {4,}(PASS|FAIL) [a-z-]+/[a-z0-9-]+' docs/lab.md | awk '{print $2}' |
		sort -u); do
		sample+=(--case "$c")
	done
	(cd "$scratch" && timeout -k 10 "$LIMIT" python3 tests/conformance/conformance.py \
		--bin "$bin/labiter" "${sample[@]}" >"$scratch/check-labiter-sample.out" 2>&1)
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

# The file for autograders, beside the score.
json=$scratch/${BUILD:-build}/check/labpoll/results.json
why=$(python3 - "$json" "$out" 2>&1 <<'END'
import json, sys
doc = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
verdicts = {l.split()[1].rstrip(":"): l.split()[0].lower() for l in lines
            if l.startswith(("PASS ", "FAIL "))}
cases = {c["name"]: c for c in doc["cases"]}
problems = []
if set(cases) != set(verdicts):
    problems.append(f"{len(cases)} cases in results.json, {len(verdicts)} in the output")
for name, c in cases.items():
    if c.get("verdict") != verdicts.get(name) or c.get("group") != name.split("/")[0] or \
            "message" not in c:
        problems.append(f"{name}: {c}")
        break
score = doc["score"]
if f"{score['passed']} passed, {score['failed']} failed" != lines[-1]:
    problems.append(f"score {score} against '{lines[-1]}'")
if doc.get("model") != "labpoll":
    problems.append(f"model {doc.get('model')!r}")
print("; ".join(problems[:3]))
END
)
if [[ ! -s $json ]]; then
	fail results-json "make check MODEL=labpoll wrote no $json"
elif [[ -n $why ]]; then
	fail results-json "$why"
elif ! grep -q "^results: .*check/labpoll/results.json$" "$out"; then
	fail results-json "the check output does not name results.json"
else
	pass results-json
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

# --- Typical bugs fail with their cause ---------------------------------------------------

# thread.c's count of open connections as a plain unsigned: a data race (ThreadSanitizer).
sed -e 's/static atomic_uint open_conns;/static unsigned open_conns;/' \
	-e 's/atomic_fetch_sub(&open_conns, 1)/open_conns--/' \
	-e 's/atomic_fetch_add(&open_conns, 1)/open_conns++/' \
	-e 's/atomic_load(&open_conns)/open_conns/' -e 's/\.name = "thread"/.name = "mythread"/' \
	"$scratch/servers/thread.c" >"$scratch/servers/mythread.c"
out=$scratch/check-mythread-tsan.out
if grep -q 'atomic_[a-z_]*(&open_conns' "$scratch/servers/mythread.c" ||
	! grep -q 'open_conns--' "$scratch/servers/mythread.c"; then
	fail tsan-names-the-race "could not make thread.c's count of connections a plain unsigned"
else
	timeout -k 10 "$LIMIT" make -s -j"$(nproc)" -C "$scratch" --no-print-directory \
		"CC=${CC:-cc}" SAN=thread BUILD=build/tsan check MODEL=mythread \
		CHECK_ARGS="--case concurrency/mixed-clients" >"$out" 2>&1
	line=$(grep -m1 '^FAIL concurrency/mixed-clients' "$out")
	place='(start_thread|serve_thread) \(servers/mythread\.c:[0-9]+\)'
	log=$(sed -n -E 's/.*; full report in (\S+)$/\1/p' <<<"$line")
	if [[ ! $line =~ ThreadSanitizer:\ data\ race\ in\ $place,\ against\ $place ]]; then
		fail tsan-names-the-race "expected mixed-clients to fail naming the racing functions:" \
			"'${line:-$(tail -n 3 "$out" | oneline)}'"
	elif [[ -z $log || ! -f $scratch/$log ]] ||
		! grep -q 'WARNING: ThreadSanitizer: data race' "$scratch/$log"; then
		fail tsan-names-the-race "the failure names no file with the whole report: '$line'"
	elif grep -q "stderr" <<<"$line"; then
		fail tsan-names-the-race "stderr noise in the failure: '$line'"
	else
		pass tsan-names-the-race
	fi
fi

# fork.c without the parent's close(fd): an fd leaked per connection.
grep -v -E '^\s*close\(fd\);' "$scratch/servers/fork.c" |
	sed 's/\.name = "fork"/.name = "myfork"/' >"$scratch/servers/myfork.c"
out=$scratch/check-myfork-leak.out
if ! grep -q -E '^\s*close\(fd\);' "$scratch/servers/fork.c"; then
	fail fd-leak-named "servers/fork.c has no close(fd) line to leave out"
else
	timeout -k 10 "$LIMIT" "${mk[@]}" check MODEL=myfork \
		CHECK_ARGS="--case lifecycle/no-fd-leak --case limits/idle-timeout-closes-non-reader" \
		>"$out" 2>&1
	leak=$(grep -m1 '^FAIL lifecycle/no-fd-leak' "$out")
	idle=$(grep -m1 '^FAIL limits/idle-timeout-closes-non-reader' "$out")
	# The idle case fails only if the child's close comes too late; when it does, it must
	# point at the leak.
	if [[ ! $leak =~ a\ leak.*not\ closed ]]; then
		fail fd-leak-named "expected no-fd-leak to fail naming the leak:" \
			"'${leak:-$(tail -n 3 "$out" | oneline)}'"
	elif [[ -n $idle && ! $idle =~ lifecycle/no-fd-leak\ fails\ too ]]; then
		fail fd-leak-named "the idle time-out case does not point at the leak: '$idle'"
	else
		pass fd-leak-named
	fi
fi

# Q1.4 as the handout gives it (make run, the client loop, ps) on fork.c without reaping:
# its children must show as zombies.
sed -e 's/while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)/while (false \&\& (pid = waitpid(-1, NULL, WNOHANG)) > 0)/' \
	-e 's/\.name = "fork"/.name = "myfork"/' "$scratch/servers/fork.c" >"$scratch/servers/myfork.c"
run_line=$(grep -m1 -E '^ +make run MODEL=myfork$' docs/lab.md | sed 's/^ *//')
loop_line=$(grep -m1 -E '^ +for i in .*curl .*127\.0\.0\.1:8080' docs/lab.md | sed 's/^ *//')
ps_line=$(grep -m1 -E '^ +ps .*--ppid PID$' docs/lab.md | sed 's/^ *//')
if [[ -z $run_line || -z $loop_line || -z $ps_line ]]; then
	fail run-shows-zombies "docs/lab.md's Q1.4 lacks the 'make run MODEL=myfork', client" \
		"loop or 'ps ... --ppid PID' line"
elif ! grep -q 'while (false && (pid = waitpid' "$scratch/servers/myfork.c"; then
	fail run-shows-zombies "could not take the reaping out of servers/fork.c"
else
	# The handout's command, on a free port (PORT=0) instead of 8080, in the background.
	(cd "$scratch" && exec $run_line PORT=0 "${build[@]}" >"$scratch/run.out" 2>"$scratch/run.err") &
	runner=$!
	for _ in $(seq 1200); do   # it builds first
		grep -q '^listening on' "$scratch/run.out" 2>/dev/null && break
		kill -0 "$runner" 2>/dev/null || break
		sleep 0.1
	done
	start='^listening on [0-9.]+:([0-9]+) \(myfork, http, pid ([0-9]+)\).*'
	port=$(sed -n -E "s/$start/\1/p" "$scratch/run.out")
	pid=$(sed -n -E "s/$start/\2/p" "$scratch/run.out")
	if [[ -z $pid ]]; then
		fail run-shows-zombies "make run printed no start-up line with a pid:" \
			"$(cat "$scratch/run.out" "$scratch/run.err" | tail -n 3 | oneline)"
	else
		timeout 60 bash -c "${loop_line//8080/$port}"
		zombies=0
		for _ in $(seq 100); do   # each child ends after its client: give them time
			zombies=$(eval "${ps_line//PID/$pid}" | awk '$2 ~ /^Z/' | wc -l)
			((zombies >= 20)) && break
			sleep 0.1
		done
		if ((zombies >= 20)); then
			pass run-shows-zombies
		else
			fail run-shows-zombies "expected 20 zombies in Q1.4's ps, saw $zombies:" \
				"$(eval "${ps_line//PID/$pid}" | oneline)"
		fi
	fi
	[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
	kill -TERM "$runner" 2>/dev/null
	wait "$runner" 2>/dev/null
fi

# --- Part 3's checkpoints ------------------------------------------------------------------

# The worked example taken back to checkpoint 1 (a /sleep blocks like a /block; no idle or
# header time-out) and to checkpoint 2 (deadlines judged by the clock after serving). Each must fail
# exactly the cases the handout says the next checkpoints turn green.
python3 - "$scratch/tests/lab/poll.c" "$scratch/servers" <<'END'
import sys
src, where = open(sys.argv[1]).read(), sys.argv[2]
steps = {
    "labcp1": [("\t\tcase WANT_SLEEP:\n\t\t\tl->fds[c->slot].fd = -1;\n\t\t\tdeadline_set("
                "&l->deadlines, &c->deadline, l->now + session_wait_ms(c->session));\n"
                "\t\t\treturn;\n\t\tcase WANT_BLOCK:", "\t\tcase WANT_SLEEP:\n\t\tcase WANT_BLOCK:"),
               ("socket_wait_until(&l->srv->opts, c->session, l->now, events == POLLIN)", "0")],
    "labcp2": [("deadline_pop_due(&l.deadlines, woke)", "deadline_pop_due(&l.deadlines, now_ms())"),
               ("on_deadline(&l, conn_of(due), woke)", "on_deadline(&l, conn_of(due), now_ms())"),
               ("\t\tuint64_t woke = l.now;\n", "")],
}
for name, edits in steps.items():
    text = src
    for old, new in edits:
        if old not in text:
            sys.exit(f"tests/lab/poll.c has no {old[:50]!r} to take back to {name}")
        text = text.replace(old, new)
    open(f"{where}/{name}.c", "w").write(text.replace('.name = "poll"', f'.name = "{name}"'))
END
if [[ ! -f $scratch/servers/labcp2.c ]]; then
	fail part3-checkpoints "could not take tests/lab/poll.c back to checkpoints 1 and 2"
else
	# The cases checkpoint N's paragraph in docs/lab.md says it turns green.
	named() {
		sed -n "/^\*\*Checkpoint $1/,/^\*\*Check/p" docs/lab.md | tr '\n' ' ' |
			grep -o -E 'Turns green: [^.]*' | grep -o -E '`[a-z-]+/[a-z0-9-]+`' | tr -d '`' |
			sort -u
	}
	two=$(named 2) three=$(named 3)
	args=()
	for c in $two $three; do args+=(--case "$c"); done
	why=""
	[[ -n $two && -n $three ]] || why+="docs/lab.md names no cases for checkpoints 2 and 3; "
	for cp in labcp1 labcp2; do
		out=$scratch/part3-$cp.out
		if ! "${mk[@]}" "$bin/$cp" >"$scratch/build.log" 2>&1; then
			why+="$cp does not build: $(tail -n 2 "$scratch/build.log" | oneline); "
			continue
		fi
		(cd "$scratch" && timeout -k 10 "$LIMIT" python3 tests/conformance/conformance.py \
			--bin "$bin/$cp" "${args[@]}" >"$out" 2>&1)
		fails=$(sed -n -E 's/^FAIL ([^:]+):.*/\1/p' "$out" | sort -u)
		if [[ $cp == labcp1 ]]; then want=$two; else want=$three; fi
		[[ $fails == "$want" ]] ||
			why+="$cp failed [$(echo $fails)], the handout says [$(echo $want)]; "
	done
	[[ -z $why ]] && pass part3-checkpoints || fail part3-checkpoints "$why"
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
# Part 3 takes longer than the others (the deadline heap, offsetof, idle after a block): the
# handout says so, so that a student plans for it.
sed -n '/^## Part 3/,/^## Part 4/p' docs/lab.md | tr '\n' ' ' | grep -q -E '\(count on [^)]*hours?\)' ||
	why+="Part 3 does not say how long it takes ('count on ... hours'); "
[[ -z $why ]] && pass handout-matches || fail handout-matches "$why"

# Every line of check output the handout shows is one the suite really printed (bounds and
# line numbers aside: a sanitizer build waits longer), and its summary has the suite's
# groups, each with as many cases as the suite has, and adds up. (A case added to the suite
# changes the sample: `make check MODEL=mymodel` on the iterative server gives the new one.)
python3 tests/conformance/conformance.py --list >"$scratch/cases.list" 2>&1
why=$(python3 - docs/lab.md "$scratch/cases.list" "$scratch"/check-*.out 2>&1 <<'END'
import difflib, re, sys
doc, outputs = open(sys.argv[1]).read(), sys.argv[3:]
sizes = {}
for name in open(sys.argv[2]).read().split():
    sizes[name.split("/")[0]] = sizes.get(name.split("/")[0], 0) + 1
groups = list(sizes)


def norm(line):
    line = re.sub(r"within \d+ s", "within N s", line.strip())
    line = re.sub(r"\.c:\d+\)", ".c:N)", line)
    line = re.sub(r"full report in \S+/", "full report in DIR/", line)
    race = re.search(r"in \S+ \((\S+)\), against \S+ \((\S+)\)", line)
    if race:   # which two of the racing accesses TSan pairs (an increment against a
               # decrement, or two decrements), and in which order, is the threads' timing
        a, b = sorted(race.groups())
        line = line[:race.start()] + f"in F ({a}), against F ({b})" + line[race.end():]
    return line


real = {norm(l): l.strip() for f in outputs for l in open(f, errors="replace")}
problems = []
shown = re.findall(r"^ {4,}((?:PASS|FAIL) [a-z-]+/.*)$", doc, re.M)
if not shown:
    problems.append("no sample line of check output in docs/lab.md")
for line in shown:
    if norm(line) not in real:
        near = difflib.get_close_matches(norm(line), real, 1, 0)
        problems.append(f"docs/lab.md shows '{line[:110]}', which no check printed"
                        f" (the nearest: '{real[near[0]][:200] if near else ''}')")
block = re.search(r"^ +by group:\n((?: +\S+ +\d+ of +\d+ passed\n)+) +(results: .*)\n +(.*)$",
                  doc, re.M)
if not block:
    problems.append("no 'by group:' summary, results line and score in docs/lab.md")
else:
    rows = re.findall(r"^ +(\S+) +(\d+) of +(\d+) passed$", block.group(1), re.M)
    names = [g for g, _, _ in rows]
    if names != [g for g in groups if g in names] or set(names) - set(groups):
        problems.append(f"the summary's groups {names} are not the suite's, in its order")
    for g, _, total in rows:
        if sizes.get(g) != int(total):
            problems.append(f"the summary says {g} has {total} cases, the suite has {sizes.get(g)}")
    p, t = sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows)
    if block.group(3) != f"{p} passed, {t - p} failed":
        problems.append(f"the score '{block.group(3)}' is not the sum of the groups ({p} of {t})")
    if not re.fullmatch(r"results: build/check/\w+/results\.json", block.group(2)):
        problems.append(f"'{block.group(2)}' is not where make check writes results.json")
print("; ".join(problems[:3]))
END
)
[[ -z $why ]] && pass handout-sample-output || fail handout-sample-output "$why"

# Each part's **Measure** command, planned by the benchmark (--dry-run, the student's own
# model left out), runs every scenario its questions name, at the connections they name.
why=$(cd "$scratch" && python3 - docs/lab.md "$OLDPWD/$bin" 2>&1 <<'END'
import re, shlex, subprocess, sys
sys.path.insert(0, "harness")
from bench.scenarios import ALL
doc, bins = open(sys.argv[1]).read(), sys.argv[2]
problems = []
parts = re.split(r"^## ", doc, flags=re.M)
for part in (p for p in parts if p.startswith("Part ")):
    title = part.split("\n")[0]
    plan = ""
    for cmd in re.findall(r"`(make bench [^`]*)`", part):
        words = dict(w.split("=", 1) for w in shlex.split(cmd)[2:] if "=" in w)
        models = [m for m in words.get("MODELS", "").split() if not m.startswith("my")]
        argv = ["python3", "-m", "harness.bench", "--dry-run", "--bin", bins, "--refs", "",
                "--models", " ".join(models),
                "--scenarios", words.get("SCENARIOS", ""), *shlex.split(words.get("BENCH_ARGS", ""))]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            problems.append(f"{title}: '{cmd}' does not plan: {run.stderr.strip()[-150:]}")
        plan += run.stdout
        # select watches fds below FD_SETSIZE (1,024): efficiency's 100 busy connections and
        # the idle ones beside must fit, or select's point is invalid and Q3.2 unanswerable.
        if "select" in models:
            for n in set(re.findall(r"^  efficiency +\d+% \+(\d+) idle ", run.stdout, re.M)):
                if 100 + int(n) > 1000:
                    problems.append(f"{title}: '{cmd}' gives select 100 + {n} connections")
    if not plan:
        problems.append(f"{title}: no make bench command")
        continue
    for q in re.findall(r"^- \*\*(Q\d\.\d)\*\*(.*?)(?=^- \*\*|^## |^\*\*|\Z)", part, re.M | re.S):
        name, text = q[0], " ".join(q[1].split())
        named = [w for w in re.findall(r"`(\w+)`", text) if w in ALL]
        conns = re.search(r"at ((?:[\d,]+(?:, | and )?)+) connections", text)
        for sc in named:
            if not re.search(rf"^  {sc} ", plan, re.M):
                problems.append(f"{name} reads `{sc}`, which its part's command does not run")
            for c in (conns.group(1).replace(" and ", ", ").split(", ") if conns else []):
                c = c.replace(",", "")
                if sc in ("http", "cpubound", "echo") and \
                        not re.search(rf"^  {sc} +c={c} ", plan, re.M):
                    problems.append(f"{name} reads `{sc}` at {c} connections, not in the plan")
        # efficiency's points are shares of the generator's ceiling and idle connections
        # held beside: "its 25 % point", "1,000 idle connections".
        if "efficiency" in named:
            for pct in re.findall(r"(\d+) % point", text):
                if not re.search(rf"^  efficiency +{pct}% ", plan, re.M):
                    problems.append(f"{name} reads efficiency's {pct} % point, not in the plan")
            for n in set(re.findall(r"([\d,]+) idle connections", text)):
                n = n.replace(",", "")
                if not re.search(rf"^  efficiency +\d+% \+{n} idle ", plan, re.M):
                    problems.append(f"{name} reads efficiency with {n} idle, not in the plan")
print("; ".join(problems[:4]))
END
)
[[ -z $why ]] && pass handout-measure-commands || fail handout-measure-commands "$why"

# The install line has a package for every tool the handout has students run.
install=$(grep -m1 -E '^ *apt-get install ' docs/lab.md)
why=""
[[ -n $install ]] || why+="no 'apt-get install' line in docs/lab.md; "
for pair in "nc netcat-openbsd" "curl curl" "ab apache2-utils" "ps procps" "wrk wrk" \
	"gnuplot gnuplot-nox" "python3 python3" "make build-essential"; do
	tool=${pair% *} pkg=${pair#* }
	if grep -q -E "(^ {4,}|\`)$tool " docs/lab.md && ! grep -q -w -- "$pkg" <<<"$install"; then
		why+="the handout runs $tool, the install line has no $pkg; "
	fi
done
[[ -z $why ]] && pass handout-install-line || fail handout-install-line "$why"

finish
