"""Which config impsy uses and where its logs go: real processes on a pretend user's machine.

The rules (``impsy.config.locations``): --config, then IMPSY_CONFIG, then
./config.toml, then the per-user config, then the packaged default; logs in
--logdir, else ./logs for a project's config (--config, ./config.toml), else
the per-user data folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from tests.cli.places import Machine, make_machine
from tests.cli.test_run import wait_for_line
from tests.osc_client import free_udp_port, osc_bytes

PACKAGED = Path(__file__).resolve().parents[2] / "impsy" / "data" / "default.toml"


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return make_machine(tmp_path)


def useronly_config(path: Path, server: int | None = None) -> Path:
    """A config that needs no model; its OSC port tells which config a process read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    server = server or free_udp_port()
    path.write_text(
        "log_input = true\n"
        '[interaction]\nmode = "useronly"\n'
        f"[osc]\nserver_port = {server}\nclient_port = {free_udp_port()}\n"
    )
    return path


def chosen(result) -> tuple[str, str]:
    """The config and log lines ``impsy check-config`` prints without a FILE."""
    assert result.stdout.startswith("impsy: config "), result.stdout + result.stderr
    config, logs = result.stdout.splitlines()[:2]
    return config.removeprefix("impsy: config "), logs.removeprefix("impsy: logs ")


def test_the_packaged_default_when_there_is_no_other_config(machine):
    result = machine.impsy("check-config")
    config, logs = chosen(result)
    assert config == (
        f"{PACKAGED} (packaged default; no ./config.toml here and no per-user "
        f"{machine.user_config})"
    )
    assert logs == f"{machine.user_logs} (per-user data folder, as there is no project here)"


def test_the_per_user_config_when_there_is_no_config_here(machine):
    useronly_config(machine.user_config)
    result = machine.impsy("check-config")
    assert result.returncode == 0, result.stderr
    config, logs = chosen(result)
    assert config == f"{machine.user_config} (per-user; no ./config.toml here)"
    assert logs.startswith(f"{machine.user_logs} (per-user data folder")
    assert f"ok {machine.user_config} (useronly" in result.stdout


def test_config_toml_here_beats_the_per_user_config(machine):
    useronly_config(machine.user_config)
    useronly_config(machine.work / "config.toml")
    result = machine.impsy("check-config")
    assert result.returncode == 0, result.stderr
    assert chosen(result) == (
        "config.toml (./config.toml in the working directory)",
        "logs (./logs in the working directory)",
    )
    assert "ok config.toml (useronly" in result.stdout


def test_impsy_config_beats_config_toml_here_and_logs_per_user(machine):
    useronly_config(machine.user_config)
    useronly_config(machine.work / "config.toml")
    named = useronly_config(machine.root / "elsewhere" / "stage.toml")
    result = machine.impsy("check-config", IMPSY_CONFIG=str(named))
    assert result.returncode == 0, result.stderr
    config, logs = chosen(result)
    assert config == f"{named} (IMPSY_CONFIG; ./config.toml here is not used)"
    assert logs.startswith(f"{machine.user_logs} (per-user data folder")
    assert f"ok {named} (useronly" in result.stdout


@pytest.mark.parametrize("command", [["check-config"], ["run", "--no-model"], ["status"]])
def test_impsy_config_naming_no_file_is_one_line(machine, command):
    useronly_config(machine.work / "config.toml")  # never silently used instead
    result = machine.impsy(*command, IMPSY_CONFIG="missing.toml")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "error: IMPSY_CONFIG=missing.toml: no such file; point IMPSY_CONFIG at a .toml config "
        "file, or unset it to use ./config.toml or the per-user config"
    ]


def test_status_reads_the_config_run_would_read(machine):
    """Nobody listens: the port in the answer shows which config status read."""
    per_user, here, named, given = (free_udp_port() for _ in range(4))
    useronly_config(machine.user_config, per_user)

    def asked_port(*args: str, **env: str) -> int:
        result = machine.impsy("status", "--timeout", "0.2", *args, **env)
        assert result.returncode == 1, result.stdout + result.stderr
        return int(re.search(r"udp://127\.0\.0\.1:(\d+)", result.stdout)[1])

    assert asked_port() == per_user
    useronly_config(machine.work / "config.toml", here)
    assert asked_port() == here
    stage = useronly_config(machine.root / "stage.toml", named)
    assert asked_port(IMPSY_CONFIG=str(stage)) == named
    command_line = useronly_config(machine.root / "given.toml", given)
    assert asked_port("-c", str(command_line), IMPSY_CONFIG=str(stage)) == given


@dataclass
class Played:
    """What one ``impsy run`` showed: its start-up summary, its status reply after the
    gestures, and the scheduling policy of its loop's thread (the main thread)."""

    lines: list[str]
    status: dict
    policy: int


def run_and_ask(
    machine: Machine, config: Path, *args: str, gestures: int = 3, **env: str
) -> Played:
    """``impsy run``: ``gestures`` gestures in, handled, a status query, SIGTERM."""
    text = config.read_text()
    server = int(re.search(r"server_port = (\d+)", text)[1])
    client = int(re.search(r"client_port = (\d+)", text)[1])
    proc = machine.start("run", *args, **env)
    try:
        lines = wait_for_line(proc, "listening")
        policy = os.sched_getscheduler(proc.pid)  # the main thread's id is the process's
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", client))
            sock.settimeout(5)
            for i in range(gestures):
                sock.sendto(osc_bytes("/interface", *([i / 4] * 8)), ("127.0.0.1", server))
            # answered after the gestures were handled (one socket, in order)
            sock.sendto(osc_bytes("/impsy/status"), ("127.0.0.1", server))
            reply = OscMessage(sock.recv(65536))
        status = dict(zip(reply.params[::2], reply.params[1::2], strict=True))
        assert status["events_in"] == gestures
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, "".join(lines) + out
    return Played([line.rstrip("\n") for line in lines], status, policy)


def play_one_run(machine: Machine, config: Path, *args: str, **env: str) -> list[str]:
    """``impsy run``: three gestures in, handled, SIGTERM; the start-up summary's lines."""
    return run_and_ask(machine, config, *args, **env).lines


def only_log(folder: Path) -> Path:
    logs = list(folder.glob("*-9d-mdrnn.log"))
    assert len(logs) == 1, logs
    assert len(logs[0].read_text().splitlines()) == 3
    return logs[0]


def test_run_with_the_per_user_config_logs_in_the_per_user_data_folder(machine):
    config = useronly_config(machine.user_config)
    lines = play_one_run(machine, config)
    log = only_log(machine.user_logs)
    assert f"impsy: config {config} (per-user; no ./config.toml here)" in lines
    assert f"log: {log} (per-user data folder, as the config is the per-user one)" in lines
    assert not (machine.work / "logs").exists()
    assert not (machine.home / "logs").exists()
    # `impsy dataset` reads the logs where `impsy run` wrote them
    made = machine.impsy("dataset")
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"impsy: dimension 9: 1 log file(s) in {machine.user_logs}" in made.stdout
    assert (machine.work / "datasets" / "training-dataset-9d.npz").is_file()


def test_run_with_config_toml_here_logs_in_logs_here(machine):
    useronly_config(machine.user_config)  # present, and not used
    config = useronly_config(machine.work / "config.toml")
    lines = play_one_run(machine, config)
    log = only_log(machine.work / "logs")
    assert "impsy: config config.toml (./config.toml in the working directory)" in lines
    assert f"log: logs/{log.name} (./logs in the working directory)" in lines
    assert not machine.user_logs.exists()


def test_run_with_impsy_config_logs_per_user_unless_logdir_says(machine):
    stage = useronly_config(machine.root / "stage" / "config.toml")
    lines = play_one_run(machine, stage, IMPSY_CONFIG=str(stage))
    log = only_log(machine.user_logs)
    assert f"impsy: config {stage} (IMPSY_CONFIG)" in lines
    assert f"log: {log} (per-user data folder, as the config came from IMPSY_CONFIG)" in lines

    chosen_folder = machine.root / "tonight"
    lines = play_one_run(machine, stage, "--logdir", str(chosen_folder), IMPSY_CONFIG=str(stage))
    log = only_log(chosen_folder)
    assert f"log: {log} (--logdir)" in lines
    assert len(list(machine.user_logs.glob("*.log"))) == 1


def test_run_with_config_on_the_command_line_logs_in_logs_here(machine):
    stage = useronly_config(machine.root / "stage.toml")
    other = useronly_config(machine.root / "other.toml")
    lines = play_one_run(machine, stage, "-c", str(stage), IMPSY_CONFIG=str(other))
    log = only_log(machine.work / "logs")
    assert f"impsy: config {stage} (--config)" in lines
    assert f"log: logs/{log.name} (./logs in the working directory)" in lines


def test_webui_shows_the_logs_run_writes(machine):
    """``impsy webui`` finds the per-user config and lists the per-user logs folder."""
    useronly_config(machine.user_config)
    machine.user_logs.mkdir(parents=True)
    recorded = machine.user_logs / "2026-01-02T03-04-05-9d-mdrnn.log"
    recorded.write_text("2026-01-02T03:04:05.000000,interface," + ",".join(["0.5"] * 8) + "\n")
    proc = machine.start("webui", "--port", "0")
    try:
        lines = wait_for_line(proc, "web UI at")
        url = re.search(r"(http://\S+/)", lines[-1])[1]
        with urllib.request.urlopen(url + "api/files", timeout=5) as response:
            files = json.load(response)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert f"impsy: config {machine.user_config} (per-user; no ./config.toml here)\n" in lines
    assert [entry["name"] for entry in files["logs"]] == [recorded.name]
