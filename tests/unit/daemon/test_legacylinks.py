"""legacylinks: parsing a --link and moby's Link.ToEnv variables."""

from __future__ import annotations

from dockyard.daemon.services.legacylinks import link_env, parse


def test_parse() -> None:
    assert parse("db") == ("db", "db")
    assert parse("db:dbx") == ("db", "dbx")
    assert parse("/db:/web/dbx") == ("db", "dbx")


def test_link_env_as_moby() -> None:
    env = link_env("/web/my-db", "10.0.0.2", ["53/udp", "5432/tcp", "53/tcp"],
                   ["PATH=/bin", "HOME=/root", "SECRET=a=b", "BARE"])  # fmt: skip
    assert env[0] == "MY_DB_PORT=tcp://10.0.0.2:53"  # the lowest port, tcp first
    assert env[1:5] == [
        "MY_DB_PORT_53_TCP=tcp://10.0.0.2:53",
        "MY_DB_PORT_53_TCP_ADDR=10.0.0.2",
        "MY_DB_PORT_53_TCP_PORT=53",
        "MY_DB_PORT_53_TCP_PROTO=tcp",
    ]
    assert "MY_DB_PORT_53_UDP=udp://10.0.0.2:53" in env
    assert "MY_DB_PORT_5432_TCP_ADDR=10.0.0.2" in env
    assert env[-2:] == ["MY_DB_NAME=/web/my-db", "MY_DB_ENV_SECRET=a=b"]
    assert link_env("/web/x", "10.0.0.3", [], []) == ["X_NAME=/web/x"]
