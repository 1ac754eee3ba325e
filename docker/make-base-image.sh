#!/bin/sh
# Build a minimal Debian bookworm image with Python 3.11 and `docker import` it.
#
# For machines that can reach Debian's mirror but no container registry: the
# image it makes stands in for python:3.11-slim as the Dockerfile's BASE_IMAGE.
# Usage: docker/make-base-image.sh [IMAGE]   (default impsy-base:bookworm)
# Needs root and debootstrap. Reuses IMAGE if it already exists.
set -eu
IMAGE=${1:-impsy-base:bookworm}
DOCKER=${DOCKER:-docker}
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if $DOCKER image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "make-base-image: $IMAGE exists; reusing it"
    exit 0
fi
command -v debootstrap >/dev/null || {
    echo "make-base-image: needs debootstrap (apt-get install debootstrap)" >&2
    exit 1
}
root=$(mktemp -d /tmp/impsy-base.XXXXXX)
trap 'rm -rf "$root"' EXIT INT TERM
start=$(date +%s)
# minbase: dpkg, apt and the essentials; python3-venv brings ensurepip's wheels.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$root" "$MIRROR"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/*
tar --numeric-owner -C "$root" -c . | $DOCKER import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/sh"]' - "$IMAGE"
echo "make-base-image: $IMAGE built in $(( $(date +%s) - start )) s"
