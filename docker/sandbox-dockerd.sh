#!/bin/sh
# Start a private Docker daemon under /tmp for machines without one running.
#
# Prints the DOCKER_HOST to use. Without iptables (a sandbox or a container
# may not allow it) there is no NAT to the outside, so builds that download use
# `--network host`; containers still reach the host through their bridge and
# published ports go through docker-proxy. Reuses a daemon it started earlier.
# Stop it with: kill "$(cat /tmp/impsy-docker/dockerd.pid)"
set -eu
DIR=${IMPSY_DOCKER_DIR:-/tmp/impsy-docker}
SOCK="unix://$DIR/docker.sock"
mkdir -p "$DIR"
if [ -S "$DIR/docker.sock" ] && docker -H "$SOCK" version >/dev/null 2>&1; then
    echo "$SOCK"
    exit 0
fi
command -v dockerd >/dev/null || {
    echo "sandbox-dockerd: needs dockerd (apt-get install docker.io)" >&2
    exit 1
}
nohup dockerd --host "$SOCK" --data-root "$DIR/data" --exec-root "$DIR/exec" \
    --pidfile "$DIR/dockerd.pid" --iptables=false --ip6tables=false \
    >"$DIR/dockerd.log" 2>&1 &
i=0
until docker -H "$SOCK" version >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then
        echo "sandbox-dockerd: dockerd did not start; see $DIR/dockerd.log" >&2
        tail -n 20 "$DIR/dockerd.log" >&2
        exit 1
    fi
    sleep 0.5
done
echo "$SOCK"
