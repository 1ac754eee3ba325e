#!/bin/sh
# Install impsy on a Raspberry Pi (Raspberry Pi OS bookworm, 64-bit) to perform
# from boot: a virtual environment without TensorFlow, a working directory made
# by `impsy init` with the bundled model, and the systemd units beside this script.
#
# Run it as the user who will own the logs, from a clone of impsy:
#   examples/rpi/install.sh                 # ~/impsy, units installed, not enabled
#   examples/rpi/install.sh --enable        # ... and start impsy now and at every boot
#   examples/rpi/install.sh --dir /opt/impsy --no-systemd --no-apt
# Run it again to update impsy from the clone; logs, models and config.toml stay.
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$HOME/impsy
RUN_USER=$(id -un)
ENABLE=0
SYSTEMD=1
APT=1
MODEL=musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit "$1"
}
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR=$2; shift 2 ;;
        --user) RUN_USER=$2; shift 2 ;;
        --enable) ENABLE=1; shift ;;
        --no-systemd) SYSTEMD=0; shift ;;
        --no-apt) APT=0; shift ;;
        -h | --help) usage 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
    esac
done
SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )

if [ "$APT" = 1 ]; then
    # Every runtime dependency has an aarch64 wheel on PyPI (README): no compiler needed.
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends python3-venv
fi

python3 -c 'import sys; assert sys.version_info >= (3, 11), "impsy needs Python >= 3.11"'
mkdir -p "$DIR"
[ -x "$DIR/.venv/bin/python" ] || python3 -m venv "$DIR/.venv"
"$DIR/.venv/bin/python" -m pip install --quiet --upgrade pip
# The runtime only: no [train] extra, so no TensorFlow (train on a bigger computer).
"$DIR/.venv/bin/python" -m pip install --quiet --prefer-binary "$REPO"

[ -e "$DIR/config.toml" ] || "$DIR/.venv/bin/impsy" init "$DIR"
[ -e "$DIR/models/$MODEL" ] || cp "$REPO/models/$MODEL" "$DIR/models/"
(cd "$DIR" && .venv/bin/impsy check-config config.toml)

if [ "$SYSTEMD" = 1 ]; then
    for unit in impsy.service impsy-webui.service; do
        sed -e "s|@USER@|$RUN_USER|g" -e "s|@DIR@|$DIR|g" "$REPO/examples/rpi/$unit" \
            | $SUDO tee "/etc/systemd/system/$unit" >/dev/null
    done
    $SUDO systemctl daemon-reload
    if [ "$ENABLE" = 1 ]; then
        $SUDO systemctl enable --now impsy.service
    fi
fi

echo "impsy is installed in $DIR."
echo "  play now:         cd $DIR && .venv/bin/impsy run"
if [ "$SYSTEMD" = 1 ]; then
    echo "  from every boot:  sudo systemctl enable --now impsy"
    echo "  its output:       journalctl -u impsy -f"
fi
echo "  is it alive:      $DIR/.venv/bin/impsy status -c $DIR/config.toml"
