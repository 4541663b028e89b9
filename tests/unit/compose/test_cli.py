"""The command line: errors as Compose v2 prints them, and the plugin's handshake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.compose import cli, plugin


def test_invalid_file_names_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: x\n    ports: 80\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["config"]) == 1
    err = capsys.readouterr().err
    assert err == f"validating {tmp_path}/compose.yaml: services.web.ports must be an array\n"


def test_config_services_and_volumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "other.yml").write_text(
        "services:\n  b:\n    image: x\n    volumes: [v:/v]\n  a:\n    image: y\n"
        "volumes:\n  v: {}\n")  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert cli.main(["-f", "other.yml", "config", "--services"]) == 0
    assert capsys.readouterr().out == "a\nb\n"
    assert cli.main(["-f", "other.yml", "config", "--volumes"]) == 0
    assert capsys.readouterr().out == "v\n"
    assert cli.main(["-f", "other.yml", "config", "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_unknown_command_and_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 1
    assert 'unknown docker command: "compose frobnicate"' in capsys.readouterr().err
    assert cli.main(["up", "--bogus"]) == 1
    assert "unknown flag: --bogus" in capsys.readouterr().err


def test_plugin_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    assert plugin.main(["docker-cli-plugin-metadata"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["SchemaVersion"] == "0.1.0"
    assert meta["Vendor"] and meta["Version"] and meta["ShortDescription"]


def test_plugin_arguments_after_docker_flags() -> None:
    assert plugin.split_docker_flags(["compose", "up", "-d"]) == (None, ["up", "-d"])
    assert plugin.split_docker_flags(["-H", "unix:///x.sock", "--debug", "compose", "ps"]) == (
        "unix:///x.sock",
        ["ps"],
    )
    assert plugin.split_docker_flags(["--context=c", "compose", "-p", "x", "ls"]) == (
        None,
        ["-p", "x", "ls"],
    )
