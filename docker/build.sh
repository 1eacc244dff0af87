#!/bin/sh
# Build the images from this clone's source with podman alone (no host
# build: the build stage compiles, and .containerignore keeps build/ out).
#
#   docker/build.sh [TAG [TARGET...]]   TAG: latest; TARGET: vsteerd demo
#     -> localhost/vsteerd:TAG localhost/vsteer-demo:TAG
#
# Bases: BUILD_BASE and BASE if set (e.g. docker.io/library/debian:bookworm
# and debian:bookworm-slim from a registry), else the local ones
# docker/base.sh makes with debootstrap. --format docker keeps the
# HEALTHCHECK (OCI images have no such field). The second target reuses
# the first one's build stage from podman's layer cache.
set -eu
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/docker/containers.conf}"
tag=${1:-latest}
[ $# -gt 0 ] && shift
targets=${*:-vsteerd demo}

if [ -z "${BASE:-}" ] && [ -z "${BUILD_BASE:-}" ]; then
	docker/base.sh
	BUILD_BASE=localhost/vsteer-build:bookworm
	BASE=localhost/vsteer-runtime:bookworm
fi
source=$(git config remote.origin.url 2>/dev/null || true)
case $source in https://*) ;; *) source="" ;; esac

for target in $targets; do
	case $target in
	vsteerd) image=localhost/vsteerd:$tag ;;
	demo) image=localhost/vsteer-demo:$tag ;;
	*) echo "build.sh: unknown target '$target' (vsteerd or demo)" >&2; exit 2 ;;
	esac
	start=$(date +%s)
	podman build -q --format docker --target "$target" \
		--build-arg BUILD_BASE="${BUILD_BASE:-docker.io/library/debian:bookworm}" \
		--build-arg BASE="${BASE:-docker.io/library/debian:bookworm-slim}" \
		--build-arg VERSION="$(cat VERSION)" --build-arg SOURCE="$source" \
		-f docker/Dockerfile -t "$image" . >/dev/null
	echo "build.sh: $image ($(($(date +%s) - start)) s)"
done
