"""A setup mistake is one line naming the config file and the key, from every command.

`impsy check-config`, `impsy run` and the web UI's config editor must agree:
what `impsy run` refuses at start-up, the others refuse too, in the same
words, and nothing ends in a traceback (an absurd dimension used to give an
OverflowError, or hang building a huge list).
"""

from __future__ import annotations

import pytest

from tests.cli.places import Machine
from tests.osc_client import free_udp_port


@pytest.fixture
def machine(tmp_path) -> Machine:  # noqa: ANN001
    machine = Machine(tmp_path)
    for folder in (machine.home, machine.work):
        folder.mkdir(parents=True)
    return machine


def error_line(result) -> str:  # noqa: ANN001
    assert result.returncode != 0, result.stdout
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("dimension", ["100000000000000000000", "1000000000", "257"])
def test_an_absurd_dimension_is_refused_by_check_config_and_run(machine, dimension):
    config = machine.work / "config.toml"
    config.write_text(f'[interaction]\nmode = "useronly"\n[model]\ndimension = {dimension}\n')
    checked = error_line(machine.impsy("check-config", str(config)))
    ran = error_line(machine.impsy("run", "-c", str(config), "--no-model"))
    for line in (checked, ran):
        assert str(config) in line and "[model] dimension: expected an integer 2-256" in line


def test_an_absurd_dimension_on_the_command_line_is_refused(machine):
    config = machine.work / "config.toml"
    config.write_text('[interaction]\nmode = "useronly"\n')
    ran = error_line(machine.impsy("run", "-c", str(config), "--no-model", "-d", "1000000000"))
    assert "[model] dimension: expected an integer 2-256" in ran
    made = error_line(machine.impsy("dataset", "-c", str(config), "-D", "1000000000000"))
    assert "--dimension 1000000000000: expected an integer 2-256" in made


@pytest.mark.parametrize(
    ("webui", "expected"),
    [
        ('host = "0.0.0.0"', "[webui] token: not set"),
        ('host = "0.0.0.0"\ntoken = "short"', "[webui] token: 5 characters"),
    ],
)
def test_an_exposed_web_ui_without_a_good_token_is_refused_by_check_config_too(
    machine, webui, expected
):
    config = machine.work / "config.toml"
    config.write_text(f'[interaction]\nmode = "useronly"\n[webui]\n{webui}\n')
    checked = error_line(machine.impsy("check-config", "--no-model", str(config)))
    ran = error_line(machine.impsy("run", "-c", str(config), "--no-model"))
    for line in (checked, ran):
        assert str(config) in line and expected in line


def test_a_client_ip_that_does_not_resolve_names_the_file_and_the_key(machine):
    config = machine.work / "config.toml"
    config.write_text(
        '[interaction]\nmode = "useronly"\n[osc]\nserver_ip = "127.0.0.1"\n'
        f'server_port = {free_udp_port()}\nclient_ip = "no-such-host.invalid"\n'
    )
    ran = error_line(machine.impsy("run", "-c", str(config), "--no-model"))
    assert f"{config}: [osc] client_ip 'no-such-host.invalid': cannot resolve it" in ran
