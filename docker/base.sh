#!/bin/sh
# Make the base image the Dockerfiles build FROM, where no registry is
# reachable: a minimal Debian 12 root filesystem from debootstrap (only a
# Debian mirror needed), with the libraries vsteerd and vsteer-demo link,
# imported into podman. Does nothing if the image exists with all of them
# (one made before vsteerd linked another library is made again).
#
#   docker/base.sh [IMAGE]      default localhost/vsteer-base:bookworm
#
# On a host with a registry, skip this and build with the default BASE.
set -eu
image=${1:-localhost/vsteer-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"

libs="libbpf1 libelf1 zlib1g libmicrohttpd12 libjansson4 libcurl4"
# $libs is a space-separated list of package names: split on purpose.
# shellcheck disable=SC2086
if podman image exists "$image" &&
	podman run --rm --network none "$image" dpkg -s $libs >/dev/null 2>&1; then
	exit 0
fi
root=$(mktemp -d /tmp/vsteer-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base.sh: debootstrap bookworm into $root"
debootstrap --variant=minbase \
	--include="$(echo "$libs" | tr ' ' ,)" \
	bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
	{ tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import -q - "$image" >/dev/null
echo "base.sh: $image ready"
