"""Events dockerd emits around a container's run (issue 12.7): `attach` when a client
attaches, and network `connect` / `disconnect` for each network the container joins
at start and leaves when it stops (actor: the network; attributes: container, name,
type), besides the explicit `docker network connect/disconnect`."""

from __future__ import annotations

import json
import time
import uuid

from tests.conftest import Daemon


def _events(d: Daemon, since: float, cid: str) -> list[tuple[str, str, dict[str, str]]]:
    r = d.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}",
                 "--format", "{{json .}}", check=True)  # fmt: skip
    out = []
    for line in r.stdout.splitlines():
        ev = json.loads(line)
        attrs = ev["Actor"]["Attributes"]
        if ev["Actor"]["ID"] == cid or attrs.get("container") == cid:
            out.append((ev["Type"], ev["Action"], attrs))
    return out


def _order(evs: list[tuple[str, str, dict[str, str]]], kind: str, action: str) -> int:
    return [(t, a) for t, a, _ in evs].index((kind, action))


def test_run_emits_attach_and_network_events(engine: Daemon) -> None:
    net = f"fidev{uuid.uuid4().hex[:6]}"
    engine.docker("network", "create", "--internal", net, check=True)
    try:
        for network, kind in (("none", "null"), (net, "bridge")):
            name = f"fid-ev-{uuid.uuid4().hex[:8]}"
            since = time.time() - 1
            engine.docker("run", "--name", name, "--network", network, "busybox", "true",
                          check=True)  # fmt: skip
            cid = engine.docker("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
            engine.docker("rm", name, check=True)
            evs = _events(engine, since, cid)
            actions = [(t, a) for t, a, _ in evs]
            assert ("container", "attach") in actions, actions
            connect = [e for e in evs if e[:2] == ("network", "connect")]
            disconnect = [e for e in evs if e[:2] == ("network", "disconnect")]
            assert len(connect) == 1 and len(disconnect) == 1, actions
            for _, _, attrs in connect + disconnect:
                assert attrs == {"container": cid, "name": network, "type": kind}
            assert _order(evs, "container", "create") < _order(evs, "container", "attach")
            assert _order(evs, "container", "attach") < _order(evs, "container", "start")
            assert _order(evs, "network", "connect") < _order(evs, "container", "start")
            assert _order(evs, "container", "start") < _order(evs, "network", "disconnect")
            # dockerd says the container died, then cleans up (its network first)
            assert _order(evs, "container", "die") < _order(evs, "network", "disconnect")
            assert _order(evs, "network", "disconnect") < _order(evs, "container", "destroy")
    finally:
        engine.docker("network", "rm", net)


def test_predefined_networks_drivers(engine: Daemon) -> None:
    """dockerd's `none` network has the `null` driver (network ls, inspect, filters)."""
    r = engine.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}", check=True)
    drivers = dict(line.split() for line in r.stdout.splitlines())
    assert drivers["none"] == "null" and drivers["host"] == "host"
    assert drivers["bridge"] == "bridge"
    r = engine.docker("network", "ls", "-q", "-f", "driver=null", "--format", "{{.Name}}",
                      check=True)  # fmt: skip
    assert r.stdout.split() == ["none"]


def _filtered(d: Daemon, since: float, *filters: str) -> list[tuple[str, str, str]]:
    args = [a for f in filters for a in ("--filter", f)]
    r = d.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}",
                 *args, "--format", "{{json .}}", check=True)  # fmt: skip
    out = []
    for line in r.stdout.splitlines():
        ev = json.loads(line)
        out.append((ev["Type"], ev["Action"], ev["Actor"]["Attributes"].get("name", "")))
    return out


def test_events_filters_match_as_dockerd(engine: Daemon) -> None:
    """dockerd's container, network and volume filters take a prefix of the actor's id
    or name, whatever the event's type; its image filter also matches containers by
    their image."""
    tag = uuid.uuid4().hex[:8]
    name = f"fidflt{tag}-long"
    since = time.time() - 1
    engine.docker("run", "--name", name, "--network", "none", "busybox", "true", check=True)
    engine.docker("rm", name, check=True)
    by_prefix = _filtered(engine, since, f"container=fidflt{tag}")
    assert ("container", "create", name) in by_prefix
    assert ("container", "destroy", name) in by_prefix
    assert all(n == name for _, _, n in by_prefix), by_prefix  # `none`'s events: not its name
    cid_events = _filtered(engine, since, f"container={name}", "event=create")
    assert [(t, a) for t, a, _ in cid_events] == [("container", "create")]
    mine = [e for e in _filtered(engine, since, "image=busybox") if e[2] == name]
    assert ("container", "create", name) in mine and ("container", "die", name) in mine
    # the image as the container names it ("busybox", as typed): a tag given must be
    # there too
    assert [e for e in _filtered(engine, since, "image=busybox:latest") if e[2] == name] == []
