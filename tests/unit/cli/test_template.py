"""The Go-template subset behind --format."""

from __future__ import annotations

import pytest

from dockyard.cli.pscontext import ContainerRow, ps_header
from dockyard.cli.template import Template, TemplateError, prepare, render

INSPECT = {
    "Id": "52fc483cdc54",
    "State": {"Status": "exited", "Running": False, "Pid": 0},
    "Config": {
        "Cmd": ["echo", "hi"],
        "Entrypoint": None,
        "Labels": {"b": "2", "a": "1"},
        "Volumes": None,
    },
    "HostConfig": {"Links": None, "Memory": 0},
}


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("{{.Id}}", "52fc483cdc54"),
        ("{{.State.Status}}", "exited"),
        ("{{.State.Running}} {{.State.Pid}}", "false 0"),
        ("{{.Config.Cmd}}", "[echo hi]"),
        ("{{json .Config.Cmd}}", '["echo","hi"]'),
        ("{{.Config.Entrypoint}}", "[]"),
        ("{{json .Config.Entrypoint}}", "null"),
        ("{{.Config.Labels}}", "map[a:1 b:2]"),
        ("{{.Config.Volumes}}", "map[]"),
        ("{{.HostConfig.Links}}", "[]"),
        ("{{json .State}}", '{"Status":"exited","Running":false,"Pid":0}'),
        ('{{index .Config.Labels "a"}}', "1"),
        ("{{.State.Status | upper}}", "EXITED"),
        ('{{join .Config.Cmd ","}}', "echo,hi"),
        ("a {{- .Id -}} b", "a52fc483cdc54b"),
        ("id={{.Id}} done", "id=52fc483cdc54 done"),
    ],
)
def test_inspect_templates(text: str, out: str) -> None:
    assert Template(text).execute(INSPECT) == out


def test_missing_key_is_an_error_with_docker_wording() -> None:
    with pytest.raises(TemplateError) as e:
        Template("{{.Nope}}").execute(INSPECT)
    assert str(e.value) == (
        'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"'
    )


def test_unsupported_actions_are_errors() -> None:
    with pytest.raises(TemplateError):
        Template("{{range .Config.Cmd}}{{.}}{{end}}")


def test_prepare_unescapes_tabs_and_detects_table() -> None:
    assert prepare("table {{.ID}}\\t{{.Names}}") == (True, "{{.ID}}\t{{.Names}}")
    assert prepare("{{.ID}}") == (False, "{{.ID}}")


CONTAINER = {
    "Id": "458189b527ab93010d78743401e1172e625deb3601b8015fed8a0ca98d733a1a",
    "Names": ["/d1"],
    "Image": "busybox",
    "ImageID": "sha256:7feabd28e009170e3c71da943ab86d7fb17da6807cc54eee1d77094bb5c25dbc",
    "Command": "sh -c 'echo $FOO $(pwd) $(hostname)'",
    "Created": 1000,
    "Ports": [],
    "Labels": {"x": "y"},
    "State": "running",
    "Status": "Up 1 second",
    "NetworkSettings": {"Networks": {"bridge": {}}},
    "Mounts": [],
}


def test_ps_table_like_docker() -> None:
    fmt = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    out = render(fmt, [ContainerRow(CONTAINER, True, now=1001)], ps_header())
    assert out.split("\n") == [
        "CONTAINER ID   IMAGE     COMMAND                  CREATED        STATUS        PORTS     NAMES",
        '458189b527ab   busybox   "sh -c \'echo $FOO $(…"   1 second ago   Up 1 second             d1',
        "",
    ]


def test_ps_json_row_has_docker_fields() -> None:
    out = render("{{json .}}", [ContainerRow(CONTAINER, True, now=1002)])
    assert out.startswith('{"Command":"\\"sh -c \'echo $FOO $(…\\"","CreatedAt":')
    assert '"ID":"458189b527ab","Image":"busybox","Labels":"x=y","LocalVolumes":"0"' in out
    assert '"Networks":"bridge","Ports":"","RunningFor":"2 seconds ago"' in out


def test_ps_label_method_and_no_trunc() -> None:
    row = ContainerRow(CONTAINER, False)
    assert Template('{{.Label "x"}} {{.ID}}').execute(row) == f"y {CONTAINER['Id']}"
