"""The pflag-compatible parser: combined shorts, --x=y, interspersed rules, errors."""

from __future__ import annotations

import pytest

from dockyard.cli.attach import start_error_status
from dockyard.cli.container import CREATE, RUN, build_create_body
from dockyard.cli.flags import Command, UsageError, help_text, parse, usage_error_text
from dockyard.cli.ps import PS


def test_run_stops_at_the_image() -> None:
    opts, args = parse(RUN, ["--rm", "-e", "A=1", "busybox", "ls", "-l", "--rm"])
    assert opts["rm"] is True
    assert opts["env"] == ["A=1"]
    assert args == ["busybox", "ls", "-l", "--rm"]


def test_combined_short_flags_and_attached_values() -> None:
    opts, args = parse(RUN, ["-dit", "-eFOO=bar", "-e=X=1", "-wdir", "--name=x", "img"])
    assert (opts["detach"], opts["interactive"], opts["tty"]) == (True, True, True)
    assert opts["env"] == ["FOO=bar", "X=1"]
    assert opts["workdir"] == "dir"
    assert opts["name"] == "x"
    assert args == ["img"]


def test_bool_with_explicit_value_and_help_short_is_hostname_for_run() -> None:
    opts, _ = parse(RUN, ["--rm=false", "-h", "box", "img"])
    assert opts["rm"] is False
    assert opts["hostname"] == "box"
    opts, _ = parse(PS, ["-h"])
    assert opts["help"] is True


def test_interspersed_commands_accept_flags_after_positionals() -> None:
    from dockyard.cli.lifecycle import STOP

    opts, args = parse(STOP, ["c1", "-t", "3", "c2"])
    assert opts["time"] == 3
    assert args == ["c1", "c2"]


def test_double_dash_ends_flags() -> None:
    from dockyard.cli.lifecycle import RM

    _, args = parse(RM, ["--", "-weird"])
    assert args == ["-weird"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nosuch", "img"], "unknown flag: --nosuch"),
        (["-Z", "img"], "unknown shorthand flag: 'Z' in -Z"),
        (["--name"], "flag needs an argument: --name"),
        (["img", "-e"], None),  # after the image: the command's own argument
        (["--stop-timeout", "x", "img"], 'invalid argument "x" for "--stop-timeout" flag: '),
    ],
)
def test_flag_errors(argv: list[str], message: str | None) -> None:
    if message is None:
        assert parse(RUN, argv)[1] == argv
        return
    with pytest.raises(UsageError) as e:
        parse(RUN, argv)
    assert e.value.message.startswith(message)
    assert e.value.status == 125


def test_usage_error_text_like_docker_20() -> None:
    with pytest.raises(UsageError) as e:
        parse(RUN, ["--nosuch"])
    assert usage_error_text("run", e.value, RUN) == (
        "unknown flag: --nosuch\nSee 'dockyard run --help'.\n"
    )


def test_argument_count_errors_exit_1_with_usage() -> None:
    with pytest.raises(UsageError) as e:
        parse(RUN, [])
    assert e.value.status == 1
    assert usage_error_text("run", e.value, RUN).startswith(
        "\"dockyard run\" requires at least 1 argument.\nSee 'dockyard run --help'.\n\n"
        "Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
    )
    with pytest.raises(UsageError) as e:
        parse(PS, ["extra"])
    assert e.value.message == '"dockyard ps" accepts no arguments.'


def test_help_lists_flags() -> None:
    text = help_text(PS)
    assert "Usage:  dockyard ps [OPTIONS]" in text
    assert "  -a, --all " in text
    assert "      --no-trunc " in text


def test_create_body_for_run() -> None:
    opts, args = parse(
        RUN,
        [
            "--rm",
            "-i",
            "-e",
            "A=1",
            "-l",
            "k=v",
            "-l",
            "flag",
            "-u",
            "1:2",
            "--entrypoint",
            "",
            "bb",
            "sh",
        ],
    )
    body = build_create_body(opts, args[0], args[1:])
    assert body["Image"] == "bb" and body["Cmd"] == ["sh"]
    assert body["Entrypoint"] == [""]
    assert (body["AttachStdin"], body["AttachStdout"], body["AttachStderr"]) == (True, True, True)
    assert body["OpenStdin"] and body["StdinOnce"]
    assert body["Labels"] == {"k": "v", "flag": ""}
    assert body["User"] == "1:2" and body["Env"] == ["A=1"]
    assert body["HostConfig"]["AutoRemove"] is True
    assert body["HostConfig"]["NetworkMode"] == "default"


def test_create_body_detached_attaches_nothing() -> None:
    opts, args = parse(RUN, ["-d", "bb"])
    body = build_create_body(opts, args[0], args[1:])
    assert not (body["AttachStdin"] or body["AttachStdout"] or body["AttachStderr"])
    assert body["Cmd"] is None and body["Entrypoint"] is None
    opts, args = parse(CREATE, ["-p", "127.0.0.1:8080:80", "-p", "53/udp", "bb"])
    body = build_create_body(opts, args[0], args[1:])
    assert body["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert body["HostConfig"]["PortBindings"]["80/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": "8080"}
    ]


def test_env_without_value_comes_from_our_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DY_TEST_VAR", "v")
    opts, args = parse(RUN, ["-e", "DY_TEST_VAR", "-e", "DY_UNSET_VAR", "bb"])
    assert build_create_body(opts, "bb", [])["Env"] == ["DY_TEST_VAR=v", "DY_UNSET_VAR"]


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ('exec: "x": executable file not found in $PATH: unknown', 127),
        ("open /nope: no such file or directory", 127),
        ('exec: "/etc/passwd": permission denied: unknown', 126),
        ("something else", 125),
    ],
)
def test_start_error_status(message: str, status: int) -> None:
    assert start_error_status(message) == status


@pytest.mark.parametrize(
    ("use", "name"),
    [
        ("stop [OPTIONS] CONTAINER [CONTAINER...]", "stop"),
        ("network create [OPTIONS] NETWORK", "network create"),
        ("top CONTAINER [ps OPTIONS]", "top"),
        ("import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "import"),
        ("context show", "context show"),
        ("compose up [OPTIONS] [SERVICE...]", "compose up"),
    ],
)
def test_a_commands_name_is_the_leading_words_of_its_use_line(use: str, name: str) -> None:
    assert Command(use, "").name == name


def test_usage_of_a_command_without_arguments_ends_at_its_name() -> None:
    from dockyard.cli.context import SHOW

    with pytest.raises(UsageError) as e:
        parse(SHOW, ["extra"])
    # docker 28.2's `docker context show x`: "Usage:  docker context show\n", no trailing blank
    assert "\nUsage:  dockyard context show\n\n" in usage_error_text("context show", e.value, SHOW)


def test_every_command_main_dispatches_to_is_in_its_modules_table() -> None:
    import importlib

    from dockyard.cli import main

    keys = set(main._MODULES) | {k for subs in main._GROUPS.values() for k in subs.values()}
    for key in keys:
        module = importlib.import_module(f"dockyard.cli.{main._MODULES.get(key, 'system')}")
        command, handler = module.COMMANDS[key]
        assert command.name == key
        assert handler.command is command
