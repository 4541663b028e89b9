"""Prune's `until` filter read as moby's timetypes (issue 13): a bare date, RFC 3339
with a zone offset (once dropped: one hour off), a Go duration. Each scenario runs on
dockyardd and on the peer dockerd and asserts what dockerd answers."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from urllib.parse import quote

from tests.conftest import Daemon
from tests.integration.daemon.rawapi import request


def _prune(engine: Daemon, label: str, until: str) -> tuple[int, dict]:
    filters = quote(json.dumps({"label": [label], "until": [until]}))
    status, _, raw = request(engine.sock, "POST", f"/containers/prune?filters={filters}")
    return status, json.loads(raw) if raw.strip() else {}


def _offset(minutes_from_now: int) -> str:
    """Now plus `minutes_from_now`, written in the +01:00 zone."""
    zone = dt.timezone(dt.timedelta(hours=1))
    t = dt.datetime.now(zone) + dt.timedelta(minutes=minutes_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%S+01:00")


def test_container_prune_until_reads_dates_offsets_and_durations(engine: Daemon) -> None:
    label = f"fid-until-{uuid.uuid4().hex[:8]}"
    name = f"{label}-c"
    engine.docker("create", "--name", name, "--label", label, "busybox", "true", check=True)
    try:
        for until in ("2024-01-01", "2024-01-01T00:00:00Z", _offset(-30), "1h"):
            status, report = _prune(engine, label, until)
            assert status == 200, (until, report)
            assert not report.get("ContainersDeleted"), until  # created after each
        status, report = _prune(engine, label, "bogus")
        assert status in (400, 500) and "bogus" in report.get("message", "")
        status, report = _prune(engine, label, _offset(30))
        assert status == 200 and len(report.get("ContainersDeleted") or []) == 1
    finally:
        engine.docker("rm", "-f", name)
