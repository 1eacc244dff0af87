#!/bin/sh
# The image tests/e2e/systemd.py boots: Debian 12 with systemd 252 as PID 1
# (as the vsteer unit meets it on a real host), the runtime libraries of
# vsteerd and vsteer-demo, and curl for the checks. Made by debootstrap
# (only a Debian mirror needed) and imported into podman; the tag is a hash
# of this script, so a second run finds it and does nothing, and a change
# here makes a new one (and removes the old). Prints the image's name on
# the last line. Cold, it takes about 90 s (debootstrap from the mirror).
#
#   tests/systemd/image.sh          make it if missing
#   tests/systemd/image.sh --remove remove every image it ever made
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/../../docker/containers.conf}"
repo=localhost/vsteer-sd-debian12
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "${1:-}" = --remove ]; then
	podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$repo:" |
		xargs -r podman rmi -f >/dev/null
	exit 0
fi
tag=$(sha256sum "$0" | cut -c1-12)
image=$repo:$tag
if podman image exists "$image"; then
	echo "$image"
	exit 0
fi
# systemd: PID 1 and systemd-analyze. dbus: systemctl's client side works
# without it, but logind and analyze security's unit lookups want it.
# curl: the API checks. The libraries: what vsteerd and vsteer-demo link.
pkgs="systemd,systemd-sysv,dbus,curl,procps,libbpf1,libelf1,zlib1g,libmicrohttpd12,libjansson4,libcurl4"
root=$(mktemp -d /tmp/vsteer-sd-rootfs.XXXXXX)
trap 'rm -rf "$root" "$root.log"' EXIT
echo "image.sh: debootstrap bookworm into $root" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
	{
		tail -20 "$root.log" >&2
		exit 1
	}
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# Units a container has no use for, and that would only fail or wait:
# getty on consoles that are not there, udev with no devices to manage.
for u in getty@tty1.service console-getty.service systemd-udevd.service \
	systemd-udev-trigger.service systemd-networkd-wait-online.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done
tar -C "$root" -c . | podman import -q \
	--change 'CMD ["/lib/systemd/systemd"]' --change 'STOPSIGNAL SIGRTMIN+3' \
	- "$image" >/dev/null
# Only the current one is kept: those of earlier versions of this script
# go, so the cache holds one image (about 200 MB).
podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$repo:" | grep -v ":$tag\$" |
	xargs -r podman rmi -f >/dev/null
echo "image.sh: $image ready" >&2
echo "$image"
