"""The config hash as Compose v2 (2.30.3, compose-go 2.4.4) computes it: sha256 of Go's
json.Marshal of the service's ServiceConfig, build/pull_policy/scale/replicas/
depends_on/profiles cleared. The expected bytes below are written by hand from
compose-go's struct declarations (field order, omitempty, pointer fields, the
UnitBytes, Duration and UlimitsConfig marshalers), not produced by this code."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dockyard.compose import labels, loader
from dockyard.compose.confighash import go_service, resolve_references
from dockyard.compose.gojson import go_json
from dockyard.proto.timetypes import go_duration_string


def _project(tmp_path: Path, text: str):
    (tmp_path / "compose.yaml").write_text(text)
    return loader.load(loader.Options(cwd=str(tmp_path), environ={}, project_name="p"))


def _check(service, expected: str) -> None:
    assert go_json(go_service(service.config)) == expected
    assert labels.config_hash(service) == hashlib.sha256(expected.encode()).hexdigest()


def test_the_bench_service(tmp_path: Path) -> None:
    project = _project(tmp_path, """
services:
  s0: {image: busybox}
  s1:
    image: busybox
    command: ["sleep", "100000"]
    stop_signal: SIGKILL
    environment: [INDEX=1]
    volumes: ["data:/data"]
    depends_on: [s0]
    scale: 1
    pull_policy: missing
volumes: {data: {}}
""")
    _check(project.services["s1"],
           '{"command":["sleep","100000"],"entrypoint":null,"environment":{"INDEX":"1"},'
           '"image":"busybox","networks":{"default":null},"stop_signal":"SIGKILL",'
           '"volumes":[{"type":"volume","source":"data","target":"/data","volume":{}}]}')
    _check(project.services["s0"],
           '{"command":null,"entrypoint":null,"image":"busybox","networks":{"default":null}}')


def test_typed_fields_pointers_and_omitempty(tmp_path: Path) -> None:
    project = _project(tmp_path, """
services:
  web:
    image: nginx:1.25
    command: nginx -g 'daemon off;'
    environment: {A: "1", B: null}
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp"]
    volumes: ["./html:/usr/share/nginx/html:ro", "data:/data", {type: tmpfs, target: /tmp}]
    healthcheck: {test: ["CMD", "true"], interval: 10s, timeout: 90s, retries: 3}
    deploy: {replicas: 2, resources: {limits: {memory: 64M, cpus: "0.5"}}}
    extra_hosts: ["db:10.0.0.2"]
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    labels: [a=b, "c=<&>"]
    networks: {front: {aliases: [w]}, back: null}
    mem_limit: 1g
    stop_grace_period: 1m
    init: false
    privileged: false
    x-foo: bar
networks: {front: {}, back: {}}
volumes: {data: {}}
""")
    html = tmp_path / "html"
    _check(project.services["web"],
           '{"command":["nginx","-g","daemon off;"],'
           '"deploy":{"resources":{"limits":{"cpus":0.5,"memory":"67108864"}},"placement":{}},'
           '"entrypoint":null,"environment":{"A":"1","B":null},"extra_hosts":["db=10.0.0.2"],'
           '"healthcheck":{"test":["CMD","true"],"timeout":"1m30s","interval":"10s","retries":3},'
           '"image":"nginx:1.25","init":false,"labels":{"a":"b","c":"\\u003c\\u0026\\u003e"},'
           '"mem_limit":"1073741824","networks":{"back":null,"front":{"aliases":["w"]}},'
           '"ports":[{"mode":"ingress","target":80,"published":"8080","protocol":"tcp"},'
           '{"mode":"ingress","host_ip":"127.0.0.1","target":9000,"published":"9000","protocol":"udp"},'
           '{"mode":"ingress","host_ip":"127.0.0.1","target":9001,"published":"9001","protocol":"udp"}],'
           '"stop_grace_period":"1m0s",'
           '"ulimits":{"nofile":{"soft":1024,"hard":2048},"nproc":512},'
           f'"volumes":[{{"type":"bind","source":"{html}","target":"/usr/share/nginx/html",'
           '"read_only":true,"bind":{"create_host_path":true}},'
           '{"type":"volume","source":"data","target":"/data","volume":{}},'
           '{"type":"tmpfs","target":"/tmp"}]}')


def test_what_does_not_change_a_container_does_not_change_the_hash(tmp_path: Path) -> None:
    one = _project(tmp_path, "services:\n  a: {image: x, deploy: {replicas: 1}}\n")
    three = _project(tmp_path, "services:\n  a: {image: x, deploy: {replicas: 3}, pull_policy: always}\n")
    other = _project(tmp_path, "services:\n  a: {image: x, deploy: {replicas: 1}, init: true}\n")
    a = labels.config_hash(one.services["a"])
    assert a == labels.config_hash(three.services["a"])
    assert a != labels.config_hash(other.services["a"])


def test_go_duration_strings() -> None:
    cases = {0: "0s", 1500: "1.5µs", 2_000_000: "2ms", 10**9: "1s", 90 * 10**9: "1m30s",
             3600 * 10**9: "1h0m0s", 3603 * 10**9 + 5 * 10**8: "1h0m3.5s"}  # fmt: skip
    assert {ns: go_duration_string(ns) for ns in cases} == cases


def test_references_to_other_services_are_hashed_resolved_as_v2_does(tmp_path: Path) -> None:
    project = _project(tmp_path, """
services:
  db: {image: busybox}
  side:
    image: busybox
    network_mode: service:db
    volumes_from: [db, "db:ro", "container:other:rw"]
""")
    ids = {"db": "c0ffee"}
    _check_with = go_json(go_service(resolve_references(project.services["side"].config, ids.get)))
    assert _check_with == (
        '{"command":null,"entrypoint":null,"image":"busybox","network_mode":"container:c0ffee",'
        '"volumes_from":["c0ffee","c0ffee","other"]}'
    )
    assert labels.config_hash(project.services["side"], ids.get) == hashlib.sha256(
        _check_with.encode()).hexdigest()  # fmt: skip
    # a new container for db is a new hash for side, as v2 sees it
    assert labels.config_hash(project.services["side"], {"db": "beef"}.get) != labels.config_hash(
        project.services["side"], ids.get)  # fmt: skip
