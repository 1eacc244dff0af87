#!/bin/sh
# Install everything vsteer's build, tests and demo need on Debian 12, and
# mount bpffs if it is missing. Safe to run again.
#
#   scripts/deps.sh          just that
#   scripts/deps.sh test     then build everything and run every test
#                            (tests/run --all, as make test does); the
#                            last line is always `N passed, N failed`
#   scripts/deps.sh demo     then build and run the demo (make demo)
#   scripts/deps.sh bench [ARGS]  then build and run the benchmark
#                            (tests/bench/bench.py ARGS)
#   scripts/deps.sh vm [PKG] also qemu, then build and run the end-to-end
#                            tests on Debian 12's 6.1 kernel in a KVM guest
#   scripts/deps.sh --dry-run  say what it would install (after waiting for
#                            the package manager's lock, as an install
#                            would), change nothing
#
# Another apt or dpkg at work (unattended-upgrades on a fresh machine) holds
# their lock: deps.sh waits for it, up to DEPS_LOCK_WAIT seconds (600),
# saying once what it waits for, instead of failing at once.
set -eu
cd "$(dirname "$0")/.."

# For `test` (what CI runs) the last line is always `N passed, N failed`:
# tests/run's own, or this one when installing or building failed first.
failed_before_tests() {
	st=$?
	if [ "$st" -ne 0 ]; then
		echo "deps.sh: failed before any test ran (above)"
		echo "0 passed, 1 failed"
		exit 1
	fi
}
if [ "${1:-}" = test ]; then
	trap failed_before_tests EXIT
fi

PKGS="make clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev zlib1g-dev \
libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev pkg-config gcc libc6-dev \
iproute2 util-linux curl jq python3 procps valgrind openssl wrk nginx-light bc"
# Containers (docker/, the packaging tests): podman with runc, and the
# images' build and runtime bases made locally by debootstrap (docker/base.sh).
PKGS="$PKGS podman runc catatonit debootstrap"
# The systemd unit's test (tests/e2e/systemd.py): systemd 252 as PID 1 of
# a Debian 12 container made by debootstrap (tests/systemd/image.sh), run
# by podman with runc; listed on their own so it keeps them if the images
# stop needing them.
PKGS="$PKGS podman runc debootstrap"
# Automation examples (examples/puppet) and the CoreOS config check (vm/),
# both tested by the e2e suite.
PKGS="$PKGS puppet python3-yaml"
# Only for `deps.sh vm`: the kernel-compatibility runner (vm/kernel-test.sh).
[ "${1:-}" = vm ] && PKGS="$PKGS qemu-system-x86 cpio kmod"
# The benchmark's peers and charts; the tests run its --quick smoke mode.
# nftables: its containers scenario deletes the DNAT path's tables after
# it (iptables-nft can only flush them, which leaves conntrack running).
PKGS="$PKGS haproxy gnuplot-nox nftables"
# The style checks (tests/lint.sh, run by tests/run --all): Debian 12's
# clang-format is 14, the version .clang-format's output is checked with.
PKGS="$PKGS git clang-format shellcheck pyflakes3"
# The man pages (docs/man/*.scd, built by make) and the test that renders
# them with man -l.
PKGS="$PKGS scdoc man-db"
# /metrics read by Prometheus' own tools (tests/e2e/metrics.py): promtool,
# a real Prometheus server, and Python's client parser.
PKGS="$PKGS prometheus python3-prometheus-client"
# The dashboard's test (tests/e2e/dashboard.py) and its screenshot
# (scripts/dashboard-shot.py): headless Chromium, driven over a pipe
# (--remote-debugging-pipe), so no WebSocket client is needed; a font,
# or a minimal system's screenshots are boxes.
PKGS="$PKGS chromium fonts-dejavu-core"
# vsteerctl status --watch on a terminal (tests/e2e/vsteerctl.py).
PKGS="$PKGS tmux"
# A fleet's store (issue 19): the tests start their own etcd members.
PKGS="$PKGS etcd-server"

if [ "$(id -u)" -ne 0 ] && [ "${1:-}" != --dry-run ]; then
	echo "deps.sh: run as root (it installs packages and mounts bpffs)" >&2
	exit 1
fi

# The pid holding a POSIX lock (as apt and dpkg take them) on file $1, from
# /proc/locks, whose lines read `1: POSIX ADVISORY WRITE PID MAJ:MIN:INODE
# ...`; nothing if the file is not locked. By inode alone: on an overlay
# root (a container's) the lock is on the upper layer's file, whose device
# is not the one stat shows.
lock_holder() {
	ino=$(stat -c %i "$1" 2>/dev/null) || return 0
	awk -v ino="$ino" '$2 != "->" { n = split($6, f, ":"); if (f[n] == ino) { print $5; exit } }' \
		/proc/locks
}

# Wait, bounded, until no apt or dpkg holds the locks an install takes.
APT_LOCKS="/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock"
wait_for_apt() {
	limit=${DEPS_LOCK_WAIT:-600} start=$(date +%s) said=""
	while :; do
		held="" pid=""
		for f in $APT_LOCKS; do
			pid=$(lock_holder "$f")
			[ -z "$pid" ] || { held=$f; break; }
		done
		waited=$(($(date +%s) - start))
		if [ -z "$held" ]; then
			[ -z "$said" ] || echo "deps.sh: the lock is free after $waited s"
			return 0
		fi
		who="pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo gone))"
		if [ "$waited" -ge "$limit" ]; then
			echo "deps.sh: $held is still held by $who after $waited s;" \
				"run deps.sh again once it is done" >&2
			exit 1
		fi
		if [ -z "$said" ]; then
			echo "deps.sh: another package manager is at work: waiting up to $limit s" \
				"for $held, held by $who"
			said=1
		fi
		sleep 1
	done
}

find_missing() {
	missing=""
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
}
find_missing
if [ "${1:-}" = --dry-run ]; then
	wait_for_apt
	# What the other package manager did while we waited counts.
	find_missing
	echo "deps.sh: would install${missing:- nothing}"
	exit 0
fi
[ -z "$missing" ] || { wait_for_apt && find_missing; }
if [ -n "$missing" ]; then
	echo "deps.sh: installing$missing"
	# The lock can be taken again between wait_for_apt and apt-get's
	# start: apt-get waits for it itself then (DPkg::Lock::Timeout).
	apt-get update -qq -o DPkg::Lock::Timeout=60
	# $missing is a space-separated list of package names (no glob
	# characters): it is split on purpose, one argument per package.
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=60 $missing
	# The benchmark starts its own nginx and haproxy in a namespace, the
	# tests their own etcd; the ones Debian starts on install are not
	# ours to leave running.
	for svc in nginx haproxy etcd; do
		case " $missing " in
		*" $svc"*)
			systemctl disable --now "$svc" >/dev/null 2>&1 ||
				service "$svc" stop >/dev/null 2>&1 || true ;;
		esac
	done
fi

if ! grep -qs " /sys/fs/bpf bpf " /proc/mounts; then
	mount -t bpf bpf /sys/fs/bpf
	echo "deps.sh: mounted bpffs on /sys/fs/bpf"
fi
echo "deps.sh: ready"

case "${1:-}" in
"") ;;
test)	make -j"$(nproc)" all
	make -j"$(nproc)" san
	make -j"$(nproc)" fuzz
	# The container tests' base images and the systemd test's image:
	# debootstrap needs the mirror, which a test's own network namespace
	# cannot reach, and takes minutes on a fresh machine (tests/run's
	# limit is 3 per test).
	docker/base.sh
	tests/systemd/image.sh >/dev/null
	trap - EXIT
	exec tests/run --all ;;
demo) make -j"$(nproc)" all
	exec make demo ;;
bench) shift
	make -j"$(nproc)" all
	exec tests/bench/bench.py "$@" ;;
vm) shift
	make -j"$(nproc)" all
	exec vm/kernel-test.sh "$@" ;;
*) echo "deps.sh: unknown target '$1' (test, demo, bench, vm or --dry-run)" >&2; exit 2 ;;
esac
