"""``impsy init`` and ``impsy check-config`` on a real temporary folder."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from impsy.cli.config_check import check_config
from impsy.cli.init import init
from impsy.config import load_config
from tests.paths import ROOT


def test_init_creates_folders_and_the_default_config(tmp_path: Path) -> None:
    target = tmp_path / "studio"
    result = CliRunner().invoke(init, [str(target)])
    assert result.exit_code == 0, result.output
    for name in ("logs", "datasets", "models"):
        assert (target / name).is_dir()
        assert f"created  {target / name}/" in result.output
    config = target / "config.toml"
    assert config.read_bytes() == (ROOT / "configs" / "default.toml").read_bytes()
    assert f"created  {config}" in result.output
    assert load_config(config).adapters == ("osc",)


def test_init_defaults_to_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(init, [])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "config.toml").is_file() and (tmp_path / "models").is_dir()


def test_init_never_overwrites_an_existing_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# mine\n")
    (tmp_path / "logs").mkdir()
    result = CliRunner().invoke(init, [str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert config.read_text() == "# mine\n"
    assert "already exists" in result.output and "never overwrites" in result.output
    assert f"exists   {tmp_path / 'logs'}/" in result.output
    assert (tmp_path / "datasets").is_dir()


def test_init_into_a_file_fails_cleanly(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("")
    result = CliRunner().invoke(init, [str(afile)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_check_config_reports_ok_and_errors_one_line_each(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # where the config's relative [model] file is found
    bad = tmp_path / "bad.toml"
    bad.write_text("[osc]\nserver_port = 0\n")
    good = ROOT / "configs" / "default.toml"
    result = CliRunner().invoke(check_config, [str(good), str(bad)])
    assert result.exit_code == 1
    assert f"ok {good} (callresponse, dimension 9, osc, sequencer, webui)" in result.stdout
    assert result.stderr.strip() == (
        f"error: {bad}: [osc] server_port: expected an integer 1-65535, got 0"
    )


def test_check_config_all_good_exits_zero_and_shows_warnings(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # where the config's relative [model] file is found
    impsy_file = ROOT / "tests" / "data" / "impsy-configs" / "roland-s-1.toml"
    result = CliRunner().invoke(check_config, [str(impsy_file)])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"ok {impsy_file} (callresponse, dimension 9, midi, osc)")
    assert "warning:" in result.stderr and "[osc] client_ip" in result.stderr
