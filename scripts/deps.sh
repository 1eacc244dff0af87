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
# Containers (docker/, the packaging tests): podman with runc, and a base
# image made locally by debootstrap (docker/base.sh).
PKGS="$PKGS podman runc catatonit debootstrap"
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
# /metrics read by Prometheus' own tools (tests/e2e/metrics.py): promtool,
# a real Prometheus server, and Python's client parser.
PKGS="$PKGS prometheus python3-prometheus-client"

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (it installs packages and mounts bpffs)" >&2
	exit 1
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps.sh: installing$missing"
	apt-get update -qq
	# $missing is a space-separated list of package names (no glob
	# characters): it is split on purpose, one argument per package.
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
	# The benchmark starts its own nginx and haproxy in a namespace; the
	# ones Debian starts on install are not ours to leave running.
	for svc in nginx haproxy; do
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
	# The container tests' base image: debootstrap on a fresh machine
	# takes minutes, more than one test may (tests/run's limit).
	docker/base.sh
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
*) echo "deps.sh: unknown target '$1' (test, demo, bench or vm)" >&2; exit 2 ;;
esac
