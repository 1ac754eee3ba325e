#!/bin/sh
# `make docker-test`: build impsy's image, start it with docker compose as a
# musician would, and play an OSC round trip against the container.
#
# Uses the Docker daemon at DOCKER_HOST; without one, starts a private daemon
# (docker/sandbox-dockerd.sh). BASE_IMAGE (default impsy-base:bookworm, built
# with debootstrap by docker/make-base-image.sh when missing) is the Dockerfile's
# base; BASE_IMAGE=python:3.11-slim-bookworm where a registry is reachable.
# Prints how long each step took. Leaves the images; removes the container.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BASE_IMAGE=${BASE_IMAGE:-impsy-base:bookworm}
export PATH="/usr/sbin:/usr/bin:$PATH"   # Debian's docker client, dockerd, debootstrap

now() { date +%s.%N; }
took() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$1" "$(now)"; }

need() {  # COMMAND DEBIAN-PACKAGE: install the package if the command is missing
    command -v "$1" >/dev/null && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "docker-test: needs $1 (Debian package $2)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}
need docker docker.io
docker compose version >/dev/null 2>&1 || need docker-compose docker-compose

if [ -z "${DOCKER_HOST:-}" ] && ! docker version >/dev/null 2>&1; then
    need dockerd docker.io
    DOCKER_HOST=$(docker/sandbox-dockerd.sh)
    export DOCKER_HOST
    echo "docker-test: using a private dockerd at $DOCKER_HOST"
fi
if docker compose version >/dev/null 2>&1; then
    compose() { docker compose "$@"; }
elif command -v docker-compose >/dev/null; then
    compose() { docker-compose "$@"; }
else
    echo "docker-test: needs docker compose (or Debian's docker-compose)" >&2
    exit 1
fi

case "$BASE_IMAGE" in
    impsy-base:*)  # made here, with debootstrap, unless it exists
        docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || need debootstrap debootstrap
        t=$(now)
        DOCKER=docker nice -n 19 docker/make-base-image.sh "$BASE_IMAGE"
        echo "docker-test: base image $BASE_IMAGE ready in $(took "$t")"
        ;;
esac

# --network host: a daemon without iptables has no NAT for the build's pip.
# The CA bundle goes in as a build secret, for networks that intercept TLS.
set -- --network host --build-arg "BASE_IMAGE=$BASE_IMAGE"
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
    set -- "$@" --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt
fi
t=$(now)
DOCKER_BUILDKIT=1 nice -n 19 docker build --quiet "$@" --target runtime -t impsy:latest . >/dev/null
echo "docker-test: image impsy:latest built in $(took "$t")," \
    "$(docker image inspect -f '{{.Size}}' impsy:latest | awk '{printf "%.0f MB", $1 / 1e6}')"
if [ -n "${DOCKER_TEST_TRAIN:-}" ]; then
    t=$(now)
    DOCKER_BUILDKIT=1 nice -n 19 docker build --quiet "$@" --target train -t impsy-train:latest . >/dev/null
    echo "docker-test: image impsy-train:latest built in $(took "$t")," \
        "$(docker image inspect -f '{{.Size}}' impsy-train:latest | awk '{printf "%.0f MB", $1 / 1e6}')"
fi

ports=$("$PY" -c '
import socket
socks = [socket.socket(socket.AF_INET, kind) for kind in
         (socket.SOCK_DGRAM, socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_STREAM)]
for s in socks:
    s.bind(("0.0.0.0", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
set -- $ports
data=$(mktemp -d /tmp/impsy-docker-test.XXXXXX)
mkdir "$data/logs" "$data/datasets" "$data/models"
chmod 777 "$data/logs"   # the container's impsy user must write the log
project="impsy-test-$$"
export IMPSY_OSC_PORT=$1 IMPSY_OSC_CLIENT_PORT=$2 IMPSY_WEBSOCKET_PORT=$3 IMPSY_WEBUI_PORT=$4
export IMPSY_WEBUI_TOKEN=docker-test-token IMPSY_DATA_DIR="$data" IMPSY_BASE_IMAGE="$BASE_IMAGE"
cleanup() {
    compose -p "$project" down --volumes >/dev/null 2>&1 || true
    rm -rf "$data"
}
trap cleanup EXIT INT TERM

start=$(date +%s.%N)
compose -p "$project" up -d --no-build impsy
container=$(compose -p "$project" ps -q impsy)
"$PY" docker/roundtrip.py --osc-port "$1" --listen-port "$2" --since "$start" \
    --webui-port "$4" --token "$IMPSY_WEBUI_TOKEN"

health=starting
i=0
while [ "$health" = starting ] && [ "$i" -lt 120 ]; do   # the first check is at 10 s
    sleep 0.5
    i=$((i + 1))
    health=$(docker inspect -f '{{.State.Health.Status}}' "$container")
done
echo "docker-test: HEALTHCHECK says $health $(took "$start") after start"
[ "$health" = healthy ]

t=$(now)
compose -p "$project" stop impsy
code=$(docker inspect -f '{{.State.ExitCode}}' "$container")
echo "docker-test: stopped (SIGTERM) in $(took "$t"), exit status $code"
[ "$code" = 0 ]
rows=$(cat "$data"/logs/*-9d-mdrnn.log | grep -c ',interface,')
echo "docker-test: the log on the logs/ volume has $rows interface rows"
expected=3
if command -v pd >/dev/null; then expected=5; fi   # + the Pd patch's two slider moves
[ "$rows" -ge "$expected" ]   # + the sequencer's notes, which are gestures too
echo "docker-test: ok"
