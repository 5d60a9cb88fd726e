#!/usr/bin/env bash
# scripts/setup.sh: checks for what `make bench` needs, and installs what is missing.
#
#   scripts/setup.sh            install what is missing (Debian/Ubuntu: apt-get, with sudo
#                               when not root; elsewhere: print the command to run, exit 1)
#   scripts/setup.sh --check    only say what is missing (exit 1 if anything is)
#
# Needed: wrk (HTTP load), gnuplot with the pngcairo terminal (plots), python3 (the runner),
# taskset (pinning), a C compiler, make and liburing (the build), and the reference servers
# the models are compared with: nginx and Go (to build servers/refs/go); across hosts
# (SERVER_HOST set), ssh and rsync. Nothing else is touched.
set -u

check_only=0
case ${1:-} in
--check) check_only=1 ;;
"") ;;
*) echo "usage: scripts/setup.sh [--check]" >&2; exit 2 ;;
esac

# missing: "command debian-package" pairs for what is not there.
missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have wrk || missing+=("wrk wrk")
if ! have gnuplot; then
	missing+=("gnuplot gnuplot-nox")
elif ! gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
	missing+=("gnuplot(pngcairo) gnuplot-nox")
fi
have python3 || missing+=("python3 python3")
have taskset || missing+=("taskset util-linux")
have cc || missing+=("cc build-essential")
have make || missing+=("make make")
# The io_uring model's library (liburing 2.3 or later): its header is what the build needs.
if have cc && ! echo '#include <liburing.h>' | cc -E -x c - >/dev/null 2>&1; then
	missing+=("liburing liburing-dev")
fi
PATH=$PATH:/usr/sbin have nginx || missing+=("nginx nginx-light")   # in sbin: root's PATH
have go || missing+=("go golang-go")
# Across hosts (SERVER_HOST=, from make bench): ssh, and rsync to send the binaries.
if [[ -n ${SERVER_HOST:-} ]]; then
	have ssh || missing+=("ssh openssh-client")
	have rsync || missing+=("rsync rsync")
fi

if ((${#missing[@]} == 0)); then
	exit 0
fi
tools=() debs=()
for m in "${missing[@]}"; do
	tools+=("${m%% *}")
	debs+=("${m#* }")
done
echo "setup: missing: ${tools[*]}"

os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-} ${ID_LIKE:-}")
if [[ " $os_id " != *" debian "* && " $os_id " != *" ubuntu "* ]] || ! have apt-get; then
	# Other distributions name the packages alike, except for gnuplot's, the compiler's,
	# liburing's, nginx's and Go's.
	other=$(printf '%s\n' "${debs[@]}" |
		sed 's/^gnuplot-nox$/gnuplot/; s/^build-essential$/gcc make/; s/^liburing-dev$/liburing-devel/
			s/^nginx-light$/nginx/; s/^golang-go$/golang/' |
		sort -u | tr '\n' ' ')
	case " $os_id " in
	*" fedora "* | *" rhel "* | *" centos "*) cmd="sudo dnf install -y ${other}" ;;
	*" arch "*) cmd="sudo pacman -S --needed ${other}" ;;
	*" suse "* | *" opensuse "*) cmd="sudo zypper install ${other}" ;;
	*) cmd="install with your package manager: ${other}" ;;
	esac
	echo "setup: this is not Debian or Ubuntu; to install them: ${cmd% }"
	exit 1
fi

sudo=()
if (($(id -u) != 0)); then
	if ! have sudo; then
		echo "setup: run as root: apt-get install -y ${debs[*]}"
		exit 1
	fi
	sudo=(sudo)
fi
cmd=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
	"${debs[@]}")
if ((check_only)); then
	echo "setup: to install them: ${cmd[*]}"
	exit 1
fi
echo "setup: ${cmd[*]}"
# A fresh machine may have no package lists yet: update once if the install cannot find them.
"${cmd[@]}" || { "${sudo[@]}" apt-get update -q && "${cmd[@]}"; } || {
	echo "setup: apt-get failed; install by hand: ${debs[*]}"
	exit 1
}
