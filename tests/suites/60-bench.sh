#!/usr/bin/env bash
# `make bench` end to end, scaled down (a second per point, two models, two rounds):
# runs.csv has every column and a row per run and round, the models' order rotates, the
# calibration runs at the start and the end and its lines are in env.txt, the efficiency
# scenario runs at rates taken from the calibration, findings.csv and the plots and both
# reports are produced, a run that cannot be valid is flagged with its reason (select's
# refusal past FD_SETSIZE too), `make plots` redraws from the CSV alone, `make compare` works,
# the reference servers run beside a model (n/a where nginx cannot serve; paired verdicts),
# and Ctrl-C (SIGINT to the runner's process group) leaves no process behind and keeps the
# runs so far. Never a timing: only structure, counts and the verdicts of runs made invalid on
# purpose.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
pass=0 fail=0
tmp=$(mktemp -d)
group=

cleanup() {
	[[ -n $group ]] && kill -KILL -- "-$group" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
check() {   # check NAME WHY-IF-FALSE COMMAND...: one case, passed if COMMAND succeeds
	local name=$1 why=$2
	shift 2
	if "$@"; then ok "$name"; else bad "$name" "$why"; fi
}

# Two models: epoll and another built one (thread is cheap to start), for side-by-side output.
models=()
for m in epoll thread select fork ${MODELS:-}; do
	[[ -x $BIN/$m && " ${models[*]} " != *" $m "* ]] && models+=("$m")
	((${#models[@]} == 2)) && break
done
for tool in wrk gnuplot; do
	command -v "$tool" >/dev/null || bad "tools" "$tool is not installed (scripts/setup.sh)"
done
[[ -x $BIN/loadgen ]] || bad "tools" "$BIN/loadgen is not built"
if ((${#models[@]} < 2 || fail > 0)); then
	bad "setup" "need two built models, wrk, gnuplot and loadgen (have: ${models[*]:-none})"
	echo "$pass passed, $fail failed"
	exit 1
fi
# Without the reference servers unless a case asks for them (a later --refs wins).
bench() { timeout 300 python3 -m harness.bench --bin "$BIN" --refs "" "$@"; }

# --- the command line -------------------------------------------------------------------
out=$(bench --help 2>&1)
check "help" "--help did not list the scenarios" grep -q "scenarios: efficiency, http, " <<<"$out"
out=$(bench --scenarios nosuch 2>&1)
rc=$?
check "bad-scenario" "exit $rc, output: $out" \
	test "$rc" = 2 -a "$(wc -l <<<"$out")" = 1 -a -n "$(grep 'unknown scenario nosuch' <<<"$out")"
out=$(bench --models nosuchmodel 2>&1)
check "bad-model" "output: $out" grep -q "no server binary for nosuchmodel" <<<"$out"

# --- the calibration target: a canned answer to every request head, pipelined too ----------
[[ -x $BIN/calib ]] || bad "calib" "$BIN/calib is not built"
"$BIN/calib" --port 0 >"$tmp/calib.log" 2>&1 &
calib=$!
for _ in $(seq 50); do grep -q "listening on" "$tmp/calib.log" && break; sleep 0.1; done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\) (calib, http, pid [0-9]*)$/\1/p' "$tmp/calib.log")
answers=$(printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r' |
	timeout 10 nc -q 1 127.0.0.1 "${port:-1}" | grep -o 'HTTP/1.1 200 OK' | wc -l)
check "calib-pipelined" "calib answered $answers of 2 whole request heads (port '$port')" \
	test "$answers" = 2
kill -TERM "$calib"
wait "$calib"
check "calib-sigterm" "calib did not exit 0 on SIGTERM" test $? = 0
out=$("$BIN/calib" --port x 2>&1)
check "calib-bad-option" "calib --port x: $out" test $? = 2 -a "$(wc -l <<<"$out")" = 1

# --- a scaled-down run: every column, a row per run and round, plots, reports --------------
r1=$tmp/r1
bench --quick --duration 1 --warmup 0 --models "${models[*]}" \
	--scenarios "efficiency http idle blocking" --conns 10 --idle-conns 20 --out "$r1" \
	>"$tmp/r1.log" 2>&1
rc=$?
check "run" "exit $rc: $(tail -n 5 "$tmp/r1.log")" test "$rc" = 0

# Every figure the issue asks for, by its runs.csv name.
columns="model scenario tool conns conns_established target_rate achieved_rate duration_s
	requests req_per_s bytes err_connect err_read err_write err_timeout err_status lat_p50_us
	lat_p90_us lat_p99_us lat_p999_us lat_max_us server_user_s server_sys_s
	server_cpu_us_per_req server_vcsw server_ivcsw server_csw_per_req server_peak_rss_kb
	server_peak_pss_kb server_mem_per_conn_kb server_threads server_procs gen_user_s gen_sys_s
	gen_busy valid invalid_reason"
header=$(head -n 1 "$r1/runs.csv" 2>/dev/null)
missing=$(for c in $columns; do [[ ,$header, == *,$c,* ]] || echo -n "$c "; done)
check "columns" "runs.csv lacks: $missing" test -z "$missing"

# 3 efficiency points (2 rates, 1 with idle connections beside) + 1 http + 1 idle + 3
# blocking, for each model, in each of QUICK's 2 rounds.
points=8
expected=$((points * ${#models[@]} * 2))
rows=$(($(wc -l <"$r1/runs.csv") - 1))
check "rows" "$rows rows in runs.csv, expected $expected" test "$rows" = "$expected"
why=$(python3 - "$r1/runs.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
order = {}
for r in rows:
    order.setdefault((r["scenario"], r["point"], r["rep"]), []).append(r["model"])
for (scenario, point, rep), models in order.items():
    if sorted(models) != sorted(order[(scenario, point, "1")]) or len(set(models)) != len(models):
        print(scenario, point, "round", rep, "ran", models)
    if rep == "2" and models[0] == order[(scenario, point, "1")][0]:
        print(scenario, point, "round 2 starts with the same model as round 1:", models)
if sorted({k[2] for k in order}) != ["1", "2"]:
    print("rounds:", sorted({k[2] for k in order}))
PY
)
check "rounds-rotate" "$why" test -z "$why"
check "progress-rounds" "no 'round 2/2' in the progress lines" grep -q "round 2/2  " "$tmp/r1.log"

# The calibration: 3 runs at the start and 3 at the end, each time at saturation and then
# at a fixed rate, and its lines in env.txt.
calibration=$(python3 -c 'import csv,sys; print(" ".join(r["model"] + ":" + r["point"] for r in csv.DictReader(open(sys.argv[1]))))' \
	"$r1/calibration.csv" 2>&1)
check "calibration-runs" "calibration.csv: $calibration" \
	test "$calibration" = "$(printf 'calib:%s ' start start start 'start at 25%' 'start at 25%' \
		'start at 25%' end end end 'end at 25%' 'end at 25%' 'end at 25%' | sed 's/ $//')"
for key in "calibration start" "calibration end" "noise bound"; do
	check "env-$key" "env.txt has no '$key:' line" grep -q "^$key: " "$r1/env.txt"
done

# The efficiency scenario's rates are shares of the ceiling the calibration measured (or,
# when the calibration had no valid run on a busy machine, its runs say so).
why=$(python3 - "$r1" <<'PY'
import csv, os, sys
d = sys.argv[1]
env = dict(l.rstrip("\n").split(": ", 1) for l in open(os.path.join(d, "env.txt")) if ": " in l)
ceiling = float(env.get("load generator ceiling", "0 req/s").split()[0].replace(",", ""))
for r in csv.DictReader(open(os.path.join(d, "runs.csv"))):
    if r["scenario"] != "efficiency":
        continue
    share = {"10%": 0.1, "25%": 0.25, "25% +20 idle": 0.25}.get(r["point"])
    if share is None:
        print("unexpected efficiency point", r["point"])
    elif not ceiling:
        if "ceiling" not in r["invalid_reason"]:
            print(r["run"], "ran without a ceiling:", r["invalid_reason"])
    elif abs(float(r["target_rate"]) - share * ceiling) > 0.01 * ceiling:
        print(r["run"], "offered", r["target_rate"], "not", share, "of", ceiling)
    elif r["valid"] == "1" and not r["window_cpu_us_per_req"]:
        print(r["run"], "is valid without CPU per request in its window")
    if r["point"].endswith("idle") and r["valid"] == "1" and int(r["server_conns"]) < 120:
        print(r["run"], "is valid with", r["server_conns"], "connections held of 120")
PY
)
check "efficiency-rates" "$why" test -z "$why"

# findings.csv: the paired verdicts, one line per point, metric and pair of models.
header=$(head -n 1 "$r1/findings.csv" 2>/dev/null | tr -d '\r')
check "findings" "findings.csv header: '$header'" \
	test "$header" = "scenario,point,metric,better,worse,ratio,rounds_won,rounds,noise_pct,verdict"
bad_verdicts=$(tail -n +2 "$r1/findings.csv" | tr -d '\r' | grep -cvE ',(clear|within-noise)$')
check "findings-verdicts" "$bad_verdicts lines with another verdict" test "$bad_verdicts" = 0
why=$(python3 - "$r1/runs.csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    name = r["run"]
    if r["valid"] not in ("0", "1"):
        print(name, "valid is", repr(r["valid"]))
    if (r["valid"] == "1") == bool(r["invalid_reason"]):
        print(name, "valid", r["valid"], "with reason", repr(r["invalid_reason"]))
    # The server's rusage and /proc samples are there for every run that ran.
    for col in ("server_user_s", "server_sys_s", "server_vcsw", "server_ivcsw",
                "server_peak_pss_kb", "server_threads", "server_procs", "gen_user_s"):
        if r[col] == "":
            print(name, "has no", col)
    if int(r["server_threads"] or 0) < 1 or int(r["server_procs"] or 0) < 1:
        print(name, "server threads/procs", r["server_threads"], r["server_procs"])
    if r["scenario"] != "idle" and r["valid"] == "1" and not float(r["requests"] or 0) > 0:
        print(name, "is valid without requests")
    if r["scenario"] == "idle" and r["valid"] == "1" and r["server_mem_per_conn_kb"] == "":
        print(name, "has no memory per connection")
    if r["scenario"] == "blocking" and r["point"] == "with /block" and not r["bg_requests"]:
        print(name, "has no /block requests")
PY
)
check "row-contents" "$why" test -z "$why"
check "summary" "summary.csv has no row per point and model" \
	test "$(($(wc -l <"$r1/summary.csv") - 1))" = "$((points * ${#models[@]}))"
check "summary-spread" "summary.csv has no min and max beside the median" \
	grep -q ',req_per_s_median,req_per_s_min,req_per_s_max,' "$r1/summary.csv"
check "env" "env.txt lacks the CPU, the core split or the commit" \
	grep -q "^server cpus: .*" "$r1/env.txt" -a -n "$(grep '^commit: ' "$r1/env.txt")"

# Every plot listed is drawn in both formats; HTTP's plots are among them.
why=
while IFS=$'\t' read -r name _ _; do
	for ext in png svg; do [[ -s $r1/plots/$name.$ext ]] || why+="$name.$ext "; done
done <"$r1/plots/index.txt"
check "plots" "missing: $why" test -z "$why" -a -s "$r1/plots/http_throughput.png" \
	-a -s "$r1/plots/efficiency_cpu.png"
check "plots-png" "http_throughput.png is not a PNG" \
	test "$(head -c 4 "$r1/plots/http_throughput.png" | tail -c 3)" = "PNG"
html=$r1/report.html
check "report-html" "report.html is missing or has no embedded plot" \
	grep -q '<img alt=[^>]*src="data:image/svg+xml;base64,' "$html"
check "report-self-contained" "report.html loads something from elsewhere" \
	test -z "$(grep -oE '(src|href)="(https?:)?//[^"]*"' "$html")"
for m in "${models[@]}"; do
	check "report-md-$m" "report.md does not show $m" grep -q "^| point .*| $m " "$r1/report.md"
done
check "report-md-sections" "report.md lacks a section" \
	test "$(grep -cE '^## (The machine|Verdicts|What a request costs|HTTP throughput|Idle connections|A blocking call|Invalid runs)' \
		"$r1/report.md")" = 7

# --- make plots redraws from the CSV alone -------------------------------------------------
cp -r "$r1" "$tmp/copy"
rm -rf "$tmp/copy/plots" "$tmp/copy/summary.csv" "$tmp/copy/report.html" "$tmp/copy/report.md"
make -s plots RESULTS="$tmp/copy" >"$tmp/plots.log" 2>&1
check "make-plots" "$(tail -n 3 "$tmp/plots.log")" \
	cmp -s "$r1/plots/index.txt" "$tmp/copy/plots/index.txt"
check "make-plots-summary" "summary.csv differs when redone" cmp -s "$r1/summary.csv" "$tmp/copy/summary.csv"
check "make-plots-report" "no report after make plots" test -s "$tmp/copy/report.html" -a -s "$tmp/copy/report.md"
make -s plots >/dev/null 2>&1
check "make-plots-usage" "make plots without RESULTS did not fail" test $? != 0

# --- make compare: a set against itself changed nothing and contradicts nothing --------------
out=$(make -s compare A="$r1" B="$tmp/copy" CSV="$tmp/compare.csv" 2>&1)
check "compare" "make compare: $(head -n 5 <<<"$out")" \
	grep -q "^0 of [1-9][0-9]* figures changed" <<<"$out"
check "compare-verdicts" "make compare did not say there was no contradiction" \
	grep -q "^Contradictory clear verdicts: none.$" <<<"$out"
check "compare-csv" "no compare.csv" test -s "$tmp/compare.csv"
make -s compare A="$r1" >/dev/null 2>&1
check "compare-usage" "make compare without B did not fail" test $? = 2

# --- an invalid run, provoked: more idle connections than --max-conns lets the server hold --
r2=$tmp/r2
bench --quick --duration 1 --models "${models[0]}" --scenarios idle --idle-conns 30 \
	--max-conns 5 --out "$r2" >"$tmp/r2.log" 2>&1
reason=$(python3 -c 'import csv,sys; r=next(csv.DictReader(open(sys.argv[1]))); print(r["valid"], r["invalid_reason"])' \
	"$r2/runs.csv" 2>&1)
check "invalid-flagged" "verdict: $reason" grep -qE '^0 .*(held only|connections were established)' <<<"$reason"
check "invalid-progress" "the progress line did not say INVALID" grep -q "INVALID: " "$tmp/r2.log"
check "invalid-report" "report.md does not list the invalid run" \
	grep -qE "^\| [0-9]+-${models[0]}-idle-c=30-r1 .*(held only|established)" "$r2/report.md"

# --- select refuses connections past FD_SETSIZE: recorded, and the run goes on ---------------
if [[ -x $BIN/select ]]; then
	r5=$tmp/r5
	bench --quick --reps 1 --models select --scenarios efficiency --idle-conns 1100 \
		--out "$r5" >"$tmp/r5.log" 2>&1
	rc=$?
	verdict=$(python3 -c 'import csv,sys; print([r["valid"] + " " + r["invalid_reason"] for r in csv.DictReader(open(sys.argv[1])) if r["point"].endswith("idle")])' \
		"$r5/runs.csv" 2>&1)
	check "select-refusal-recorded" "exit $rc, the idle point: $verdict" \
		grep -q "^\['0 .*select refused connections: .*FD_SETSIZE" <<<"$verdict"
	check "select-refusal-report" "report.md does not say select refused" \
		grep -q "✗ refused" "$r5/report.md"
fi

# --- the reference servers: in the same rounds, n/a where nginx cannot serve, paired verdicts --
if [[ -x $BIN/ref-go && -x $BIN/ref-nginx ]] && PATH=$PATH:/usr/sbin command -v nginx >/dev/null; then
	r4=$tmp/r4
	bench --duration 1 --warmup 0 --reps 2 --models epoll --refs "nginx go" \
		--scenarios "http blocking" --conns 10 --out "$r4" >"$tmp/r4.log" 2>&1
	rc=$?
	check "refs-run" "exit $rc: $(tail -n 3 "$tmp/r4.log")" test "$rc" = 0
	# (model scenario point) of every row: nginx has no /block, so it sits out that point.
	got=$(python3 -c 'import csv,sys; print(" ".join(sorted({r["model"] + ":" + r["scenario"] + ":" + r["point"]
		for r in csv.DictReader(open(sys.argv[1]))})))' "$r4/runs.csv" 2>&1)
	want="epoll:blocking:alone epoll:blocking:with /block epoll:blocking:with /work"
	want+=" epoll:http:c=10 go:blocking:alone go:blocking:with /block go:blocking:with /work"
	want+=" go:http:c=10 nginx:blocking:alone nginx:http:c=10"
	check "refs-rows" "rows for $got" test "$got" = "$want"
	check "refs-rounds" "not 2 rounds of each run" \
		test "$(($(wc -l <"$r4/runs.csv") - 1))" = 20
	check "refs-n/a" "report.md has no n/a cell for nginx with /block" \
		grep -q '^| with /block | .* | n/a | ' "$r4/report.md"
	check "refs-named" "the report's tables do not name the references" \
		grep -q '^| point | epoll | nginx (reference) | Go net/http (reference) |$' "$r4/report.md"
	check "refs-verdicts" "report.md lacks the paired verdicts of epoll against nginx" \
		grep -q '^### epoll against nginx$' "$r4/report.md"
	check "refs-plot" "the HTTP plot does not name nginx (reference)" \
		grep -q 'nginx (reference)' "$r4/plots/http_throughput.svg"
	check "refs-skipped-note" "no note that nginx sits out /block" \
		grep -q 'nginx in blocking (with /block, with /work): no /block; no /work' "$r4/env.txt"
elif [[ -n ${CI:-} ]]; then
	bad "refs" "$BIN/ref-go or nginx is missing (CI installs golang-go and nginx-light)"
else
	echo "skip refs: $BIN/ref-go or nginx is missing (golang-go, nginx-light)"
fi

# --- Ctrl-C: SIGINT to the runner's process group --------------------------------------------
r3=$tmp/r3
fork_too=${models[*]}
[[ -x $BIN/fork ]] && fork_too="fork ${models[0]}"   # a fork server's children must go too
# The runner leads a process group of its own (setpgid, then exec: same pid), as a command
# typed at a terminal does; Ctrl-C there sends SIGINT to that whole group.
python3 -c 'import os, sys; os.setpgid(0, 0); os.execvp(sys.argv[1], sys.argv[1:])' \
	python3 -m harness.bench --bin "$BIN" --refs "" --duration 2 --warmup 0 --models "$fork_too" \
	--scenarios http --conns 1,10,100,1000 --out "$r3" >"$tmp/r3.log" 2>&1 &
runner=$!
group=$runner
for _ in $(seq 300); do        # until one run is in runs.csv and the next one is going
	(($(cat "$r3/runs.csv" 2>/dev/null | wc -l) >= 2)) && break
	sleep 0.1
done
sleep 0.5
kill -INT -- "-$group"
for _ in $(seq 300); do kill -0 "$runner" 2>/dev/null || break; sleep 0.1; done
wait "$runner"
rc=$?
left=
for _ in $(seq 50); do         # the group's last processes may take a moment to be reaped
	left=$(pgrep -g "$group" -a)
	[[ -z $left ]] && break
	sleep 0.1
done
check "ctrl-c-exit" "runner exit $rc (expected 130): $(tail -n 3 "$tmp/r3.log")" test "$rc" = 130
check "ctrl-c-no-process-left" "still running: $left" test -z "$left"
[[ -z $left ]] && group=
kept=$(($(wc -l <"$r3/runs.csv") - 1))
check "ctrl-c-runs-kept" "$kept runs kept" test "$kept" -ge 1 -a "$kept" -lt 8
check "ctrl-c-report" "no report after Ctrl-C" test -s "$r3/report.html" -a -s "$r3/report.md"
check "ctrl-c-recorded" "env.txt does not say it was interrupted" grep -q "^runs: .*interrupted" "$r3/env.txt"

echo "$pass passed, $fail failed"
