"""Legacy links on the default bridge (issue 12.6), as dockerd has them: an /etc/hosts
line for the alias, the child's hostname and name; ALIAS_PORT_* and ALIAS_ENV_*
variables; inspect's HostConfig.Links as "/child:/parent/alias"; `docker rm --link`
removes the link (DELETE /containers/{parent}/{alias}?link=1), never the container,
and refuses a container's own name."""

from __future__ import annotations

import uuid

from tests.conftest import Daemon, inspect


def test_legacy_links(engine: Daemon) -> None:
    tag = uuid.uuid4().hex[:6]
    db, web = f"fiddb{tag}", f"fidweb{tag}"
    engine.docker("run", "-d", "--name", db, "-e", "SECRET=s3", "--expose", "5432",
                  "busybox", "sleep", "300", check=True)  # fmt: skip
    try:
        child = inspect(engine, db)
        ip = next(iter(child["NetworkSettings"]["Networks"].values()))["IPAddress"]
        hostname = child["Config"]["Hostname"]
        engine.docker("run", "-d", "--name", web, "--link", f"{db}:dbx", "busybox",
                      "sleep", "300", check=True)  # fmt: skip
        hosts = engine.docker("exec", web, "cat", "/etc/hosts", check=True).stdout
        assert f"{ip}\tdbx {hostname} {db}" in hosts.splitlines(), hosts
        env = set(engine.docker("exec", web, "env", check=True).stdout.split())
        for var in (
            f"DBX_PORT=tcp://{ip}:5432",
            f"DBX_PORT_5432_TCP=tcp://{ip}:5432",
            f"DBX_PORT_5432_TCP_ADDR={ip}",
            "DBX_PORT_5432_TCP_PORT=5432",
            "DBX_PORT_5432_TCP_PROTO=tcp",
            f"DBX_NAME=/{web}/dbx",
            "DBX_ENV_SECRET=s3",
        ):
            assert var in env, (var, sorted(env))
        assert not any(v.startswith("DBX_ENV_PATH=") for v in env)
        assert inspect(engine, web)["HostConfig"]["Links"] == [f"/{db}:/{web}/dbx"]
        # a container's own name is not a link: refused, and nothing is removed
        r = engine.docker("rm", "--link", db)
        assert r.returncode != 0
        assert "Conflict, cannot remove the default link name of the container" in r.stderr
        assert engine.docker("inspect", db).returncode == 0
        # the link goes, both containers stay (our own CLI too, on our daemon)
        r = engine.docker("rm", "--link", f"/{web}/dbx")
        assert r.returncode == 0, r.stderr
        if engine.proc.args[0].endswith("dockyardd"):
            engine.docker("create", "--name", f"{web}-2", "--link", db, "busybox", check=True)
            assert inspect(engine, f"{web}-2")["HostConfig"]["Links"] == [f"/{db}:/{web}-2/{db}"]
            r = engine.dockyard("rm", "--link", f"/{web}-2/{db}")
            assert r.returncode == 0, r.stderr
            assert inspect(engine, f"{web}-2")["HostConfig"]["Links"] is None
        assert engine.docker("inspect", db).returncode == 0
        assert inspect(engine, web)["HostConfig"]["Links"] is None
    finally:
        engine.docker("rm", "-f", web, f"{web}-2", db)


def test_link_to_a_missing_container_is_refused_at_create(engine: Daemon) -> None:
    r = engine.docker("create", "--link", "fidnosuchcontainer:x", "busybox")
    if r.returncode == 0:
        engine.docker("rm", r.stdout.strip())
    assert r.returncode != 0
    assert "could not get container for fidnosuchcontainer" in r.stderr, r.stderr
    assert "Unable to find image" not in r.stderr


def test_a_removed_child_stays_in_the_parents_links(engine: Daemon) -> None:
    """dockerd's link index forgets a removed child only as a parent: its parents keep
    the link (inspect still shows it), and a parent cannot start without it."""
    tag = uuid.uuid4().hex[:6]
    db, web = f"fiddb{tag}", f"fidweb{tag}"
    engine.docker("run", "-d", "--name", db, "busybox", "sleep", "300", check=True)
    try:
        engine.docker("create", "--name", web, "--link", f"{db}:dbx", "busybox", "sleep", "300",
                      check=True)  # fmt: skip
        engine.docker("rm", "-f", db, check=True)
        assert inspect(engine, web)["HostConfig"]["Links"] == [f"/{db}:/{web}/dbx"]
        r = engine.docker("start", web)
        assert r.returncode == 1
        assert f"Cannot link to a non running container: /{db} AS /{web}/dbx" in r.stderr
        # a new container of the child's name is not the child
        engine.docker("run", "-d", "--name", db, "busybox", "sleep", "300", check=True)
        r = engine.docker("start", web)
        assert r.returncode == 1
        assert f"Cannot link to a non running container: /{db} AS /{web}/dbx" in r.stderr
    finally:
        engine.docker("rm", "-f", web, db)
