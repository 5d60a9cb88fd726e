#!/usr/bin/env bash
# `make bench` across hosts, on one machine: network namespaces play a server host and two
# client hosts, each with an sshd of its own (tests/remote/rig.sh), on a private subnet that
# exists only inside them, the links shaped by LINK (default "rate=1gbit": tc tbf). The
# runner runs in a fourth namespace, as on a laptop.
#   - hosts the runner must refuse (no ssh, no rsync, another architecture): one line, exit
#     code 2, before any run;
#   - a scaled-down bench across the hosts: the same columns, rows and plots as the same plan
#     run locally; env.txt names the three hosts and the link; each run's request count is the
#     sum of the hosts' counts (hosts.csv); the server was measured on its host;
#   - Ctrl-C in the middle of a run leaves nothing running on any host;
#   - REMOTE_BUILD: the source built on each host, one of them another architecture (i686);
#   - a generator that dies makes its run invalid with its host's name, and the others go on;
#   - the rig is removed: no namespace, veth, sshd, server or ssh connection is left.
# Needs root, ip, tc, sshd (openssh-server), rsync; without them it is skipped (under CI=1,
# failed). The HTTP plot over the shaped link is kept in $BUILD/remote-bench/.
# Env (from make test): BIN, BUILD, SAN, LINK.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
BUILD=${BUILD:-build}
LINK=${LINK-rate=1gbit}
pass=0 fail=0
ok() { echo "ok remote/$1"; pass=$((pass + 1)); }
bad() { echo "FAIL remote/$1: $2"; fail=$((fail + 1)); }
check() {   # check NAME WHY-IF-FALSE COMMAND...
	local name=$1 why=$2
	shift 2
	if "$@"; then ok "$name"; else bad "$name" "$why"; fi
}
finish() { echo "$pass passed, $fail failed"; exit $((fail > 0)); }
skip() {
	if [[ -n ${CI:-} ]]; then bad "setup" "$1"; else echo "skip remote: $1"; fi
	finish
}

if [[ -n ${SAN:-} ]]; then
	echo "skip remote: nothing for the sanitizers here (the binaries are those of the bench suite)"
	finish
fi
((EUID == 0)) || skip "network namespaces need root"
for tool in ip tc ssh rsync wrk setarch; do
	command -v "$tool" >/dev/null || skip "$tool is not installed (iproute2, openssh-client, rsync, wrk, util-linux)"
done
[[ -x /usr/sbin/sshd ]] || skip "sshd is not installed (Debian: openssh-server)"
[[ -x $BIN/epoll && -x $BIN/loadgen ]] || skip "$BIN/epoll and $BIN/loadgen are not built"

tmp=$(mktemp -d /tmp/c10k-remote.XXXXXX)
rig=$tmp/rig
mkdir "$rig"
group=
cleanup() {
	[[ -n $group ]] && kill -KILL -- "-$group" 2>/dev/null
	tests/remote/rig.sh down "$rig" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- LINK: what the rig refuses -----------------------------------------------------------
mkdir "$tmp/rig-bad"
out=$(timeout 60 tests/remote/rig.sh up "$tmp/rig-bad" "speed=fast" 2>&1)
check "link-bad" "exit $?: $out" test $? = 2 -a "$(wc -l <<<"$out")" = 1 -a -n "$(grep "LINK: 'speed=fast'" <<<"$out")"
mkdir "$tmp/rig-delay"
out=$(timeout 60 tests/remote/rig.sh up "$tmp/rig-delay" "rate=1gbit,delay=5ms" 2>&1)
rc=$?
if ((rc == 2)); then   # this kernel has no netem: one line saying so, and nothing made
	check "link-delay" "$out" test "$(wc -l <<<"$out")" = 1 -a -n "$(grep "delay=5ms needs the netem" <<<"$out")" \
		-a -z "$(ls -A "$tmp/rig-delay")"
else
	check "link-delay" "exit $rc: $out" test "$rc" = 0 -a -n "$(ip netns exec "$(cat "$tmp/rig-delay/ctl")" tc qdisc show | grep netem)"
	tests/remote/rig.sh down "$tmp/rig-delay"
fi

# --- the rig --------------------------------------------------------------------------------
out=$(timeout 60 tests/remote/rig.sh up "$rig" "$LINK" 2>&1)
rc=$?
if ((rc != 0)); then
	bad "rig-up" "exit $rc: $out"
	finish
fi
ok "rig-up"
id=$(cat "$rig/id")
ctl=$(cat "$rig/ctl")
in_ctl() { ip netns exec "$ctl" "$@"; }
bench() {   # the runner in ctl, on the rig's hosts (a later --server-host or --client-hosts wins)
	in_ctl env TMPDIR="$tmp" timeout 300 python3 -m harness.bench --bin "$BIN" --refs "" \
		--ssh-config "$rig/ssh_config" \
		--remote-dir "$tmp/remote" --server-host srv --client-hosts "cli1 cli2" "$@"
}
# The processes on a host other than its sshds: what the runner left there.
left_on() {
	local sshds pid
	sshds=" $(cut -d' ' -f1 "$rig/pids" | tr '\n' ' ') "
	for pid in $(ip netns pids "$id-$1"); do
		[[ $sshds == *" $pid "* ]] || echo -n "$(ps -o comm= -p "$pid") "
	done
}
nothing_left() {   # waits up to 10 s for the hosts to be empty; prints what stays
	local _ left
	for _ in $(seq 100); do
		left=$(for h in srv cli1 cli2; do l=$(left_on $h); [[ -n $l ]] && echo -n "$h: $l"; done)
		[[ -z $left ]] && return 0
		sleep 0.1
	done
	echo "$left"
}

# --- hosts it must refuse, before any run -----------------------------------------------------
for bad_host in refuser norsync otherarch; do
	bench --quick --models epoll --scenarios http --conns 2 --client-hosts "cli1 $bad_host" \
		--out "$tmp/refused-$bad_host" >"$tmp/refused.out" 2>"$tmp/refused.err"
	rc=$?
	err=$(cat "$tmp/refused.err")
	case $bad_host in
	refuser) why="ssh failed: .*refused" ;;
	norsync) why="lacks rsync" ;;
	otherarch) why="is i686, this machine is $(uname -m)" ;;
	esac
	check "refuse-$bad_host" "exit $rc, stderr: $err" \
		test "$rc" = 2 -a "$(wc -l <<<"$err")" = 1 -a -n "$(grep -E "client 2 host $bad_host(:| ).*$why" <<<"$err")"
	check "refuse-$bad_host-no-run" "a run started: $(ls "$tmp/refused-$bad_host" 2>&1)" \
		test ! -e "$tmp/refused-$bad_host"
done
check "refuse-leaves-nothing" "left: $(ls -A "$tmp/remote" 2>/dev/null)" \
	test -z "$(ls -A "$tmp/remote" 2>/dev/null)"

# --- one plan across the hosts, and the same plan here ----------------------------------------
plan=(--quick --duration 1 --warmup 1 --models epoll --scenarios "http echo openloop" --conns 10)
remote=$tmp/remote-results
bench "${plan[@]}" --out "$remote" >"$tmp/remote.log" 2>&1
rc=$?
check "run" "exit $rc: $(tail -n 5 "$tmp/remote.log" | tr '\n' ' ')" test "$rc" = 0
local_=$tmp/local-results
timeout 300 python3 -m harness.bench --bin "$BIN" --refs "" "${plan[@]}" --out "$local_" \
	>"$tmp/local.log" 2>&1
rc=$?
check "run-local" "exit $rc: $(tail -n 5 "$tmp/local.log" | tr '\n' ' ')" test "$rc" = 0

check "same-columns" "runs.csv headers differ" \
	test "$(head -n 1 "$remote/runs.csv")" = "$(head -n 1 "$local_/runs.csv")"
rows() { python3 -c 'import csv, sys; print(" ".join(sorted(r["model"] + ":" + r["scenario"] + ":" + r["point"]
	for r in csv.DictReader(open(sys.argv[1])))))' "$1"; }
check "same-rows" "remote: $(rows "$remote/runs.csv"); local: $(rows "$local_/runs.csv")" \
	test -n "$(rows "$remote/runs.csv")" -a "$(rows "$remote/runs.csv")" = "$(rows "$local_/runs.csv")"
check "same-summary" "summary.csv headers or row counts differ" \
	test "$(head -n 1 "$remote/summary.csv")" = "$(head -n 1 "$local_/summary.csv")" \
	-a "$(wc -l <"$remote/summary.csv")" = "$(wc -l <"$local_/summary.csv")"
# The same plots: which are drawn depends on which runs were valid, and on this loaded
# machine that is chance; so both are redrawn with every run counted valid, and compared.
plots() {   # the plots drawn from a copy of $1 whose runs all count as valid
	rm -rf "$tmp/redraw" && cp -r "$1" "$tmp/redraw" && rm -rf "$tmp/redraw/plots"
	python3 - "$tmp/redraw/runs.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[1], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=rows[0].keys())
    w.writeheader()
    w.writerows({**r, "valid": "1", "invalid_reason": ""} for r in rows)
PY
	python3 -m scripts.plots "$tmp/redraw" >/dev/null 2>&1 && cut -f1 "$tmp/redraw/plots/index.txt" | sort | tr '\n' ' '
}
remote_plots=$(plots "$remote") local_plots=$(plots "$local_")
check "same-plots" "remote: $remote_plots; local: $local_plots" \
	test -n "$remote_plots" -a "$remote_plots" = "$local_plots"
why=
while IFS=$'\t' read -r name _ _; do
	[[ -s $remote/plots/$name.png && -s $remote/plots/$name.svg ]] || why+="$name "
done <"$remote/plots/index.txt"
check "plots-drawn" "missing: $why" test -z "$why" -a -s "$remote/plots/http_throughput.png"
check "report" "no report" test -s "$remote/report.html" -a -s "$remote/report.md"

for role in "server host: srv" "client 1 host: cli1" "client 2 host: cli2"; do
	check "env-${role%% *}-${role##* }" "env.txt lacks '$role'" grep -q "^$role: .*cpus.*kernel" "$remote/env.txt"
done
check "env-link" "env.txt does not give the link's address and MTU" \
	grep -qE "^server link: to 10\.214\.14\.2: eth0, mtu [0-9]+" "$remote/env.txt"
if [[ $LINK == *rate=* ]]; then
	check "env-link-shaped" "env.txt does not show the token bucket" \
		grep -qE "^client 1 link: .* qdisc tbf rate" "$remote/env.txt"
fi

# Each run's requests are the sum of its hosts' (load 0: the measured one), both hosts ran,
# the server was measured on its host (rusage and /proc), and the merged histogram is there.
why=$(python3 - "$remote" <<'PY'
import csv, os, sys
out = sys.argv[1]
hosts = {}
for h in csv.DictReader(open(os.path.join(out, "hosts.csv"))):
    if h["load"] == "0":
        hosts.setdefault(h["run"], []).append(h)
for r in csv.DictReader(open(os.path.join(out, "runs.csv"))):
    name, parts = r["run"], hosts.get(r["run"], [])
    if sorted(p["host"] for p in parts) != ["cli1", "cli2"]:
        print(name, "ran on", [p["host"] for p in parts])
        continue
    total = sum(int(p["requests"] or 0) for p in parts)
    if int(r["requests"] or -1) != total or total <= 0:
        print(name, "requests", r["requests"], "but the hosts say", total)
    if sum(int(p["conns"]) for p in parts) != int(r["conns"]):
        print(name, "connections not split over the hosts")
    if r["point"] != "capacity" and r["scenario"] == "openloop":
        rates = [float(p["rate"]) for p in parts]
        if abs(sum(rates) - float(r["target_rate"])) > 1 or abs(rates[0] - rates[1]) > 1:
            print(name, "rate", r["target_rate"], "split as", rates)
    for col in ("server_user_s", "server_sys_s", "server_vcsw", "server_peak_pss_kb",
                "server_threads", "gen_user_s"):
        if r[col] == "":
            print(name, "has no", col)
    if not r["hgrm"] or not os.path.getsize(os.path.join(out, r["hgrm"])):
        print(name, "has no merged histogram")
PY
)
check "merged-counts" "$why" test -z "$why"
check "server-measured-there" "server log lacks its start-up line on 10.214.14.2" \
	grep -q "listening on 10.214.14.2:" "$(ls "$remote"/logs/*-epoll-http-c=10-r1.server.log | head -n 1)"

# The HTTP plot over the shaped link stays, for a look.
keep=$BUILD/remote-bench
rm -rf "$keep" && mkdir -p "$keep" && cp -r "$remote/." "$keep/"
echo "info: the HTTP plot across the namespaces (LINK=\"$LINK\"): $keep/plots/http_throughput.png"

check "remote-dirs-removed" "left: $(ls -A "$tmp/remote" 2>/dev/null)" \
	test -z "$(ls -A "$tmp/remote" 2>/dev/null)"
left=$(nothing_left)
check "run-leaves-nothing" "left on the hosts: $left" test -z "$left"

# --- Ctrl-C in the middle of a run --------------------------------------------------------------
python3 -c 'import os, sys; os.setpgid(0, 0); os.execvp(sys.argv[1], sys.argv[1:])' \
	ip netns exec "$ctl" env TMPDIR="$tmp" python3 -m harness.bench --bin "$BIN" --refs "" \
	--ssh-config "$rig/ssh_config" \
	--remote-dir "$tmp/remote" --server-host srv --client-hosts "cli1 cli2" --duration 30 \
	--warmup 0 --models epoll --scenarios echo --conns 10 --out "$tmp/ctrl-c" \
	>"$tmp/ctrl-c.log" 2>&1 &
runner=$!
group=$runner
for _ in $(seq 600); do   # until a generator runs on each client host
	[[ $(left_on cli1) == *loadgen* && $(left_on cli2) == *loadgen* ]] && break
	sleep 0.1
done
during="srv: $(left_on srv); cli1: $(left_on cli1)"
kill -INT -- "-$group"
for _ in $(seq 300); do kill -0 "$runner" 2>/dev/null || break; sleep 0.1; done
wait "$runner"
rc=$?
group=
check "ctrl-c-was-running" "no server and generators seen: $during" \
	grep -q "epoll.*cli1:.*loadgen" <<<"$during"
check "ctrl-c-exit" "runner exit $rc (expected 130): $(tail -n 3 "$tmp/ctrl-c.log" | tr '\n' ' ')" \
	test "$rc" = 130
left=$(nothing_left)
check "ctrl-c-leaves-nothing" "left on the hosts: $left" test -z "$left"
check "ctrl-c-remote-dirs-removed" "left: $(ls -A "$tmp/remote" 2>/dev/null)" \
	test -z "$(ls -A "$tmp/remote" 2>/dev/null)"

# --- REMOTE_BUILD: the source sent and built on each host, which may then be another arch --------
bench --remote-build --quick --duration 1 --warmup 0 --models epoll --scenarios echo --conns 4 \
	--client-hosts "cli1 otherarch" --out "$tmp/built" >"$tmp/built.log" 2>&1
rc=$?
requests=$(python3 -c 'import csv, sys; print(sum(int(r["requests"] or 0) for r in csv.DictReader(open(sys.argv[1]))
	if r["host"] == "otherarch"))' "$tmp/built/hosts.csv" 2>&1)
check "remote-build" "exit $rc, otherarch's requests: $requests; $(tail -n 3 "$tmp/built.log" | tr '\n' ' ')" \
	test "$rc" = 0 -a "${requests:-0}" -gt 0 2>/dev/null
check "remote-build-env" "env.txt does not say client 2 is i686" \
	grep -q "^client 2 host: otherarch: .*, i686, " "$tmp/built/env.txt"
check "remote-build-removed" "left: $(ls -A "$tmp/remote" 2>/dev/null)" \
	test -z "$(ls -A "$tmp/remote" 2>/dev/null)"

# --- a generator that dies: its run is invalid and names its host; the others go on ----------
bench --duration 8 --warmup 0 --models epoll --scenarios echo --conns 4,6 --out "$tmp/lost" \
	>"$tmp/lost.log" 2>&1 &
runner=$!
killed=
for _ in $(seq 600); do   # a generator on cli2, killed as a crash would
	pid=$(for p in $(ip netns pids "$id-cli2"); do [[ $(ps -o comm= -p "$p") == loadgen ]] && echo "$p"; done)
	# One seen may have ended before the kill (on a loaded machine, often): look again.
	if [[ -n $pid ]] && kill -KILL $pid 2>/dev/null; then killed=$pid; break; fi
	sleep 0.1
done
wait "$runner"
rc=$?
reasons=$(python3 -c 'import csv, sys; print(" | ".join(r["point"] + ": " + r["invalid_reason"]
	for r in csv.DictReader(open(sys.argv[1]))))' "$tmp/lost/runs.csv" 2>&1)
check "lost-generator" "killed '$killed', exit $rc, runs: $reasons" \
	test -n "$killed" -a "$rc" = 0 -a "$(grep -o 'client host cli2: loadgen' <<<"$reasons" | wc -l)" = 1
check "lost-generator-runs-go-on" "not every run is in runs.csv: $reasons" \
	grep -q "^c=4: .* | c=6: " <<<"$reasons"
left=$(nothing_left)
check "lost-generator-leaves-nothing" "left on the hosts: $left" test -z "$left"

# --- the rig goes, and the test checks that it went ------------------------------------------
sshd_pids=$(cut -d' ' -f1 "$rig/pids" | tr '\n' ' ')
out=$(timeout 60 tests/remote/rig.sh down "$rig" 2>&1)
check "rig-down" "$out" test $? = 0
check "no-namespace" "still there: $(ip netns list | grep "^$id-")" test -z "$(ip netns list | grep "^$id-")"
alive=
for pid in $sshd_pids; do kill -0 "$pid" 2>/dev/null && alive+="$pid "; done
check "no-sshd" "sshd still running: $alive" test -z "$alive"
check "no-veth" "a veth of the rig is in this namespace" test -z "$(ip -o link show | grep -E 'v-(srv|cli1|cli2)@')"
check "no-control-dir" "the runner left its ssh control directories: $(ls -d "$tmp"/c10k-ssh-* 2>/dev/null)" \
	test -z "$(ls -d "$tmp"/c10k-ssh-* 2>/dev/null)"
check "no-ssh-connection" "ssh still running: $(pgrep -af -- "$rig/ssh_config")" \
	test -z "$(pgrep -f -- "$rig/ssh_config")"
finish
