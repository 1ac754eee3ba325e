#!/bin/sh
# impsy's container entrypoint: make sure there is a config, then run `impsy ARGS`.
#
# A mounted /impsy/config.toml is used as it is. Without one, the image's
# template (docker/config.toml) is filled in from environment variables, so
# `docker run` and docker compose need no config file:
#   IMPSY_OSC_PORT (6000), IMPSY_OSC_CLIENT_IP (host.docker.internal),
#   IMPSY_OSC_CLIENT_PORT (6001), IMPSY_WEBSOCKET_PORT (5001), IMPSY_WEBUI_PORT (4000),
#   IMPSY_WEBUI_TOKEN (a random token, printed, when unset).
# Arguments are an impsy command (default `run`); options alone go to `run`.
# (IMPSY_ENTRYPOINT_CONFIG and IMPSY_ENTRYPOINT_TEMPLATE move the two files, for tests.)
set -eu
CONFIG=${IMPSY_ENTRYPOINT_CONFIG:-/impsy/config.toml}
TEMPLATE=${IMPSY_ENTRYPOINT_TEMPLATE:-/opt/impsy/share/config.toml}

fail() {
    echo "impsy-entrypoint: $*" >&2
    exit 2
}

check_port() {  # NAME VALUE
    case "$2" in
        '' | *[!0-9]*) fail "$1 must be a port number, got '$2'" ;;
    esac
}

if [ ! -e "$CONFIG" ]; then
    osc_port=${IMPSY_OSC_PORT:-6000}
    client_ip=${IMPSY_OSC_CLIENT_IP:-host.docker.internal}
    client_port=${IMPSY_OSC_CLIENT_PORT:-6001}
    websocket_port=${IMPSY_WEBSOCKET_PORT:-5001}
    webui_port=${IMPSY_WEBUI_PORT:-4000}
    token=${IMPSY_WEBUI_TOKEN:-}
    check_port IMPSY_OSC_PORT "$osc_port"
    check_port IMPSY_OSC_CLIENT_PORT "$client_port"
    check_port IMPSY_WEBSOCKET_PORT "$websocket_port"
    check_port IMPSY_WEBUI_PORT "$webui_port"
    case "$client_ip" in
        '' | *[!A-Za-z0-9.:_-]*) fail "IMPSY_OSC_CLIENT_IP must be a host name or address" ;;
    esac
    if [ -z "$token" ]; then
        token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
        case "${1:-run}" in
            run | webui | -*)
                echo "impsy-entrypoint: IMPSY_WEBUI_TOKEN is not set; this container's" \
                    "web UI token: $token" ;;
        esac
    fi
    case "$token" in
        *[!A-Za-z0-9._~-]*) fail "IMPSY_WEBUI_TOKEN may use only letters, digits and . _ ~ -" ;;
    esac
    if [ "${#token}" -lt 16 ]; then
        fail "IMPSY_WEBUI_TOKEN is ${#token} characters; the web UI is reachable from" \
            "other machines, so use at least 16"
    fi
    sed -e "s|@OSC_PORT@|$osc_port|" -e "s|@OSC_CLIENT_IP@|$client_ip|" \
        -e "s|@OSC_CLIENT_PORT@|$client_port|" -e "s|@WEBSOCKET_PORT@|$websocket_port|" \
        -e "s|@WEBUI_PORT@|$webui_port|" -e "s|@WEBUI_TOKEN@|$token|" \
        "$TEMPLATE" >"$CONFIG"
fi

case "${1:-}" in
    '' | -*) set -- run "$@" ;;
esac
# A bind-mounted logs/ that Docker created is root's: say so instead of a Python error.
if [ "$1" = run ] && [ -d logs ] && [ ! -w logs ]; then
    fail "logs/ is not writable by uid $(id -u); on the host: sudo chown $(id -u) logs"
fi
exec impsy "$@"
