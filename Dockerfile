# impsy in a container: `impsy run` (and the web UI) without TensorFlow, plus a
# `train` target with the [train] extra. Needs BuildKit (Docker >= 23 uses it; older:
# DOCKER_BUILDKIT=1), which skips the train stages when building the runtime image.
# Build and run (see docs/deployment.md, "Docker"):
#   docker build -t impsy .                      # runtime image (default target)
#   docker build --target train -t impsy-train . # with TensorFlow, for `impsy train`
#   docker compose up                            # with Pd (or anything OSC) on the host
# BASE_IMAGE is any Debian-based image with python3 >= 3.11 and its venv module;
# docker/make-base-image.sh makes one with debootstrap where no registry is reachable.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: the venv
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/impsy/venv
WORKDIR /src
COPY pyproject.toml README.md LICENSE* constraints.txt ./
COPY impsy ./impsy
# Behind a TLS-intercepting proxy, pass its CA bundle for pip only (not kept in the image):
#   docker build --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt ...
# constraints.txt pins every runtime dependency: the same versions in every build.
# [litert]: LiteRT runs the .tflite (without it, the NumPy engine runs the .keras beside it).
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && /opt/impsy/venv/bin/pip install --quiet -c constraints.txt ".[litert]" \
    && find /opt/impsy/venv -name __pycache__ -type d -prune -exec rm -rf {} +

# ---------------------------------------------------------------- common runtime layer
FROM ${BASE_IMAGE} AS base
# libasound2: python-rtmidi's ALSA backend, for a USB MIDI device passed in with
# /dev/snd (docker-compose.yml). A fixed, unprivileged user in the audio group (gid 29,
# as on Debian, Ubuntu and Raspberry Pi OS hosts); give a volume's owner the same uid.
ARG IMPSY_UID=1000
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libasound2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid "${IMPSY_UID}" --user-group --groups audio --create-home \
        --home-dir /home/impsy --shell /usr/sbin/nologin impsy \
    && mkdir -p /impsy/logs /impsy/datasets /impsy/models /opt/impsy/share/models \
    && chown -R impsy:impsy /impsy
# The default model (the one `impsy init` configures): the .tflite runs on LiteRT, the
# .keras beside it is what the NumPy engine runs (engine = "numpy", or if LiteRT cannot).
COPY models/musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.tflite \
     models/musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras \
     models/LICENSE.md /opt/impsy/share/models/
COPY docker/config.toml /opt/impsy/share/config.toml
COPY docker/entrypoint.sh /usr/local/bin/impsy-entrypoint
# MIDI in a container is ALSA (there is no JACK server in it): say so, so that RtMidi
# does not go looking for another API.
ENV PATH=/opt/impsy/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    IMPSY_MIDI_API=LINUX_ALSA
WORKDIR /impsy
VOLUME ["/impsy/logs", "/impsy/datasets", "/impsy/models"]
ENTRYPOINT ["impsy-entrypoint"]

# ---------------------------------------------------------------- train: + TensorFlow
FROM build AS train-build
# constraints.txt pins the runtime's h5py above TensorFlow 2.21's cap (h5py<3.15), which
# pip cannot resolve: the train venv keeps every other pin and takes h5py in TF's range.
RUN sed -i '/^h5py==/d' constraints.txt
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && /opt/impsy/venv/bin/pip install --quiet -c constraints.txt ".[train]" \
    && find /opt/impsy/venv -name __pycache__ -type d -prune -exec rm -rf {} +

FROM base AS train
COPY --from=train-build /opt/impsy/venv /opt/impsy/venv
USER impsy
CMD ["train", "-S", "datasets", "-O", "models"]

# ---------------------------------------------------------------- studio: train + Ray
# A Ray head node that trains the jobs other machines send (docs/studio.md):
#   docker build --target studio -t impsy-studio .
#   docker run --rm --network host --shm-size 2g impsy-studio
FROM train-build AS studio-build
# Ray refuses a client whose Ray version (or Python minor) differs from the head's, so Ray
# is pinned: pass the submitting machines' version if it is another one,
#   --build-arg RAY_VERSION="$(python -c 'import ray; print(ray.__version__)')"
ARG RAY_VERSION=2.60.0
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && /opt/impsy/venv/bin/pip install --quiet -c constraints.txt ".[train,studio]" \
        "ray[tune]==${RAY_VERSION}" \
    && find /opt/impsy/venv -name __pycache__ -type d -prune -exec rm -rf {} +

FROM base AS studio
COPY --from=studio-build /opt/impsy/venv /opt/impsy/venv
USER impsy
# the head (GCS) and Ray Client; workers take further ports, hence --network host
EXPOSE 6379/tcp 10001/tcp
ENTRYPOINT ["ray"]
CMD ["start", "--head", "--block", "--port", "6379", "--ray-client-server-port", "10001", \
     "--include-dashboard", "false", "--disable-usage-stats"]

# ---------------------------------------------------------------- runtime (default)
FROM base AS runtime
COPY --from=build /opt/impsy/venv /opt/impsy/venv
USER impsy
# OSC in; WebSocket; web UI. Predictions go out to [osc] client_ip:client_port.
EXPOSE 6000/udp 5001/tcp 4000/tcp
# `impsy status` sends /impsy/status to ./config.toml's OSC port: healthy if it answers.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["impsy", "status", "--quiet", "--timeout", "2"]
CMD ["run"]
