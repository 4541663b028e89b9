"""`docker search HOST/TERM` (GET /images/search) through the official docker CLI:
our registry answers the v1 search API over its catalog; distribution 2.8 has no
such API (an error, as dockerd gives); Docker Hub is not contacted."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import Daemon
from tests.integration.registry.peers import Registry

pytestmark = pytest.mark.integration


def test_search_our_registry(daemon: Daemon, ours: Registry) -> None:
    word = "srch" + uuid.uuid4().hex[:6]
    refs = [f"{ours.addr}/dy/{word}-one:v1", f"{ours.addr}/dy/{word}-two:v1"]
    try:
        for ref in refs:
            daemon.docker("tag", "busybox:latest", ref, check=True)
            daemon.docker("push", ref, check=True)
        r = daemon.docker("search", "--format", "{{.Name}}", f"{ours.addr}/{word}", check=True)
        assert sorted(r.stdout.split()) == [f"dy/{word}-one", f"dy/{word}-two"]
        r = daemon.docker("search", "--limit", "1", "--format", "{{.Name}}", f"{ours.addr}/{word}")
        assert r.returncode == 0 and len(r.stdout.split()) == 1, r.stderr
        r = daemon.docker(
            "search", "--filter", "is-official=true", f"{ours.addr}/{word}", check=True
        )
        assert word not in r.stdout  # none is official
        r = daemon.docker(
            "search", "--format", "{{json .}}", f"{ours.addr}/nothing-{word}", check=True
        )
        assert r.stdout.strip() == ""
        r = daemon.docker("search", "--filter", "stars=x", f"{ours.addr}/{word}")
        assert r.returncode != 0 and "invalid filter 'stars=x'" in r.stderr
        r = daemon.docker("search", "--limit", "101", f"{ours.addr}/{word}")
        assert r.returncode != 0 and "limit 101 is outside the range of [1, 100]" in r.stderr
        row = json.loads(
            daemon.docker(
                "search", "--format", "{{json .}}", f"{ours.addr}/{word}-one", check=True
            ).stdout
        )
        assert row["Name"] == f"dy/{word}-one" and row["StarCount"] == "0"
    finally:
        daemon.docker("rmi", *refs)


def test_search_elsewhere_fails_clearly(daemon: Daemon) -> None:
    r = daemon.docker("search", "busybox")  # Docker Hub's index
    assert r.returncode != 0 and "Dockyard does not contact Docker Hub" in r.stderr


def test_dockyard_search_prints_as_docker(daemon: Daemon, ours: Registry) -> None:
    word = "srch" + uuid.uuid4().hex[:6]
    ref = f"{ours.addr}/dy/{word}-one:v1"
    try:
        daemon.docker("tag", "busybox:latest", ref, check=True)
        daemon.docker("push", ref, check=True)
        for args in ([], ["--format", "{{json .}}"], ["--limit", "1", "--no-trunc"]):
            ours_out = daemon.dockyard("search", *args, f"{ours.addr}/{word}", check=True).stdout
            theirs = daemon.docker("search", *args, f"{ours.addr}/{word}", check=True).stdout
            assert ours_out == theirs and word in ours_out, args
    finally:
        daemon.docker("rmi", ref)
