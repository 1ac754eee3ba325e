#!/bin/sh
# Install impsy on a Raspberry Pi (Raspberry Pi OS bookworm, 64-bit) to perform
# from boot: a virtual environment with LiteRT and without TensorFlow at the versions
# pinned in constraints.txt, a folder made by `impsy init` with the default model, and
# the systemd units beside this script. Run it as the user who will own the logs,
# from a clone of impsy; run it again to update (your config.toml, logs and models stay).
#   examples/rpi/install.sh --enable        # ~/impsy, and start impsy now and at every boot
#   examples/rpi/install.sh --dir /tmp/try --no-apt --no-systemd   # no root needed
# Options:
#   --dir DIR           the folder: .venv, config.toml, models/, logs/ (default ~/impsy)
#   --user USER         who the units run as (default: you)
#   --enable            enable and start impsy.service (else installed, not enabled)
#   --no-systemd        install no units (no root needed)
#   --no-apt            do not apt-get install python3-venv and libasound2 (they are there)
#   --wheel FILE        install impsy from this wheel instead of this checkout
#   --no-litert         no LiteRT (no wheel for this Pi): the NumPy engine runs the model
#   --constraints FILE  pinned versions (default: constraints.txt in this checkout)
#   --python PYTHON     the Python (>= 3.11) to make the venv with (default python3)
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$HOME/impsy
RUN_USER=$(id -un)
ENABLE=0
SYSTEMD=1
APT=1
WHEEL=
CONSTRAINTS=$REPO/constraints.txt
PYTHON=python3
EXTRAS="[litert]"
UNITS="impsy.service impsy@.service impsy-webui.service"

usage() {  # the comment block above, without its "# "
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
    exit "$1"
}
fail() {
    echo "install.sh: $*" >&2
    exit 1
}
value() {  # OPTION ARGUMENT-COUNT [VALUE]: the option's value, or one line saying it lacks one
    if [ "$2" -lt 2 ] || [ -z "$3" ]; then
        echo "install.sh: $1 needs a value (install.sh --help)" >&2
        exit 2
    fi
    printf '%s' "$3"
}
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR=$(value "$1" $# "${2-}"); shift 2 ;;
        --user) RUN_USER=$(value "$1" $# "${2-}"); shift 2 ;;
        --wheel) WHEEL=$(value "$1" $# "${2-}"); shift 2 ;;
        --constraints) CONSTRAINTS=$(value "$1" $# "${2-}"); shift 2 ;;
        --python) PYTHON=$(value "$1" $# "${2-}"); shift 2 ;;
        --enable) ENABLE=1; shift ;;
        --no-systemd) SYSTEMD=0; shift ;;
        --no-apt) APT=0; shift ;;
        --no-litert) EXTRAS=; shift ;;
        -h | --help) usage 0 ;;
        *) echo "install.sh: unknown option $1 (install.sh --help)" >&2; exit 2 ;;
    esac
done
[ "$ENABLE" = 0 ] || [ "$SYSTEMD" = 1 ] || fail "--enable needs the units: leave out --no-systemd"
[ -f "$CONSTRAINTS" ] || fail "$CONSTRAINTS is missing (the pinned versions): pass --constraints FILE"
[ -z "$WHEEL" ] || [ -f "$WHEEL" ] || fail "$WHEEL: no such wheel"
case "$DIR" in /*) ;; *) DIR=$PWD/$DIR ;; esac
UNITS_OK=1
case "$DIR" in  # the units name it: no spaces, no % (a systemd specifier), no sed specials
    *[!A-Za-z0-9._/+,:=@~-]*) UNITS_OK=0 ;;
esac
if [ "$SYSTEMD" = 1 ] && [ "$UNITS_OK" = 0 ]; then
    fail "--dir $DIR: the units need a folder name of letters, digits and ._-/ only"
fi
SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )

if [ "$APT" = 1 ]; then
    # Every runtime dependency has an aarch64 wheel on PyPI (docs/deployment.md): no compiler needed.
    # libasound2: python-rtmidi's ALSA backend (Raspberry Pi OS has it; a minimal image may not).
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends python3-venv libasound2
fi

command -v "$PYTHON" >/dev/null || fail "$PYTHON not found: pass --python PYTHON (3.11 or newer)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "impsy needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
VENV=$DIR/.venv
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || fail "could not make $VENV (Debian: apt install python3-venv)"
fi

# impsy itself: the wheel, or a clean copy of this checkout (pip would build in the
# checkout otherwise, leaving build/ and *.egg-info there). The runtime only: no [train]
# extra, so no TensorFlow (train on a bigger computer).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/impsy-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
if [ -n "$WHEEL" ]; then
    SOURCE=$WHEEL
else
    SOURCE=$WORK/impsy
    mkdir "$SOURCE"
    (cd "$REPO" && tar -cf - --exclude=.git --exclude='.venv*' --exclude=build --exclude=dist \
        --exclude='*.egg-info' --exclude=__pycache__ --exclude='.*_cache' --exclude=.hypothesis \
        --exclude=logs --exclude=datasets --exclude=node_modules .) | tar -xf - -C "$SOURCE"
fi
echo "install.sh: installing impsy$EXTRAS into $VENV (versions from $CONSTRAINTS)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --prefer-binary \
    --upgrade -c "$CONSTRAINTS" "$SOURCE$EXTRAS" \
    || fail "pip could not install impsy$EXTRAS (above: why); without LiteRT: --no-litert"
if [ -z "$EXTRAS" ]; then
    # the NumPy engine runs the .keras beside the model's .tflite (a LiteRT left over from
    # an earlier install would run the .tflite instead)
    "$VENV/bin/python" -m pip uninstall -qq --disable-pip-version-check --yes ai-edge-litert
fi
if [ -n "$WHEEL" ]; then
    # pip keeps an installed impsy of the wheel's version (a checkout is always rebuilt)
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --force-reinstall "$WHEEL"
fi

# The folder: impsy init never overwrites config.toml; it makes missing folders.
"$VENV/bin/impsy" init "$DIR" >/dev/null

# The model config.toml names must be where it says (relative to $DIR, where impsy runs):
# `impsy init` may have put it there; if not, this checkout's models/ has it.
MODEL=$(cd "$DIR" && "$VENV/bin/python" -c '
import tomllib
with open("config.toml", "rb") as handle:
    print(tomllib.load(handle).get("model", {}).get("file", ""))')
if [ -n "$MODEL" ]; then
    case "$MODEL" in /*) TARGET=$MODEL ;; *) TARGET=$DIR/$MODEL ;; esac
    NAME=$(basename "$MODEL")
    if [ ! -f "$TARGET" ] && [ -f "$REPO/models/$NAME" ]; then
        mkdir -p "$(dirname "$TARGET")"
        # NAME.tflite and what the NumPy engine reads beside it (NAME.keras, NAME.json)
        for file in "$REPO/models/${NAME%.*}".*; do
            [ -e "$(dirname "$TARGET")/${file##*/}" ] && continue
            cp "$file" "$(dirname "$TARGET")/"
            echo "install.sh: copied models/${file##*/} into $(dirname "$TARGET")/"
        done
    fi
    [ -f "$TARGET" ] || fail "$DIR/config.toml names [model] file = \"$MODEL\", which is not there: copy it there or edit the file"
fi
# As impsy.service will read it; its one line says what is wrong, if anything is.
(cd "$DIR" && "$VENV/bin/impsy" check-config config.toml) || exit 1
if [ -n "$MODEL" ]; then
    # Load it as `impsy run` will, so a model the runtime cannot run is found now, not at boot.
    (cd "$DIR" && "$VENV/bin/python" -c '
import sys, tomllib
from impsy.model import load_model
from impsy.model.errors import ModelError
with open("config.toml", "rb") as handle:
    model = tomllib.load(handle).get("model", {})
try:
    loaded = load_model(model["file"], model.get("engine", "auto"), model.get("gate", "auto"))
except ModelError as err:
    sys.exit(f"install.sh: {err}")
print(f"install.sh: the model loads: {loaded}")' 2>"$WORK/load.err") || {
        grep -v '^INFO: Created TensorFlow Lite' "$WORK/load.err" >&2
        exit 1
    }
fi

# The units, filled in, in $DIR/systemd/ (with --no-systemd: to install by hand).
if [ "$UNITS_OK" = 1 ]; then
    mkdir -p "$DIR/systemd"
    for unit in $UNITS; do
        sed -e "s|@USER@|$RUN_USER|g" -e "s|@DIR@|$DIR|g" "$REPO/examples/rpi/$unit" \
            >"$DIR/systemd/$unit"
    done
fi
if [ "$(id -u)" = 0 ] && [ "$RUN_USER" != root ]; then
    chown -R "$RUN_USER": "$DIR"   # the units run as $RUN_USER: it writes logs/ and models/
fi
if [ "$SYSTEMD" = 1 ]; then
    for unit in $UNITS; do
        $SUDO cp "$DIR/systemd/$unit" "/etc/systemd/system/$unit"
    done
    $SUDO systemctl daemon-reload
    # an update: whatever was playing restarts on the new impsy (nothing else starts)
    $SUDO systemctl try-restart impsy.service 'impsy@*.service'
    if [ "$ENABLE" = 1 ]; then
        $SUDO systemctl enable --now impsy.service
    fi
fi

echo "impsy is installed in $DIR."
echo "  play now:         cd $DIR && .venv/bin/impsy run"
if [ "$SYSTEMD" = 1 ]; then
    echo "  from every boot:  sudo systemctl enable --now impsy"
    echo "  its output:       journalctl -u impsy -f"
    echo "  more than one:    cp $DIR/config.toml $DIR/NAME.toml (other ports), then"
    echo "                    sudo systemctl enable --now impsy@NAME"
elif [ "$UNITS_OK" = 1 ]; then
    echo "  systemd units:    $DIR/systemd/ (sudo cp them to /etc/systemd/system/)"
fi
echo "  is it alive:      $DIR/.venv/bin/impsy status -c $DIR/config.toml"
