#!/usr/bin/env bash
# ref-nginx: the reference event loop everyone deploys, Debian's nginx, behind a model's
# command line. It writes a config into a fresh directory, runs nginx in the foreground
# (a master and --workers worker processes), prints a model's start-up line once nginx
# listens, and on SIGINT or SIGTERM stops nginx, removes the directory and exits 0.
#
# nginx serves what it can serve without a program of its own: GET / and /plaintext
# ("Hello, World!") and /json (a literal, not encoded per request), each a `return 200`;
# anything else is a 404. No echo protocol. The build copies this file to build/bin/ref-nginx.
set -u
PATH=$PATH:/usr/sbin   # where Debian puts nginx, off a user's PATH
name=ref-nginx
version=0.1.0

usage() {
	echo "usage: $name [--host ADDR] [--port N] [--proto http] [--workers N]"
	echo "       ${name//?/ } [--max-conns N] [--idle-timeout SEC] [--header-timeout SEC]"
	echo "       ${name//?/ } [--help] [--version]"
}

cpus=$(nproc)
host=127.0.0.1 port=8080 workers=$cpus max_conns=10000 idle=60 header=10

help() {
	usage
	cat <<HELP

$name: nginx, one event loop per worker process (epoll), configured for the benchmark

  --host ADDR         address to listen on (default 127.0.0.1)
  --port N            TCP port; 0 takes a free one (default 8080)
  --proto http        protocol: http only (nginx has no echo server)
  --workers N         worker processes (default $cpus, at most 1024)
  --max-conns N       connections per worker (default $max_conns; worker_connections gets
                      an eighth more: nginx closes idle ones when nearly full)
  --idle-timeout SEC  keep-alive and read/send time-outs; 0: never (default 60)
  --header-timeout SEC  client_header_timeout: a request head must come within SEC, or
                      408 (default 10, as the models; nginx's own is 60); 0: never
  --help, --version

When ready it prints "listening on ADDR:PORT"; SIGINT or SIGTERM stops it.
HTTP routes: GET / /plaintext /json (return 200); every other path is a 404.
HELP
}

# A bad command line: one line naming the problem, the usage, exit code 2.
die_usage() {
	echo "$name: $*" >&2
	usage >&2
	exit 2
}

uint() {   # option value lo hi
	local v=$2
	if ! [[ $v =~ ^[0-9]{1,9}$ ]] || ((10#$v < $3 || 10#$v > $4)); then
		die_usage "$1: '$v' is not a whole number from $3 to $4"
	fi
	echo $((10#$v))
}

while (($#)); do
	opt=$1 value='' has_value=0
	case $opt in
	--*=*) value=${opt#*=} opt=${opt%%=*} has_value=1 ;;
	esac
	case $opt in
	--help) ((has_value)) && die_usage "unknown option '$1'"; help; exit 0 ;;
	--version) ((has_value)) && die_usage "unknown option '$1'"
		echo "$name (c10k-lab) $version, $(nginx -v 2>&1 | sed 's/^nginx version: //')"; exit 0 ;;
	--host | --port | --proto | --workers | --max-conns | --idle-timeout | --header-timeout)
		if ((!has_value)); then
			(($# >= 2)) || die_usage "$opt needs a value"
			value=$2
			shift
		fi
		case $opt in
		--host) host=$value ;;
		--port) port=$(uint --port "$value" 0 65535) || exit 2 ;;
		--proto)
			[[ $value == http ]] || { [[ $value == echo ]] &&
				die_usage "--proto: nginx has no echo server; http only"; } ||
				die_usage "--proto: '$value' is not http or echo" ;;
		--workers) workers=$(uint --workers "$value" 1 1024) || exit 2 ;;
		--max-conns) max_conns=$(uint --max-conns "$value" 1 10000000) || exit 2 ;;
		--idle-timeout) idle=$(uint --idle-timeout "$value" 0 86400) || exit 2 ;;
		--header-timeout) header=$(uint --header-timeout "$value" 0 86400) || exit 2 ;;
		esac ;;
	--) shift; (($#)) && die_usage "unexpected argument '$1'"; break ;;
	--*) die_usage "unknown option '$1'" ;;
	-?*) die_usage "unknown option '${1:0:2}'" ;;
	*) die_usage "unexpected argument '$1'" ;;
	esac
	shift
done
[[ $host =~ ^[0-9.]+$ || $host =~ ^[0-9a-fA-F:]+$ || $host == localhost ]] ||
	die_usage "--host: '$host' is not an address"
command -v nginx >/dev/null || { echo "$name: nginx not found (apt-get install nginx-light)" >&2; exit 1; }

# nginx cannot take port 0: pick a free port outside the kernel's ephemeral range (where
# no connection's own end can take it meanwhile), and try again if another server took it.
listening_port_in_use() {
	local hex
	printf -v hex ':%04X ' "$1"
	grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
pick_port() {
	local lo hi
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	while :; do
		if ((lo > 12000)); then
			p=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
		else
			p=$((hi + 1 + (RANDOM * 32768 + RANDOM) % (65535 - hi)))
		fi
		listening_port_in_use "$p" || break
	done
	echo "$p"
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null   # many connections want many descriptors
dir=$(mktemp -d "${TMPDIR:-/tmp}/ref-nginx.XXXXXX") || exit 1
nginx_pid=
# shellcheck disable=SC2317   # run by the EXIT trap
cleanup() {
	if [[ -n $nginx_pid ]] && kill -TERM "$nginx_pid" 2>/dev/null; then
		wait "$nginx_pid"
	fi
	[[ -s $dir/stderr ]] && cat "$dir/stderr" >&2   # nginx's own complaints, if any
	rm -rf "$dir"
}
trap cleanup EXIT
# Until nginx runs, a stop is just an exit (the EXIT trap cleans up); then it is passed on.
trap 'exit 0' INT TERM

write_config() {   # port
	local keep=${idle}s
	((idle == 0)) && keep=3650d   # 0 would turn keep-alive off; "never" is ten years
	local head=${header}s
	((header == 0)) && head=3650d
	# nginx closes idle keep-alive connections, 32 at a time, once fewer than a sixteenth of
	# its worker_connections are free (ngx_drain_connections): at --max-conns 1064 it closed 32
	# of 1,000 idle clients. The headroom keeps --max-conns connections out of its reach.
	local slots=$((max_conns + max_conns / 8 + 16))
	local listen_host=$host
	[[ $host == *:* ]] && listen_host="[$host]"
	cat >"$dir/nginx.conf" <<CONF
# Written by ref-nginx; removed when it stops.
worker_processes $workers;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log stderr error;
events { worker_connections $slots; }
http {
    access_log off;
    keepalive_requests 1000000000;     # keep-alive unlimited, as the models
    keepalive_timeout $keep;
    client_header_timeout $head;
    client_body_timeout $keep;
    send_timeout $keep;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen $listen_host:$1 backlog=65535;   # the models' listen queue
        default_type text/plain;
        location = / { return 200 "Hello, World!"; }
        location = /plaintext { return 200 "Hello, World!"; }
        location = /json { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
        location / { return 404 "404 Not Found: no such path; try /, /plaintext, /json\n"; }
    }
}
CONF
}

# Starts nginx on port $1 and waits until it listens (it writes its pid file after opening
# its sockets). Returns 1 if it exited instead.
start_nginx() {
	write_config "$1"
	nginx -e stderr -p "$dir" -c "$dir/nginx.conf" 2>"$dir/stderr" &
	nginx_pid=$!
	trap 'stopping=1; kill -TERM "$nginx_pid" 2>/dev/null' INT TERM
	while [[ ! -s $dir/nginx.pid ]]; do
		kill -0 "$nginx_pid" 2>/dev/null || { wait "$nginx_pid"; return 1; }
		sleep 0.01
	done
}

tries=1 stopping=0
((port == 0)) && tries=10
for ((i = 0; ; i++)); do
	p=$port
	((port == 0)) && p=$(pick_port)
	start_nginx "$p" && break
	nginx_pid=
	((stopping)) && exit 0
	trap 'exit 0' INT TERM
	if ((i + 1 >= tries)) || ! grep -q 'Address already in use' "$dir/stderr"; then
		echo "$name: nginx did not start: $(grep -v '^\s*$' "$dir/stderr" | tail -n 1)" >&2
		rm -f "$dir/stderr"
		exit 1
	fi
done

if [[ $host == *:* ]]; then addr="[$host]:$p"; else addr="$host:$p"; fi
echo "listening on $addr ($name, http, pid $$)"

# A trapped signal ends `wait` early (128 + its number), nginx still running or just gone:
# wait again, and the second wait gives nginx's own exit status (0 after a stop).
while :; do
	wait "$nginx_pid"
	rc=$?
	((rc > 128 && stopping)) || break
	kill -0 "$nginx_pid" 2>/dev/null && continue
	wait "$nginx_pid"
	again=$?
	((again != 127)) && rc=$again   # 127: no status left to give
	break
done
nginx_pid=
exit "$rc"
