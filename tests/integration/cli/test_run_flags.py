"""`dockyard create` against docker's CLI (28.2), flag set by flag set, on one dockyardd.

Each row runs `docker create <flags> busybox true` and `dockyard create <flags> busybox
true` through a recording relay (recorder.py), then asserts that the two POST
/containers/create bodies are equal and that `inspect` shows the same Config and
HostConfig. Error rows compare the exit status and the error line. Intended
differences are listed in NORMALIZED with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli.recorder import Recorder

pytestmark = pytest.mark.integration

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
# key paths whose values legitimately differ between the two clients' containers
NORMALIZED = {
    # docker's CLI rebuilds -e through a Go map (proxy settings): the order is random
    "Env": "order of -e values is random in docker's CLI",
    "Config.Env": "the same order, as stored",
    # docker's CLI collects -v binds from a Go map: the order is random
    "HostConfig.Binds": "order of -v binds is random in docker's CLI",
    "Config.Hostname": "defaults to the container's own id",
}

ROWS: list[list[str]] = [
    [],
    ["--add-host", "a:1.2.3.4", "--add-host", "b=::1", "--add-host", "gw:host-gateway"],
    ["--annotation", "k=v", "--annotation", "bare"],
    ["--blkio-weight", "300", "--blkio-weight-device", "/dev/sda:200"],
    [
        "--cap-add",
        "net_admin",
        "--cap-add",
        "CAP_SYS_TIME",
        "--cap-drop",
        "all",
        "--cap-drop",
        "mknod",
    ],
    ["--cgroup-parent", "dyparent", "--cgroupns", "private"],
    ["--cgroupns", "host"],
    ["--cpu-period", "100000", "--cpu-quota", "50000", "-c", "512"],
    ["--cpu-rt-period", "1000", "--cpu-rt-runtime", "500"],
    ["--cpus", "1.5", "--cpuset-cpus", "0", "--cpuset-mems", "0"],
    ["--device", "/dev/null:/dev/xnull:rw", "--device", "/dev/zero", "--device", "/dev/full:r"],
    ["--device", "vendor.com/class=name", "--gpus", "all"],
    ["--gpus", '"device=0,1",capabilities=compute'],
    ["--device-cgroup-rule", "c 1:3 mr", "--device-cgroup-rule", "b *:* rwm"],
    [
        "--device-read-bps",
        "/dev/sda:1mb",
        "--device-write-bps",
        "/dev/sda:1024",
        "--device-read-iops",
        "/dev/sda:100",
        "--device-write-iops",
        "/dev/sda:10",
    ],  # fmt: skip
    ["--disable-content-trust", "--pull", "never", "-q"],
    [
        "--dns",
        "8.8.8.8",
        "--dns",
        " 1.1.1.1 ",
        "--dns-option",
        "ndots:2",
        "--dns-opt",
        "timeout:1",
        "--dns-search",
        "example.com",
        "--dns-search",
        ".",
    ],  # fmt: skip
    ["--domainname", "example.org", "-h", "box"],
    ["--entrypoint", ""],
    ["--entrypoint", "/bin/sh", "-w", "/tmp", "-u", "1:2"],
    ["-e", "A=1", "-e", "DY_FROM_ENV", "-e", "DY_UNSET", "-e", "A=2", "--env-file", "{tmp}/env"],
    [
        "--expose",
        "80",
        "--expose",
        "1000-1002/udp",
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1::53/udp",
        "-p",
        "9000-9001:9000-9001",
        "-p",
        "[::1]:7000:70",
        "-P",
    ],  # fmt: skip
    ["-p", "published=8081,target=81,protocol=udp"],
    ["--group-add", "10", "--group-add", "audio"],
    [
        "--health-cmd",
        "true",
        "--health-interval",
        "1m30s",
        "--health-timeout",
        "500ms",
        "--health-retries",
        "3",
        "--health-start-period",
        "1.5s",
        "--health-start-interval",
        "2s",
    ],  # fmt: skip
    ["--no-healthcheck"],
    ["--init", "-i", "-t"],
    ["--init=false", "-a", "stdout", "-i"],
    ["-a", "STDERR", "--attach", "stdin"],
    ["--ipc", "shareable", "--pid", "host", "--uts", "host"],
    ["--ipc", "container:{base}", "--pid", "container:{base}"],
    ["--isolation", "default"],
    [
        "--kernel-memory",
        "10m",
        "-m",
        "64m",
        "--memory-reservation",
        "32m",
        "--memory-swap",
        "-1",
        "--memory-swappiness",
        "0",
    ],  # fmt: skip
    ["-m", "1.5g", "--memory-swap", "3g", "--shm-size", "64m"],
    ["-l", "a=1", "-l", "b", "--label-file", "{tmp}/labels"],
    ["--link", "{base}:b", "--link", "{base}"],
    ["--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2"],
    ["--log-driver", "none"],
    ["--mac-address", "02:42:ac:11:00:02"],
    ["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777"],
    [
        "--mount",
        "type=volume,source=dyfvol,target=/v,volume-nocopy,volume-opt=type=tmpfs,"
        "volume-label=a=b,volume-driver=local",
    ],  # fmt: skip
    ["--mount", "type=bind,src=/tmp,dst=/b,readonly,bind-propagation=rslave"],
    ["--mount", "type=bind,source=.,destination=/c,ro=true,consistency=cached"],
    ["--mount", "dst=/anon"],
    ["--network", "none"],
    ["--net", "bridge"],
    ["--network", "{net}", "--network-alias", "web", "--net-alias", "api", "--link", "{base}:b"],
    ["--network", "name={net},alias=api,driver-opt=k=v,mac-address=02:42:ac:11:00:03"],
    ["--network", "{net}", "--link-local-ip", "169.254.1.1"],
    ["--network", "container:{base}"],
    ["--oom-kill-disable", "--oom-score-adj", "-500", "--pids-limit", "-1"],
    ["--privileged", "--read-only", "--rm"],
    ["--restart", "on-failure:3"],
    ["--restart", "unless-stopped"],
    ["--restart", ""],
    ["--security-opt", "no-new-privileges", "--security-opt", "seccomp={tmp}/seccomp.json"],
    ["--security-opt", "systempaths=unconfined", "--security-opt", "apparmor=unconfined"],
    ["--stop-signal", "SIGUSR1", "--stop-timeout", "0"],
    ["--storage-opt", "size=1G"],
    ["--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=1000"],
    ["--tmpfs", "/run", "--tmpfs", "/run2:rw,size=1m"],
    ["--ulimit", "nofile=1024:2048", "--ulimit", "nproc=10", "--ulimit", "nofile=5"],
    ["--userns", "host"],
    ["--volume-driver", "local", "-v", "/tmp:/x:ro", "-v", "/anon", "-v", "dyfvol2:/data"],
    ["-v", "./rel:/rel"],
    ["--volumes-from", "{base}:ro"],
    ["--platform", "linux"],
    ["--runtime", "runc"],
    ["--use-api-socket"],
]

# Refused by dockerd, accepted by dockyardd (a daemon matter; both CLIs send the same):
#   --restart sometimes   invalid restart policy: unknown policy 'sometimes'; use one of ...
#   --gpus all            could not select device driver "" with capabilities: [[gpu]]
ERROR_ROWS: list[list[str]] = [
    ["-m", "abc"],
    ["-m", "1x"],
    ["--memory-swap", "1.5.5"],
    ["--cpus", "abc"],
    ["--cpus", "0.0000000001"],
    ["--blkio-weight", "70000"],
    ["--blkio-weight-device", "sda:10"],
    ["--blkio-weight-device", "/dev/sda:5"],
    ["--device-read-bps", "/dev/sda:x"],
    ["--device-read-iops", "/dev/sda:1.5"],
    ["--health-interval", "5"],
    ["--health-interval", "5q"],
    ["--health-interval", "-5s"],
    ["--health-retries", "-1"],
    ["--no-healthcheck", "--health-cmd", "x"],
    ["--pid", "foo"],
    ["--uts", "x"],
    ["--userns", "x"],
    ["--cgroupns", "x"],
    ["--restart", ":3"],
    ["--restart", "on-failure:x"],
    ["--rm", "--restart", "always"],
    ["--memory-swappiness", "101"],
    ["--mac-address", "zz"],
    ["--add-host", "nohost"],
    ["--add-host", "a:notip"],
    ["--dns", "x"],
    ["--dns-search", "-bad-"],
    ["-e", "=x"],
    ["-l", "=x"],
    ["-l", "a b=c"],
    ["--sysctl", "kernel.foo=1"],
    ["--ulimit", "nofile"],
    ["--ulimit", "bogus=1"],
    ["--ulimit", "nofile=20:10"],
    ["--ulimit", "nofile=x"],
    ["--mount", "type=bind"],
    ["--mount", "target=/x,foo=bar"],
    ["--mount", "type=tmpfs,dst=/x,volume-nocopy"],
    ["--mount", "type=tmpfs,dst=/x,tmpfs-size=x"],
    ["--mount", "type=bind,dst=/x,bind-recursive=readonly"],
    ["--expose", "1:2"],
    ["--expose", "x"],
    ["-p", "x"],
    ["-p", "1.2.3:80:80"],
    ["-p", "80/foo"],
    ["-p", "1-3:5-6"],
    ["--device", "relative"],
    ["--device", "/dev/a:/b:x"],
    ["--device-cgroup-rule", "x"],
    ["--link", "a:b:c"],
    ["--log-driver", "none", "--log-opt", "a=b"],
    ["--security-opt", "foo"],
    ["--security-opt", "seccomp=/nonexistent/profile.json"],
    ["--storage-opt", "x"],
    ["--stop-timeout", "x"],
    ["--network", "bridge", "--network", "{net}"],
    ["--network", "{net}", "--network", "{net}"],
    ["--network-alias", "x"],
    ["--network", "alias=x"],
    ["--gpus", "count=x"],
    ["-a", "foo"],
    ["--pull", "sometimes"],
    ["--cpu-count", "2"],
    ["--env-file", "/nonexistent/env"],
    ["--platform", "a/b/c/d"],
    ["--cidfile", "/nonexistent/dir/cid"],
    ["--ip", "10.9.9.9"],
    ["-v", "/a::b"],
    ["-v", "/a:/b:ro:x"],
]


def _unique(prefix: str = "dyf") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Setup:
    def __init__(self, daemon: Any, tmp: Path, recorder: Recorder) -> None:
        self.daemon, self.tmp, self.recorder = daemon, tmp, recorder
        self.base = _unique("dyf-base")
        self.net = _unique("dyf-net")
        self.created: list[str] = []

    def env(self) -> dict[str, str]:
        env = self.daemon.env()
        env["DOCKER_HOST"] = env["DOCKYARD_HOST"] = self.recorder.host
        env["DY_FROM_ENV"] = "from-env"
        env.pop("DY_UNSET", None)
        return env

    def expand(self, flags: list[str]) -> list[str]:
        values = {"tmp": str(self.tmp), "base": self.base, "net": self.net}
        return [f.format(**values) if "{" in f and "}" in f and '"' not in f else f for f in flags]

    def create(
        self, client: str, flags: list[str], name: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        argv = ["docker"] if client == "docker" else [DOCKYARD]
        argv += ["create", "--name", name, *self.expand(flags), "busybox", "true"]
        p = subprocess.run(argv, env=self.env() | env, cwd=self.tmp, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
        self.created.append(name)
        return p


@pytest.fixture(scope="module")
def setup(daemon: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    tmp = tmp_path_factory.mktemp("runflags")
    (tmp / "env").write_text("# comment\nFILE_VAR=1\n  SPACED=a b\nDY_FROM_ENV\nDY_UNSET\n")
    (tmp / "labels").write_text("lf=1\nbare\n")
    (tmp / "seccomp.json").write_text(
        '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": []\n}\n'
    )
    (tmp / "rel").mkdir()
    recorder = Recorder(daemon.sock, tmp / "relay.sock")
    s = Setup(daemon, tmp, recorder)
    try:
        daemon.docker("create", "--name", s.base, "busybox", "true", check=True)
        daemon.docker("network", "create", s.net, check=True)
        yield s
    finally:
        names = [s.base, *s.created]
        for i in range(0, len(names), 50):
            daemon.docker("rm", "-f", *names[i : i + 50])
        daemon.docker("network", "rm", s.net)
        daemon.docker("volume", "rm", "dyfvol", "dyfvol2")
        recorder.close()


def _pairs(setup: Setup, rows: list[list[str]]) -> list[tuple[Any, Any, str, str]]:
    """Run both clients for every row (in parallel); (docker, dockyard, names)."""
    jobs = []
    with ThreadPoolExecutor(4) as pool:
        for flags in rows:
            d, y = _unique(), _unique()
            jobs.append((pool.submit(setup.create, "docker", flags, d),
                         pool.submit(setup.create, "dockyard", flags, y), d, y))  # fmt: skip
        return [(a.result(), b.result(), d, y) for a, b, d, y in jobs]


@pytest.fixture(scope="module")
def results(setup: Setup) -> dict[str, Any]:
    pairs = _pairs(setup, ROWS)
    bodies = setup.recorder.create_bodies()
    ids = [n for _, _, d, y in pairs for n in (d, y)]
    inspected = json.loads(setup.daemon.docker("inspect", *ids).stdout or "[]")
    by_name = {c["Name"].lstrip("/"): c for c in inspected}
    return {
        " ".join(flags): (pair, bodies, by_name) for flags, pair in zip(ROWS, pairs, strict=True)
    }


def _normalize(value: Any) -> Any:
    value = json.loads(json.dumps(value))
    for path in NORMALIZED:
        *parents, last = path.split(".")
        node = value
        for key in parents:
            node = node.get(key) or {}
        if isinstance(node.get(last), list):
            node[last] = sorted(node[last])
        elif last in node and last == "Hostname":
            node[last] = ""
    return value


def _error_line(stderr: str) -> str:
    """The message docker and we both print first, without the program's prefix and
    our trailing period (docker 20.10's layout, which we keep, adds one)."""
    lines = [ln for ln in stderr.splitlines() if ln and not ln.startswith("WARNING: ")]
    line = lines[0] if lines else ""
    for prefix in ("docker: ", "dockyard: "):
        line = line.removeprefix(prefix)
    return line.rstrip(".")


@pytest.mark.parametrize("flags", [" ".join(r) for r in ROWS])
def test_create_flags_match_docker(results: dict[str, Any], flags: str) -> None:
    (docker, ours, d, y), bodies, inspected = results[flags]
    assert (ours.returncode, _error_line(ours.stderr)) == (
        docker.returncode,
        _error_line(docker.stderr),
    ), (docker.stderr, ours.stderr)
    assert d in bodies and y in bodies, "no create request recorded"
    (d_target, d_body), (y_target, y_body) = bodies[d], bodies[y]
    assert y_target.split("?")[1].replace(y, "N") == d_target.split("?")[1].replace(d, "N")
    assert _normalize(y_body) == _normalize(d_body)
    if docker.returncode == 0:
        for part in ("Config", "HostConfig"):
            ours_part, theirs = ({part: c[part]} for c in (inspected[y], inspected[d]))
            # legacy links are kept under the container's own name (/base:/NAME/alias)
            ours_part = json.loads(json.dumps(ours_part).replace(f"/{y}/", f"/{d}/"))
            assert _normalize(ours_part) == _normalize(theirs), part


@pytest.fixture(scope="module")
def error_results(setup: Setup) -> dict[str, Any]:
    pairs = _pairs(setup, ERROR_ROWS)
    return {" ".join(flags): pair for flags, pair in zip(ERROR_ROWS, pairs, strict=True)}


@pytest.mark.parametrize("flags", [" ".join(r) for r in ERROR_ROWS])
def test_create_errors_match_docker(error_results: dict[str, Any], flags: str) -> None:
    docker, ours, _, _ = error_results[flags]
    assert docker.returncode != 0, docker.stdout
    assert (ours.returncode, _error_line(ours.stderr)) == (
        docker.returncode,
        _error_line(docker.stderr),
    ), (docker.stderr, ours.stderr)


def test_cidfile(setup: Setup) -> None:
    tmp = setup.tmp
    for client in ("docker", "dockyard"):
        path = tmp / f"cid-{client}"
        created = setup.create(client, ["--cidfile", str(path)], _unique())
        assert created.returncode == 0, created.stderr
        assert path.read_text() == created.stdout.strip()
    docker = setup.create("docker", ["--cidfile", str(tmp / "cid-docker")], _unique())
    ours = setup.create("dockyard", ["--cidfile", str(tmp / "cid-docker")], _unique())
    assert docker.returncode == ours.returncode == 1
    assert _error_line(ours.stderr) == _error_line(docker.stderr)
    assert _error_line(ours.stderr).startswith("container ID file found, make sure the other")
    # a create that fails leaves no file behind
    failed = tmp / "cid-failed"
    name = setup.base  # taken
    for client in ("docker", "dockyard"):
        result = setup.create(client, ["--cidfile", str(failed)], name)
        assert result.returncode == 1 and "Conflict" in result.stderr
        assert not failed.exists(), client
    setup.created = [n for n in setup.created if n != name]


def test_proxies_from_the_config_file(setup: Setup) -> None:
    """`proxies` in config.json (docker's, ours) become the container's proxy variables."""
    config = setup.tmp / "proxy-config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"proxies": {
        "default": {"httpProxy": "http://p:3128", "noProxy": "localhost"},
        setup.recorder.host: {"httpsProxy": "http://s:3128", "allProxy": "socks://a:1"},
    }}))  # fmt: skip
    names = {client: _unique() for client in ("docker", "dockyard")}
    for client, name in names.items():
        r = setup.create(client, ["-e", "https_proxy=mine"], name, DOCKER_CONFIG=str(config),
                         DOCKYARD_CONFIG=str(config))  # fmt: skip
        assert r.returncode == 0, r.stderr
    bodies = setup.recorder.create_bodies()
    envs = [sorted(bodies[names[c]][1]["Env"]) for c in ("docker", "dockyard")]
    assert envs[0] == envs[1]
    assert "HTTPS_PROXY=http://s:3128" in envs[0] and "https_proxy=mine" in envs[0]


def test_default_platform_from_the_environment(setup: Setup) -> None:
    """DOCKER_DEFAULT_PLATFORM for docker's CLI is DOCKYARD_DEFAULT_PLATFORM for ours."""
    names = {client: _unique() for client in ("docker", "dockyard")}
    for client, name in names.items():
        r = setup.create(client, [], name, DOCKER_DEFAULT_PLATFORM="linux",
                         DOCKYARD_DEFAULT_PLATFORM="linux")  # fmt: skip
        assert r.returncode == 0, r.stderr
    bodies = setup.recorder.create_bodies()
    queries = [bodies[n][0].split("?")[1].replace(n, "N") for n in names.values()]
    assert queries[0] == queries[1] and "platform=linux%2F" in queries[0]


def test_use_api_socket_copies_credentials(setup: Setup) -> None:
    """--use-api-socket: the socket mounted, and saved credentials in a config.json inside."""
    import base64
    import io
    import tarfile

    config = setup.tmp / "creds-config"
    config.mkdir()
    auth = base64.b64encode(b"user:secret").decode()
    (config / "config.json").write_text(json.dumps({"auths": {"localhost:5999": {"auth": auth}}}))
    names = {client: _unique() for client in ("docker", "dockyard")}
    files = {}
    for client, name in names.items():
        r = setup.create(client, ["--use-api-socket"], name, DOCKER_CONFIG=str(config),
                         DOCKYARD_CONFIG=str(config))  # fmt: skip
        if client == "docker" and r.returncode != 0:  # dockyardd refuses its absolute tar name
            assert "absolute path '/run/secrets/docker/config.json'" in r.stderr, r.stderr
            continue
        assert r.returncode == 0, r.stderr
        out = subprocess.run(["docker", "cp", f"{name}:/run/secrets/docker/config.json", "-"],
                             env=setup.env(), capture_output=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
            member = tar.getmembers()[0]
            files[client] = (member.mode & 0o777, tar.extractfile(member).read())
    # json.MarshalIndent(config, "", "\t") of the docker CLI's ConfigFile{AuthConfigs}
    expected = json.dumps({"auths": {"localhost:5999": {"auth": auth}}}, indent="\t")
    assert files["dockyard"] == (0o600, expected.encode())
    assert files.get("docker", files["dockyard"]) == files["dockyard"]
    bodies = setup.recorder.create_bodies()
    bodies_of = [_normalize(bodies[n][1]) for n in names.values()]
    assert bodies_of[0]["Env"] == bodies_of[1]["Env"] == ["DOCKER_CONFIG=/run/secrets/docker"]
    assert bodies_of[0]["HostConfig"]["Mounts"] == bodies_of[1]["HostConfig"]["Mounts"]


def test_run_errors_and_run_only_flags(setup: Setup) -> None:
    env = setup.env()
    existing = setup.tmp / "cid-run-existing"
    existing.write_text("someone else's")

    def both(*args: str) -> tuple[Any, Any]:
        out = []
        for argv0 in ("docker", DOCKYARD):
            out.append(subprocess.run([argv0, "run", *args], env=env, capture_output=True,
                                      stdin=subprocess.DEVNULL, text=True, timeout=60))  # fmt: skip
        return out[0], out[1]

    for args in (("-d", "-a", "stdout", "busybox"), ("--cidfile", str(existing), "busybox"),
                 ("--memory", "x", "busybox"), ("--cpu-percent", "5", "busybox"),
                 ("-it", "busybox")):  # fmt: skip
        docker, ours = both(*args)
        assert ours.returncode == docker.returncode, (args, docker.stderr, ours.stderr)
        assert _error_line(ours.stderr) == _error_line(docker.stderr), args
    name = _unique()
    setup.created.append(name)
    result = subprocess.run(
        [DOCKYARD, "run", "--name", name, "--detach-keys", "ctrl-x,x", "--sig-proxy=false",
         "busybox", "echo", "hi"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr


def test_help_lists_dockers_flags() -> None:
    """Every flag `docker create --help` and `docker run --help` show, with its type."""
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent.sock")
    for command in ("create", "run"):
        theirs = subprocess.run(["docker", command, "--help"], env=env, capture_output=True,
                                text=True).stdout  # fmt: skip
        ours = subprocess.run([DOCKYARD, command, "--help"], capture_output=True, text=True).stdout
        assert _flag_lines(ours) == _flag_lines(theirs)


def _flag_lines(text: str) -> list[str]:
    """`-c, --cpu-shares int` for each option line of a help text."""
    import re

    found = (
        re.match(r"\s+((?:-\w, )?--[\w-]+(?: [\w-]+)?)(?:\s{2,}|$)", ln) for ln in text.splitlines()
    )
    return [m.group(1) for m in found if m]
