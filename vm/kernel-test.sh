#!/bin/bash
# Run vsteer's end-to-end tests on another kernel, in a KVM guest: Debian
# 12's own 6.1 kernel by default. The guest's root file system is a
# Debian 12 userspace (debootstrap) packed into the initramfs, so the
# distribution kernel needs no disk driver; the project tree is shared
# in over 9p, and the tests run against the binaries `make` built here.
#
#   sudo vm/kernel-test.sh [KERNEL_PACKAGE [PATTERN]]
#        default: the package linux-image-amd64 depends on (6.1 on Debian 12);
#        PATTERN: only the tests whose name contains it (as tests/run takes)
#
# Prints the guest's test output and ends with its `N passed, N failed`;
# exits non-zero if any test failed. Work files in build/vm/. Needs
# /dev/kvm, qemu-system-x86, debootstrap and a Debian mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/build/vm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
pkg=${1:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')}
pattern=${2:-}
# Inside the guest there is no podman (so no systemd_unit or container
# image test either), puppet, PyYAML, iptables, make, man, overlayfs,
# Prometheus (promtool, the server, its Python client) or tmux: those tests
# run on the host (they do not depend on the kernel; metrics_sums_over_old_pins
# runs in the guest); everything else runs.
skip=containers_upgrade,containers_pod,bridged_container_form,bridged_remote_podman,bridged_remote_iptables,bridged_remote_syn_again,puppet_converges,coreos_config
skip=$skip,install_tree,man_pages,deps_waits_for_apt,systemd_unit,containers_build,containers_seccomp_profile
skip=$skip,prometheus_metrics,prometheus_metrics_mirror,alert_rules_checked,prometheus_runs_dashboard_and_alerts
skip=$skip,vsteerctl_watch_tmux
# No chromium in the guest either: the page's tests run on the host
# (dashboard_paths, its headers and paths, runs in the guest).
skip=$skip,dashboard_page,dashboard_token
# Nor etcd: the store's client and the fleet's thread do not depend on the kernel.
skip=$skip,etcd_client,etcd_client_auth,etcd_client_tls,fleet_hosts,fleet_rollout

[ "$(id -u)" = 0 ] || { echo "kernel-test: run as root" >&2; exit 2; }
[ -w /dev/kvm ] || { echo "kernel-test: needs /dev/kvm" >&2; exit 2; }
for t in qemu-system-x86_64 debootstrap cpio depmod; do
	command -v $t >/dev/null || { echo "kernel-test: needs $t (scripts/deps.sh vm)" >&2; exit 2; }
done
[ -x build/vsteerd ] || { echo "kernel-test: run make first" >&2; exit 2; }
mkdir -p "$work"

# 1. The kernel, unpacked from its Debian package.
kdir=$work/$pkg
if [ ! -d "$kdir/boot" ]; then
	(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1)
	dpkg -x "$work/$pkg"_*.deb "$kdir"
fi
kver=$(ls "$kdir/lib/modules")
depmod -b "$kdir" "$kver"

# 2. The guest's userspace: what the tests use, nothing more.
rootfs=$work/rootfs
# (made again when it lacks a library vsteerd links since: libcurl)
if [ ! -x "$rootfs/usr/bin/python3" ] || ! ls "$rootfs"/usr/lib/*/libcurl.so.4 >/dev/null 2>&1; then
	rm -rf "$rootfs"
	debootstrap --variant=minbase \
		--include=python3,iproute2,kmod,curl,jq,procps,openssl,bpftool,libcap2-bin,libbpf1,libelf1,zlib1g,libmicrohttpd12,libjansson4,libcurl4 \
		bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log" >&2; exit 1; }
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
fi

# 3. The initramfs: that userspace, the modules for virtio and 9p and those
# the tests need that Debian builds as modules (clsact and cls_bpf for the
# TC egress program, veth, inet_diag and tcp_diag for the drain's SOCK_DESTROY,
# bridge for the bridged tests' containers), an init.
initrd=$work/initrd-$kver.cpio
stage=$work/stage
rm -rf "$stage" && cp -a "$rootfs" "$stage"
mods=(virtio_pci 9pnet_virtio 9p sch_ingress cls_bpf veth inet_diag tcp_diag bridge)
python3 - "$kdir/lib/modules/$kver" "$stage/lib/modules/$kver" "${mods[@]}" <<'EOF'
import os, shutil, sys
src, dst, want = sys.argv[1], sys.argv[2], sys.argv[3:]
dep = {}
for line in open(os.path.join(src, "modules.dep")):
    mod, _, deps = line.partition(":")
    dep[os.path.basename(mod).split(".ko")[0].replace("-", "_")] = (mod, deps.split())
todo, seen = list(want), set()
while todo:
    m = todo.pop()
    if m in seen or m not in dep:
        continue
    seen.add(m)
    path, deps = dep[m]
    os.makedirs(os.path.dirname(os.path.join(dst, path)), exist_ok=True)
    shutil.copy(os.path.join(src, path), os.path.join(dst, path))
    todo += [os.path.basename(d).split(".ko")[0].replace("-", "_") for d in deps]
for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
    if os.path.exists(os.path.join(src, f)):
        shutil.copy(os.path.join(src, f), os.path.join(dst, f))
EOF
cat >"$stage/init" <<EOF
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm && mount -t tmpfs shm /dev/shm # multiprocessing's locks
mount -t cgroup2 cgroup2 /sys/fs/cgroup # sockets' owners by cgroup
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
depmod $kver
for m in ${mods[*]}; do modprobe \$m; done
mkdir -p /work
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vsteer /work
ip link set lo up
cd /work
echo "kernel-test: \$(uname -r) up, running the tests"
/usr/bin/python3 tests/run --skip $skip $pattern > build/vm/result.txt 2>&1
echo "kernel-test: exit \$?" >> build/vm/result.txt
sync
echo o > /proc/sysrq-trigger
EOF
chmod +x "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet) >"$initrd"
rm -rf "$stage"

# 4. Boot it. KVM if a guest kernel gets as far as printing its banner
# with it: on the development VM (itself a KVM guest) nested guests hang
# before their first message, so it falls back to emulation (TCG), which
# is several times slower: timing-sensitive tests may fail there.
accel=(-accel kvm -cpu "max,-arch-capabilities")
timeout 20 qemu-system-x86_64 "${accel[@]}" -m 512 -nographic -no-reboot \
	-kernel "$kdir/boot/vmlinuz-$kver" -append "console=ttyS0 panic=-1" -nic none \
	>"$work/kvm-probe.log" 2>&1 || true
if ! grep -q "Linux version" "$work/kvm-probe.log"; then
	echo "kernel-test: a KVM guest does not boot here; emulating (TCG), expect it to be slow"
	accel=(-accel "tcg,thread=multi" -cpu max)
fi
rm -f "$work/result.txt"
# softlockup_panic: a CPU stuck in the guest's kernel ends the run with
# its stack in console.log, instead of hanging until the timeout.
timeout 3600 qemu-system-x86_64 "${accel[@]}" -smp 2 -m 4096 -nographic -no-reboot \
	-kernel "$kdir/boot/vmlinuz-$kver" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=4 softlockup_panic=1" -nic none \
	-virtfs "local,path=$root,mount_tag=vsteer,security_model=none" \
	>"$work/console.log" 2>&1 || true
if [ ! -f "$work/result.txt" ]; then
	echo "kernel-test: the guest wrote no results; console:" >&2
	tail -40 "$work/console.log" >&2
	exit 1
fi
cat "$work/result.txt"
if ! tail -1 "$work/result.txt" | grep -q "^kernel-test: exit"; then
	echo "kernel-test: the guest stopped in the middle; console:" >&2
	tail -60 "$work/console.log" >&2
	exit 1
fi
tail -1 "$work/result.txt" | grep -q "exit 0"
