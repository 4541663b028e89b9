from __future__ import annotations

import os
import signal

import pytest

from dockyard.api.errors import InvalidParameter
from dockyard.daemon.services import names
from dockyard.daemon.services.container_model import status_text
from dockyard.daemon.services.signals import parse_signal
from dockyard.humanize import human_duration
from dockyard.rootpath import open_in_root


@pytest.mark.parametrize("v, n", [("KILL", 9), ("SIGKILL", 9), ("9", 9), ("term", 15), (None, 15)])
def test_parse_signal(v: str | None, n: int) -> None:
    assert parse_signal(v) == n


def test_bad_signal() -> None:
    with pytest.raises(InvalidParameter, match="Invalid signal: NOPE"):
        parse_signal("NOPE")
    assert parse_signal(None, signal.SIGKILL) == 9


def test_names() -> None:
    assert names.validate("web-1") == "/web-1"
    with pytest.raises(InvalidParameter, match=r"Invalid container name \(a b\)"):
        names.validate("a b")
    taken = {names.random_name(set()) for _ in range(20)}
    assert all(n.startswith("/") and "_" in n for n in taken)


@pytest.mark.parametrize(
    "secs, text",
    [
        (0.2, "Less than a second"),
        (1, "1 second"),
        (5, "5 seconds"),
        (61, "About a minute"),
        (300, "5 minutes"),
        (3600, "About an hour"),
        (7200, "2 hours"),
        (86400 * 3, "3 days"),
    ],
)
def test_human_duration(secs: float, text: str) -> None:
    assert human_duration(secs) == text


def test_status_text() -> None:
    st = {
        "Status": "exited",
        "Running": False,
        "ExitCode": 3,
        "FinishedAt": "2024-01-01T00:00:00.000000000Z",
        "StartedAt": "2024-01-01T00:00:00Z",
    }
    assert status_text(st, now=1704067205) == "Exited (3) 5 seconds ago"
    assert status_text({"Status": "created", "FinishedAt": "0001-01-01T00:00:00Z"}) == "Created"


def test_open_in_root_stays_inside(tmp_path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("inside\n")
    outside = tmp_path / "secret"
    outside.write_text("outside\n")
    os.symlink(str(outside), root / "abs-link")
    os.symlink("../../secret", root / "etc" / "rel-link")
    with open_in_root(str(root), "/etc/passwd") as f:
        assert f.read() == b"inside\n"
    for evil in ("abs-link", "etc/rel-link", "../secret", "/../../secret"):
        with pytest.raises(FileNotFoundError):
            open_in_root(str(root), evil)


def test_a_stalled_event_subscriber_holds_a_bounded_queue() -> None:
    from dockyard.daemon.services import events

    bus = events.EventBus()
    stalled = bus.subscribe()
    for i in range(events.QUEUE * 3):
        bus.publish("container", "start", f"c{i}")
    assert stalled.qsize() == events.QUEUE
    assert stalled.get_nowait().actor_id == "c0"  # the first ones, in order
    reader = bus.subscribe()
    bus.publish("container", "die", "x")
    assert reader.get_nowait().action == "die"
