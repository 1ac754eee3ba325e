"""The Docker files, checked without a Docker engine (`make docker-test` runs them for real).

docker-compose.yml is validated against the Compose Specification schema that
check-jsonschema ships (offline); the Dockerfile is read for the properties
the issue asks of it; the entrypoint runs on this machine against impsy's own
config checker.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.paths import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
VENV_BIN = Path(sys.executable).parent


def compose() -> dict:
    return YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())


def stages() -> dict[str, list[str]]:
    """Instructions per stage name, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    result: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if match := re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.IGNORECASE):
            current = match.group(1) or f"stage{len(result)}"
            result[current] = []
        result[current].append(line)
    return result


def test_compose_file_is_valid_compose_spec():
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_catches_a_broken_file(tmp_path):
    """The check above can fail: a service with an unknown key is rejected."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  impsy:\n    image: impsy\n    portz: ['6000:6000/udp']\n")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(broken)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "portz" in result.stdout + result.stderr


def test_compose_impsy_service_talks_to_pd_on_the_host():
    service = compose()["services"]["impsy"]
    assert service["build"]["target"] == "runtime"
    assert "host.docker.internal:host-gateway" in service["extra_hosts"]
    assert service["environment"]["IMPSY_OSC_CLIENT_IP"] == "host.docker.internal"
    assert service["environment"]["IMPSY_OSC_CLIENT_PORT"] == "${IMPSY_OSC_CLIENT_PORT:-6001}"
    # the web UI token must be given: compose refuses to start without it
    assert service["environment"]["IMPSY_WEBUI_TOKEN"].startswith("${IMPSY_WEBUI_TOKEN:?")
    targets = {port.rsplit(":", 1)[1] for port in service["ports"]}
    assert targets == {"6000/udp", "5001/tcp", "4000/tcp"}
    mounted = {re.search(r":(/impsy/[\w.]+)", volume).group(1) for volume in service["volumes"]}
    assert {"/impsy/logs", "/impsy/datasets", "/impsy/models"} <= mounted
    assert service["stop_signal"] == "SIGTERM"


def test_compose_train_profile_uses_the_train_target():
    train = compose()["services"]["train"]
    assert train["profiles"] == ["train"]
    assert train["build"]["target"] == "train"
    assert train["command"][0] == "train"


def test_dockerfile_base_image_is_a_build_argument_defaulting_to_python_slim():
    first = DOCKERFILE.split("\nFROM", 1)[0]
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", first, re.MULTILINE)
    assert match and re.fullmatch(r"python:3\.1[1-9][.\w-]*-slim[\w-]*", match.group(1))
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert all(image in ("${BASE_IMAGE}", "build", "base", "train-build") for image in froms), froms
    # no `# syntax=` line: that would make BuildKit download a frontend
    assert not re.search(r"^#\s*syntax=", DOCKERFILE, re.MULTILINE)


def test_dockerfile_runtime_is_last_light_non_root_and_checks_its_health():
    all_stages = stages()
    assert list(all_stages)[-1] == "runtime"
    runtime = "\n".join(all_stages["runtime"] + all_stages["base"] + all_stages["build"])
    assert "[train]" not in runtime and "tensorflow" not in runtime.lower()
    for name in ("runtime", "train", "studio"):
        users = [line.split()[1] for line in all_stages[name] if line.startswith("USER ")]
        assert users and users[-1] not in ("root", "0"), name
    (health,) = [line for line in all_stages["runtime"] if line.startswith("HEALTHCHECK")]
    command = json.loads(health.split(" CMD ", 1)[1])
    assert command[:2] == ["impsy", "status"]
    assert any(line.startswith("EXPOSE") and "6000/udp" in line for line in all_stages["runtime"])
    (volume,) = [line for line in all_stages["base"] if line.startswith("VOLUME")]
    assert set(json.loads(volume.split(None, 1)[1])) == {
        "/impsy/logs",
        "/impsy/datasets",
        "/impsy/models",
    }


def test_dockerfile_train_target_installs_the_train_extra():
    train = "\n".join(stages()["train-build"])
    assert 'install --quiet -c constraints.txt ".[train]"' in train


def test_dockerfile_studio_target_is_the_train_image_with_ray_as_a_head_node():
    studio = stages()
    assert 'install --quiet -c constraints.txt ".[train,studio]"' in "\n".join(
        studio["studio-build"]
    )
    (entry,) = [line for line in studio["studio"] if line.startswith("ENTRYPOINT")]
    assert json.loads(entry.split(None, 1)[1]) == ["ray"]
    (command,) = [line for line in studio["studio"] if line.startswith("CMD")]
    assert json.loads(command.split(None, 1)[1])[:3] == ["start", "--head", "--block"]


def test_dockerfile_installs_the_versions_pinned_in_constraints_txt():
    installs = [line for lines in stages().values() for line in lines if "pip install" in line]
    assert len(installs) == 3, installs
    assert all("pip install --quiet -c constraints.txt " in line for line in installs)
    # the runtime with LiteRT, which runs the bundled .tflite
    assert 'pip install --quiet -c constraints.txt ".[litert]"' in "\n".join(stages()["build"])
    # copied into the build stage's working directory, where pip runs
    copied = [line.split()[1:] for line in stages()["build"] if line.startswith("COPY ")]
    assert any("constraints.txt" in args[:-1] and args[-1] == "./" for args in copied), copied
    assert (ROOT / "constraints.txt").is_file(), "constraints.txt (the pins) is missing"


def test_the_image_has_the_default_model_its_config_names(tmp_path):
    """The model docker/config.toml names is copied into the image, and it plays."""
    made = entrypoint(tmp_path, "check-config", "config.toml")
    assert made.returncode == 0, made.stderr
    image = tmp_path / "image"
    model = Path(tomllib.loads((tmp_path / "config.toml").read_text())["model"]["file"])
    assert model.is_relative_to(image / "opt" / "impsy" / "share"), model
    default = tomllib.loads((ROOT / "impsy" / "data" / "default.toml").read_text())
    # the default model, as `impsy init` configures it (not IMPSY's 2019 .h5)
    assert model.name == Path(default["model"]["file"]).name
    assert model.is_file(), f"the Dockerfile copies nothing to /{model.relative_to(image)}"
    from impsy.model import load_model
    from impsy.model.loader import sibling_weights

    assert load_model(model).dimension == 9
    # the NumPy engine's weights beside it: what runs where LiteRT cannot
    weights = sibling_weights(model)
    assert weights is not None and weights.suffix == ".keras"
    assert load_model(weights, engine="numpy").dimension == 9
    assert (model.parent / "LICENSE.md").is_file()


def test_the_image_has_what_python_rtmidi_needs_for_alsa():
    base = "\n".join(stages()["base"])
    assert re.search(r"apt-get install [^&]*\blibasound2\b", base)
    assert re.search(r"useradd [^&]*--groups audio\b", base)
    assert "IMPSY_MIDI_API=LINUX_ALSA" in base


def uncommented_midi_block() -> str:
    """docker-compose.yml with the USB MIDI block's single "# " removed, as a user does."""
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    (start,) = [i for i, line in enumerate(lines) if "## USB MIDI on Linux" in line]
    end = start
    while lines[end].lstrip().startswith("#"):
        if not lines[end].lstrip().startswith("##"):
            indent = len(lines[end]) - len(lines[end].lstrip())
            assert lines[end][indent:].startswith("# "), lines[end]
            lines[end] = lines[end][:indent] + lines[end][indent + 2 :]
        end += 1
    assert end - start > 4, "the USB MIDI block has no lines to uncomment"
    return "\n".join(lines) + "\n"


def test_compose_usb_midi_block_parses_when_uncommented(tmp_path):
    text = uncommented_midi_block()
    service = YAML(typ="safe").load(text)["services"]["impsy"]
    assert service["devices"] == ["/dev/snd:/dev/snd"]
    assert service["group_add"] == ["${IMPSY_AUDIO_GID:-audio}"]
    # the rest of the service is unchanged
    assert service["ports"] == compose()["services"]["impsy"]["ports"]
    path = tmp_path / "docker-compose.yml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_file_the_dockerfile_copies_exists_and_is_not_docker_ignored():
    ignore = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in ignore:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
                keep = negate
        return keep

    for line in stages()["build"] + stages()["base"]:
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                matches = list(ROOT.glob(source))
                assert matches, f"{source} does not exist"
                assert all(included(str(m.relative_to(ROOT))) for m in matches), source
    assert not included(".venv") and not included(".git")


def image_files(root: Path) -> Path:
    """Lay out under ROOT what the base stage's COPY lines put in the image; return ROOT."""
    for line in stages()["base"]:
        if line.startswith("COPY") and "--from" not in line:
            *sources, destination = line.split()[1:]
            for source in sources:
                for path in ROOT.glob(source):
                    target = root / destination.lstrip("/")
                    if destination.endswith("/"):
                        target = target / path.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, target)
    return root


def entrypoint(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The image's entrypoint and config template, with the image's files under tmp_path/image.

    The template's /opt/impsy/ paths (the bundled model) point into that copy, so
    `impsy check-config` finds the model the image would have.
    """
    image = image_files(tmp_path / "image")
    template = image / "opt" / "impsy" / "share" / "config.toml"
    template.write_text(template.read_text().replace('"/opt/impsy/', f'"{image}/opt/impsy/'))
    return subprocess.run(
        ["sh", str(image / "usr" / "local" / "bin" / "impsy-entrypoint"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            "IMPSY_ENTRYPOINT_CONFIG": str(tmp_path / "config.toml"),
            "IMPSY_ENTRYPOINT_TEMPLATE": str(template),
            **env,
        },
    )


def test_entrypoint_writes_a_valid_config_from_the_environment(tmp_path):
    result = entrypoint(
        tmp_path,
        "check-config",
        "config.toml",
        IMPSY_OSC_PORT="7000",
        IMPSY_OSC_CLIENT_PORT="7001",
        IMPSY_WEBUI_TOKEN="s3cret-token-of-24-chars",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok config.toml" in result.stdout
    from impsy.config import load_config

    config = load_config(tmp_path / "config.toml")
    assert (config.osc.server_ip, config.osc.server_port) == ("0.0.0.0", 7000)
    assert (config.osc.client_ip, config.osc.client_port) == ("host.docker.internal", 7001)
    assert (config.webui.host, config.webui.token) == ("0.0.0.0", "s3cret-token-of-24-chars")
    assert config.websocket.server_ip == "0.0.0.0"


def test_entrypoint_makes_up_a_token_and_keeps_a_mounted_config(tmp_path):
    result = entrypoint(tmp_path, "run", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: impsy run" in result.stdout
    token = re.search(r"web UI token: (\S+)", result.stdout).group(1)
    assert f'token = "{token}"' in (tmp_path / "config.toml").read_text()
    checked = entrypoint(tmp_path, "check-config", "config.toml")
    assert checked.returncode == 0, checked.stderr
    # a config that is already there (mounted) is used as it is
    (tmp_path / "config.toml").write_text('[interaction]\nmode = "useronly"\n')
    again = entrypoint(tmp_path, "check-config", "config.toml", IMPSY_OSC_PORT="1234")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "config.toml").read_text() == '[interaction]\nmode = "useronly"\n'


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IMPSY_OSC_PORT", "60x0"),
        ("IMPSY_WEBUI_TOKEN", 'a"b'),
        ("IMPSY_WEBUI_TOKEN", "s3cret-token"),  # 12 characters, fewer than 16
        ("IMPSY_OSC_CLIENT_IP", "a b"),
    ],
)
def test_entrypoint_refuses_values_that_would_break_the_config(tmp_path, variable, value):
    result = entrypoint(tmp_path, "check-config", "config.toml", **{variable: value})
    assert result.returncode == 2
    assert variable in result.stderr
    assert not (tmp_path / "config.toml").exists()


def test_shell_scripts_parse():
    scripts = sorted((ROOT / "docker").glob("*.sh")) + sorted(
        (ROOT / "examples" / "rpi").glob("*.sh")
    )
    assert len(scripts) >= 4
    for script in scripts:
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
