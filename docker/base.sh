#!/bin/sh
# Make the two base images docker/Dockerfile builds FROM, where no registry
# is reachable: minimal Debian 12 root filesystems from debootstrap (only a
# Debian mirror needed), imported into podman.
#
#   localhost/vsteer-build:bookworm    the compilers and -dev packages the
#                                      build stage needs (BUILD_BASE)
#   localhost/vsteer-runtime:bookworm  the libraries vsteerd and vsteer-demo
#                                      link, and curl for the HEALTHCHECK (BASE)
#
#   docker/base.sh          both; each is made only if missing or lacking a
#                           package listed here (so a list that grows is
#                           picked up)
#
# With a registry, skip this: the Dockerfile's defaults are debian:bookworm
# and debian:bookworm-slim, and it installs the same packages with apt-get.
set -eu
build_image=localhost/vsteer-build:bookworm
runtime_image=localhost/vsteer-runtime:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"

# Keep these two lists the same as docker/Dockerfile's.
build_pkgs="make gcc libc6-dev clang libbpf-dev bpftool libelf-dev zlib1g-dev \
libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev"
runtime_pkgs="libbpf1 libelf1 zlib1g libmicrohttpd12 libjansson4 libcurl4 curl"

cache=$(mktemp -d /tmp/vsteer-debs.XXXXXX)
root=""
trap 'rm -rf "$cache" ${root:+"$root"} ${root:+"$root.log"}' EXIT

# make IMAGE PACKAGES: the image, unless it exists with all the packages.
make_image() {
	image=$1 pkgs=$2
	# $pkgs is a space-separated list of package names: split on purpose.
	# shellcheck disable=SC2086
	if podman image exists "$image" &&
		podman run --rm --network none "$image" dpkg -s $pkgs >/dev/null 2>&1; then
		return 0
	fi
	root=$(mktemp -d /tmp/vsteer-rootfs.XXXXXX)
	echo "base.sh: debootstrap bookworm for $image"
	start=$(date +%s)
	debootstrap --variant=minbase --cache-dir="$cache" \
		--include="$(echo "$pkgs" | tr -s ' ' ,)" \
		bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
		{ tail -20 "$root.log" >&2; exit 1; }
	# What debian:bookworm-slim leaves out too: documentation, manuals and
	# translations (11 MB of the runtime image); the dpkg filter keeps
	# packages a Dockerfile adds later from bringing theirs.
	rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* \
		"$root"/usr/share/info/* "$root"/usr/share/locale/* \
		"$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<-EOF
	path-exclude /usr/share/doc/*
	path-exclude /usr/share/man/*
	path-exclude /usr/share/info/*
	path-exclude /usr/share/locale/*
	EOF
	tar -C "$root" -c . | podman import -q - "$image" >/dev/null
	rm -rf "$root" "$root.log"
	root=""
	echo "base.sh: $image ready ($(($(date +%s) - start)) s)"
}

make_image "$runtime_image" "$runtime_pkgs"
make_image "$build_image" "$build_pkgs"
