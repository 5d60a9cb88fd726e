#!/usr/bin/env bash
# tests/remote/rig.sh: three "hosts" on one machine, for testing `make bench` across hosts.
#
#   rig.sh up DIR [LINK]    make the rig; DIR (empty, made by the caller) keeps its state
#   rig.sh down DIR         remove everything `up` made; says what it found left behind
#
# Four network namespaces: ctl, where the runner runs (the user's laptop), and srv, cli1 and
# cli2, the hosts. Each host is joined to a bridge in ctl by a veth pair, on the private
# subnet 10.214.14.0/24 that exists only inside these namespaces: ctl .1, srv .2, cli1 .3,
# cli2 .4. Nothing is added to the machine's own namespace, so two rigs never collide and
# no traffic leaves them. Each host runs an sshd of its own (Debian's openssh-server) on
# port 22 of its address, with a host key and a client key made for the rig; DIR/ssh_config
# names the hosts srv, cli1 and cli2 for `ssh -F DIR/ssh_config`.
#
# Two more sshds on cli2 play hosts the runner must refuse: port 2201 under `setarch
# linux32` (its uname -m is i686, another architecture), port 2202 with a PATH without
# rsync. The ssh names "norsync", "otherarch" and "refuser" (a port nobody listens on) reach
# them.
#
# LINK shapes the links like a network: "rate=1gbit" puts a token bucket (tc tbf) on both
# ends of each veth; "delay=5ms" needs netem, which some kernels lack: then it says so and
# makes nothing. Everything is bounded in time; `down` kills by the pids `up` recorded.
set -u
SUBNET=10.214.14
HOSTS=(srv cli1 cli2)
declare -A ADDR=([ctl]=1 [srv]=2 [cli1]=3 [cli2]=4)

die() { echo "rig: $*" >&2; exit 2; }

usage() { die "usage: rig.sh up DIR [LINK] | down DIR"; }

ns() { echo "$(cat "$dir/id")-$1"; }

# LINK ("rate=1gbit,delay=5ms") into tc's words; says why and fails on what cannot be.
parse_link() {
	rate= delay=
	local part
	for part in ${1//,/ }; do
		case $part in
		rate=?*) rate=${part#rate=} ;;
		delay=?*) delay=${part#delay=} ;;
		*) die "LINK: '$part' is not rate=RATE or delay=TIME (e.g. LINK=\"rate=1gbit\")" ;;
		esac
	done
	[[ -z $rate || $rate =~ ^[0-9]+(\.[0-9]+)?([kmg]?bit)$ ]] ||
		die "LINK: rate '$rate' is not a rate like 100mbit or 1gbit"
	[[ -z $delay || $delay =~ ^[0-9]+(\.[0-9]+)?(us|ms|s)$ ]] ||
		die "LINK: delay '$delay' is not a time like 5ms"
	if [[ -n $delay ]] && ! netem_works; then
		die "LINK: delay=$delay needs the netem queueing discipline, which this kernel lacks (tc: 'Specified qdisc kind is unknown'); use rate= alone"
	fi
	return 0
}

netem_works() {   # tries netem on a scratch namespace's loopback
	local probe
	probe="c10k-netem-probe-$$"
	ip netns add "$probe" 2>/dev/null || return 1
	ip -n "$probe" link set lo up
	tc -n "$probe" qdisc add dev lo root netem delay 1ms 2>/dev/null
	local rc=$?
	ip netns del "$probe"
	return $rc
}

# The token bucket's burst must hold at least a timer tick's worth of bytes at the rate.
shape() {   # namespace device
	local qdisc=()
	if [[ -n $delay ]]; then
		tc -n "$1" qdisc add dev "$2" root handle 1: netem delay "$delay" || return 1
		qdisc=(parent 1:1 handle 10:)
	fi
	if [[ -n $rate ]]; then
		tc -n "$1" qdisc add dev "$2" "${qdisc[@]:-root}" tbf rate "$rate" burst 1mbit \
			latency 50ms || return 1
	fi
}

up() {
	[[ -d $dir && -z $(ls -A "$dir") ]] || die "up: $dir must be an empty directory"
	parse_link "$link"
	for tool in ip tc ssh ssh-keygen rsync setarch; do
		command -v "$tool" >/dev/null || die "$tool is not installed (iproute2, openssh-client, rsync, util-linux)"
	done
	[[ -x /usr/sbin/sshd ]] || die "/usr/sbin/sshd is not installed (Debian: openssh-server)"
	((EUID == 0)) || die "network namespaces need root"
	# A name of our own for the namespaces, which two rigs at once (two `make test`) never
	# share: the first ctl namespace that `ip netns add` could make, which no one else can.
	local n
	for n in $(seq 20); do
		echo "c10k-$$-$RANDOM" >"$dir/id"
		ip netns add "$(ns ctl)" 2>/dev/null && break
		rm "$dir/id"
	done
	[[ -f $dir/id ]] || die "ip netns add failed"
	echo "$(ns ctl)" >>"$dir/namespaces"
	echo "$link" >"$dir/link"
	: >"$dir/pids"

	ip -n "$(ns ctl)" link set lo up
	ip -n "$(ns ctl)" link add br0 type bridge
	ip -n "$(ns ctl)" addr add "$SUBNET.${ADDR[ctl]}/24" dev br0
	ip -n "$(ns ctl)" link set br0 up
	local h
	for h in "${HOSTS[@]}"; do
		ip netns add "$(ns "$h")" || die "ip netns add failed"
		echo "$(ns "$h")" >>"$dir/namespaces"
		ip -n "$(ns "$h")" link set lo up
		# Made inside ctl with its other end straight in the host: no name in the machine's
		# own namespace, even for a moment.
		ip -n "$(ns ctl)" link add "v-$h" type veth peer name eth0 netns "$(ns "$h")" ||
			die "veth for $h failed"
		ip -n "$(ns ctl)" link set "v-$h" master br0 up
		ip -n "$(ns "$h")" addr add "$SUBNET.${ADDR[$h]}/24" dev eth0
		ip -n "$(ns "$h")" link set eth0 up
		if [[ -n $link ]]; then
			shape "$(ns ctl)" "v-$h" && shape "$(ns "$h")" eth0 || die "tc could not shape the link"
		fi
	done

	ssh-keygen -q -t ed25519 -N '' -C c10k-rig-host -f "$dir/host_key" || die "ssh-keygen failed"
	ssh-keygen -q -t ed25519 -N '' -C c10k-rig-client -f "$dir/client_key" || die "ssh-keygen failed"
	cp "$dir/client_key.pub" "$dir/authorized_keys"
	# The host without rsync: its sessions get a PATH of a few tools, rsync not among them.
	mkdir "$dir/norsync-bin"
	for tool in sh bash uname python3 nproc cat; do
		ln -s "$(command -v "$tool")" "$dir/norsync-bin/$tool"
	done
	echo "environment=\"PATH=$dir/norsync-bin\" $(cat "$dir/client_key.pub")" >"$dir/authorized_keys_norsync"

	# sshd needs its privilege separation directory (systemd makes it; a container may not).
	if [[ ! -d /run/sshd ]]; then
		mkdir -p /run/sshd && echo made >"$dir/made-run-sshd"
	fi
	for h in "${HOSTS[@]}"; do
		start_sshd "$h" 22 "$dir/authorized_keys"
	done
	start_sshd cli2 2201 "$dir/authorized_keys" setarch linux32
	start_sshd cli2 2202 "$dir/authorized_keys_norsync"

	{
		echo "# Written by tests/remote/rig.sh for the rig in $dir"
		echo "Host *"
		echo "  User root"
		echo "  IdentityFile $dir/client_key"
		echo "  IdentitiesOnly yes"
		echo "  UserKnownHostsFile $dir/known_hosts"
		echo "  StrictHostKeyChecking yes"
		echo "  ConnectTimeout 10"
		for h in "${HOSTS[@]}"; do
			printf 'Host %s\n  HostName %s\n' "$h" "$SUBNET.${ADDR[$h]}"
		done
		printf 'Host otherarch\n  HostName %s\n  Port 2201\n' "$SUBNET.${ADDR[cli2]}"
		printf 'Host norsync\n  HostName %s\n  Port 2202\n' "$SUBNET.${ADDR[cli2]}"
		printf 'Host refuser\n  HostName %s\n  Port 2203\n' "$SUBNET.${ADDR[cli2]}"
	} >"$dir/ssh_config"
	: >"$dir/known_hosts"
	for h in "${HOSTS[@]}"; do
		echo "$SUBNET.${ADDR[$h]} $(cut -d' ' -f1,2 "$dir/host_key.pub")" >>"$dir/known_hosts"
	done
	echo "[$SUBNET.${ADDR[cli2]}]:2201 $(cut -d' ' -f1,2 "$dir/host_key.pub")" >>"$dir/known_hosts"
	echo "[$SUBNET.${ADDR[cli2]}]:2202 $(cut -d' ' -f1,2 "$dir/host_key.pub")" >>"$dir/known_hosts"

	wait_for_sshds || die "an sshd did not start: $(tail -n 3 "$dir"/sshd-*.log | tr '\n' ' ')"
	echo "$(ns ctl)" >"$dir/ctl"
}

start_sshd() {   # host port authorized-keys-file [wrapper...]
	local h=$1 port=$2 keys=$3
	shift 3
	# -D: stays in the foreground, so its pid is ours to stop; -e: logs to its log file.
	ip netns exec "$(ns "$h")" "$@" /usr/sbin/sshd -D -e -f /dev/null \
		-o ListenAddress="$SUBNET.${ADDR[$h]}:$port" -o HostKey="$dir/host_key" \
		-o AuthorizedKeysFile="$keys" -o PermitRootLogin=prohibit-password \
		-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UsePAM=no \
		-o StrictModes=no -o PermitUserEnvironment=yes -o PidFile=none \
		-o MaxStartups=100 -o MaxSessions=100 \
		>"$dir/sshd-$h-$port.log" 2>&1 &
	echo "$! $h $port" >>"$dir/pids"
}

wait_for_sshds() {   # each sshd listening (its log says so), 10 s at most
	local _ pid h port
	for _ in $(seq 100); do
		local all=1
		while read -r pid h port; do
			kill -0 "$pid" 2>/dev/null || return 1
			grep -q "Server listening" "$dir/sshd-$h-$port.log" || all=0
		done <"$dir/pids"
		((all)) && return 0
		sleep 0.1
	done
	return 1
}

down() {
	[[ -f $dir/id ]] || return 0
	local left="" pid _ n
	# The sshds first (the pids we started), then whatever still runs in a namespace: a
	# left-over is reported, since the runner should have stopped it, and then killed.
	while read -r pid _; do
		kill -TERM "$pid" 2>/dev/null
	done <"$dir/pids"
	while read -r pid _; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done <"$dir/pids"
	while read -r n; do
		local pids
		pids=$(ip netns pids "$n" 2>/dev/null | tr '\n' ' ')
		if [[ -n $pids ]]; then
			left+="$n: $(ps -o pid=,comm= -p "${pids// /,}" 2>/dev/null | tr -s ' \n' ' ') "
			kill -KILL $pids 2>/dev/null
			sleep 0.2
		fi
		ip netns del "$n" 2>/dev/null
	done < <(tac "$dir/namespaces" 2>/dev/null)
	# Only when no other sshd (another rig's) still needs it.
	[[ -f $dir/made-run-sshd ]] && ! pgrep -x sshd >/dev/null && rmdir /run/sshd 2>/dev/null
	rm -f "$dir/id"
	if [[ -n $left ]]; then
		echo "rig: left running in the namespaces (killed now): $left" >&2
		return 1
	fi
}

cmd=${1:-}
dir=${2:-}
link=${3:-}
[[ -n $dir ]] || usage
case $cmd in
up) up ;;
down) down ;;
*) usage ;;
esac
