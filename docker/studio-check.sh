#!/bin/sh
# The `studio` image for real: build it, start it as a Ray head, send it a job.
#
# Builds the Dockerfile's `studio` target, runs it with the host's network on
# ports of its own (a Ray the test suite starts on 127.0.0.1 keeps Ray's
# defaults), trains a tiny dataset on it with `impsy train --studio ray` over
# Ray Client from this machine's venv, and loads the model that came back.
# Prints the build time, the image size, the time from `run` to a Ray Client
# that answers, and the job's wall time. Stops the container; keeps the image.
#
# DOCKER: docker or podman (default: podman where no Docker daemon answers).
# BASE_IMAGE (default impsy-base:bookworm, made with debootstrap by
# docker/make-base-image.sh when missing; python:3.11-slim-bookworm where a
# registry is reachable). The venv (PY, default the checkout's `make test` venv:
# the tiny dataset comes from the tests) must have the same Ray and Python minor
# as the image: Ray Client refuses anything else.
# Usage: docker/studio-check.sh   (root, or a user of a rootless podman)
# Podman in a VM with hybrid cgroups and no CAP_SYS_RESOURCE needed, in
# /etc/containers/containers.conf: runtime = "runc" (crun refuses hybrid
# cgroups), cgroup_manager = "cgroupfs", events_logger = "file", and
# default_ulimits no higher than the hard limits (nofile, and nproc 32768).
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
IMPSY=${IMPSY:-$(dirname "$PY")/impsy}
BASE_IMAGE=${BASE_IMAGE:-impsy-base:bookworm}
IMAGE=${IMAGE:-impsy-studio}
if [ -z "${DOCKER:-}" ]; then
    if docker version >/dev/null 2>&1; then DOCKER=docker; else DOCKER=podman; fi
fi

now() { date +%s.%N; }
took() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$1" "$(now)"; }

ray_version=$("$PY" -c 'import ray; print(ray.__version__)')
case "$BASE_IMAGE" in
    impsy-base:* | localhost/impsy-base:*)
        t=$(now)
        DOCKER=$DOCKER nice -n 19 docker/make-base-image.sh "$BASE_IMAGE"
        echo "studio-check: base image $BASE_IMAGE ready in $(took "$t")"
        ;;
esac
set -- --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "RAY_VERSION=$ray_version"
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then   # networks that intercept TLS
    set -- "$@" --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt
fi
t=$(now)
DOCKER_BUILDKIT=1 nice -n 19 $DOCKER build --quiet "$@" --target studio -t "$IMAGE" . >/dev/null
echo "studio-check: image $IMAGE (Ray $ray_version) built in $(took "$t")," \
    "$($DOCKER image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')"

# Single ports the kernel has free now, and 100 worker ports above them.
ports=$("$PY" -c '
import socket
socks = [socket.socket() for _ in range(9)]
for s in socks:
    s.bind(("0.0.0.0", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
set -- $ports
gcs=$1 client=$2 workers=${STUDIO_WORKER_PORTS:-27100-27199}
name="impsy-studio-check-$$"
work=$(mktemp -d /tmp/impsy-studio-check.XXXXXX)
cleanup() {
    $DOCKER stop -t 10 "$name" >/dev/null 2>&1 || true
    $DOCKER rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

start=$(now)
$DOCKER run -d --rm --name "$name" --network host --shm-size 2g "$IMAGE" \
    start --head --block --port "$gcs" --ray-client-server-port "$client" \
    --node-manager-port "$3" --object-manager-port "$4" --metrics-export-port "$5" \
    --dashboard-agent-listen-port "$6" --dashboard-agent-grpc-port "$7" \
    --runtime-env-agent-port "$8" --min-worker-port "${workers%-*}" \
    --max-worker-port "${workers#*-}" --include-dashboard false --disable-usage-stats \
    >/dev/null
# Ready: Ray Client accepts a connection and answers (the job's own connect retries too).
"$PY" - "$client" <<'EOF'
import socket, sys, time
deadline = time.monotonic() + 120
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("studio-check: Ray Client did not listen within 120 s")
        time.sleep(0.2)
import ray
ray.init(f"ray://127.0.0.1:{sys.argv[1]}", logging_level="ERROR")
print("studio-check: cluster", {k: v for k, v in ray.cluster_resources().items() if "node" not in k})
ray.shutdown()
EOF
echo "studio-check: studio ready (Ray Client answers) $(took "$start") after run"

# Eight 3-D performances, made by the same function as the training tests' dataset.
"$PY" -c 'import sys; from pathlib import Path
from tests.training.test_train import make_dataset
make_dataset(Path(sys.argv[1]))' "$work/training-dataset-3d.npz"
t=$(now)
"$IMPSY" train --studio ray --studio-address "ray://127.0.0.1:$client" \
    -S "$work/training-dataset-3d.npz" -M xxs -N 2 --sequence-length 8 -B 16 \
    -O "$work/models" --force
echo "studio-check: the job took $(took "$t") (connect, send, train, fetch)"
ls -l "$work/models"
keras=$(ls "$work"/models/*.keras)
"$IMPSY" evaluate "$keras" "$work/training-dataset-3d.npz"
"$PY" -c "import sys; from impsy.model import load_model; print('studio-check: loaded', load_model(sys.argv[1]))" "$keras"
echo "studio-check: ok"
