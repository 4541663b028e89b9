"""A service's model → the container create body compose sends."""

from __future__ import annotations

from pathlib import Path

from dockyard.compose import convert, labels, loader


def _project(tmp_path: Path, text: str):
    (tmp_path / "compose.yaml").write_text(text)
    return loader.load(loader.Options(cwd=str(tmp_path), environ={}, project_name="p"))


def test_create_body(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("secret")
    project = _project(
        tmp_path,
        """
services:
  web:
    image: busybox
    command: httpd -f
    ports: ["127.0.0.1:8080:80/udp"]
    volumes: ["data:/data:ro", "./src:/src"]
    tmpfs: [/run]
    environment: {A: "1"}
    healthcheck: {test: "true", interval: 1m30s, retries: 3}
    deploy: {resources: {limits: {memory: 64m, cpus: "0.5"}}}
    stop_grace_period: 3s
    restart: on-failure:2
    secrets: [token]
    networks:
      back: {aliases: [api], ipv4_address: 10.9.0.5}
volumes: {data: {}}
networks: {back: {}}
secrets: {token: {file: ./s.txt}}
""",
    )
    svc = project.services["web"]
    lbls = labels.container_labels(project, svc, 1, False)
    body = convert.create_body(project, svc, lbls, "busybox", None, "p_back")
    host = body["HostConfig"]
    assert body["Cmd"] == ["httpd", "-f"]
    assert body["Env"] == ["A=1"]
    assert body["ExposedPorts"] == {"80/udp": {}}
    assert host["PortBindings"] == {"80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}
    assert host["Mounts"] == [
        {"Type": "volume", "Target": "/data", "ReadOnly": True, "Source": "p_data",
         "VolumeOptions": {"NoCopy": False}},
        {"Type": "bind", "Target": "/src", "Source": str(tmp_path / "src")},
        {"Type": "bind", "Source": str(tmp_path / "s.txt"), "Target": "/run/secrets/token",
         "ReadOnly": True},
    ]  # fmt: skip
    assert host["Tmpfs"] == {"/run": ""}
    assert host["Memory"] == 64 * 1024 * 1024 and host["NanoCpus"] == 500_000_000
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert body["StopTimeout"] == 3
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90 * 10**9,
                                   "Retries": 3}  # fmt: skip
    assert body["NetworkingConfig"]["EndpointsConfig"]["p_back"] == {
        "Aliases": ["web", "api"],
        "IPAMConfig": {"IPv4Address": "10.9.0.5"},
    }
    assert body["Labels"][labels.PROJECT] == "p"
    assert body["Labels"][labels.SERVICE] == "web"
    assert body["Labels"][labels.ONEOFF] == "False"
    assert body["Labels"][labels.WORKING_DIR] == str(tmp_path)


def test_config_hash_ignores_scale_but_not_command(tmp_path: Path) -> None:
    one = _project(tmp_path, "services:\n  a:\n    image: x\n    scale: 1\n").services["a"]
    three = _project(tmp_path, "services:\n  a:\n    image: x\n    scale: 3\n").services["a"]
    other = _project(tmp_path, "services:\n  a:\n    image: x\n    command: y\n").services["a"]
    assert labels.config_hash(one) == labels.config_hash(three)
    assert labels.config_hash(one) != labels.config_hash(other)


def test_implicit_dependencies_and_references(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        """
services:
  db: {image: db}
  data: {image: data}
  app:
    image: app
    network_mode: service:db
    volumes_from: [data:ro]
    links: [db:database]
""",
    )
    app = project.services["app"]
    assert set(app.depends_on) == {"db", "data"}
    assert project.dependency_order(["app"])[-1] == "app"
    body = convert.create_body(project, app, {}, "app", "container:x", None)
    assert body["HostConfig"]["VolumesFrom"] == ["p-data-1:ro"]
    assert body["HostConfig"]["Links"] == ["p-db-1:database"]
    assert body["HostConfig"]["NetworkMode"] == "container:x"
    assert "NetworkingConfig" not in body


def test_dependents_are_transitive(tmp_path: Path) -> None:
    project = _project(tmp_path, """
services:
  db: {image: x}
  api: {image: x, depends_on: [db]}
  web: {image: x, depends_on: [api]}
  other: {image: x}
""")
    assert project.dependents(["db"]) == ["db", "api", "web"]
    assert project.dependency_order(["web"]) == ["db", "api", "web"]
