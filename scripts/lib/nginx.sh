# scripts/lib/nginx.sh: a throwaway nginx for comparisons: one worker, access log off, on a
# loopback port, answering every path with "Hello, World!" like our /plaintext.
# Source it, then:  nginx_start CPU   (sets NGINX_PORT, NGINX_PID, NGINX_DIR);  nginx_stop

# Starts nginx pinned to CPU on a free port below the ephemeral range (32768 up), where no
# connection's own end can be; tries a few ports.
nginx_start() {
	local cpu=$1 try
	for try in 1 2 3 4 5; do
		NGINX_PORT=$((20000 + RANDOM % 12000))
		nginx_start_on "$NGINX_PORT" "$cpu" 2>/dev/null && return 0
		nginx_stop
	done
	echo "nginx did not start (5 ports tried)" >&2
	return 1
}

nginx_start_on() {
	local port=$1 cpu=$2
	command -v nginx >/dev/null || { echo "nginx not found (apt-get install nginx-light)" >&2; return 1; }
	NGINX_DIR=$(mktemp -d)
	cat >"$NGINX_DIR/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $NGINX_DIR/error.log;
pid $NGINX_DIR/nginx.pid;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$port reuseport;
        location / { default_type text/plain; return 200 "Hello, World!"; }
    }
}
CONF
	taskset -c "$cpu" nginx -c "$NGINX_DIR/nginx.conf" -p "$NGINX_DIR" &
	NGINX_PID=$!
	local i
	for i in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.05
	done
	echo "nginx did not start; see $NGINX_DIR/error.log" >&2
	return 1
}

nginx_stop() {
	[[ -n ${NGINX_PID:-} ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	[[ -n ${NGINX_DIR:-} ]] && rm -rf "$NGINX_DIR"
	NGINX_PID= NGINX_DIR=
}
