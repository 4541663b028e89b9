"""Progress output: plain lines off a terminal, a redrawn view on one, nothing when quiet."""

from __future__ import annotations

import io

from dockyard.compose.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_off_a_terminal() -> None:
    out = io.StringIO()
    p = Progress("auto", out)
    p.event("Container", "p-web-1", "Starting")
    p.event("Container", "p-web-1", "Started")
    assert out.getvalue() == " Container p-web-1  Starting\n Container p-web-1  Started\n"


def test_live_view_on_a_terminal() -> None:
    out = _Tty()
    p = Progress("auto", out)
    p.event("Network", "p_default", "Creating")
    p.event("Network", "p_default", "Created")
    p.event("Container", "p-web-1", "Starting")
    text = out.getvalue()
    last = text.rsplit("\033[2K", 1)[-1]
    assert last.startswith("[+] Running 1/2\n")
    assert " \u2714 Network p_default  Created    0.0s" in last
    assert " \u283f Container p-web-1  Starting" in last
    assert text.count("\033[1A\033[2K") == 2 + 2  # each redraw clears the previous one


def test_quiet() -> None:
    out = _Tty()
    p = Progress("quiet", out)
    p.event("Container", "x", "Started")
    assert out.getvalue() == ""


def test_json_lines_as_compose_v2_writes_them() -> None:
    out = _Tty()  # json whether or not on a terminal
    p = Progress("json", out)
    p.event("Network", "p_default", "Creating")
    p.event("Container", "p-<web>&-1", "Started")
    assert out.getvalue() == (
        '{"id":"Network p_default","status":"Creating"}\n'
        '{"id":"Container p-\\u003cweb\\u003e\\u0026-1","status":"Started"}\n'
    )
