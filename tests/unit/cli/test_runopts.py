"""runopts: docker 28.2's run/create value parsers and body mapping, without a daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli import runopts
from dockyard.cli.container import CREATE, RUN
from dockyard.cli.flags import UsageError, help_text, parse


def body(*argv: str) -> dict:
    opts, args = parse(CREATE, [*argv, "img"])
    return runopts.build_create_body(opts, args[0], args[1:])


# sizes and durations: tests/unit/proto/test_units.py and test_timetypes.py


def test_nano_cpus_and_ints() -> None:
    assert runopts.nano_cpus("1.5") == 1_500_000_000
    assert runopts.nano_cpus("3/2") == 1_500_000_000
    with pytest.raises(ValueError, match="value is too precise"):
        runopts.nano_cpus("0.0000000001")
    with pytest.raises(ValueError, match="failed to parse x as a rational number"):
        runopts.nano_cpus("x")
    with pytest.raises(ValueError, match="value out of range"):
        runopts.go_int("70000", 16, unsigned=True)


def test_flag_value_errors_are_worded_as_pflag() -> None:
    for argv, message in (
        (["-m", "abc"], """invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'"""),
        (["--blkio-weight", "x"], 'invalid argument "x" for "--blkio-weight" flag: '
         'strconv.ParseUint: parsing "x": invalid syntax'),
        (["--ulimit", "nofile=20:10"], 'invalid argument "nofile=20:10" for "--ulimit" flag: '
         "ulimit soft limit must be less than or equal to hard limit: 20 > 10"),
        (["-a", "x"], 'invalid argument "x" for "-a, --attach" flag: '
         "valid streams are STDIN, STDOUT and STDERR"),
    ):  # fmt: skip
        with pytest.raises(UsageError) as e:
            parse(CREATE, [*argv, "img"])
        assert e.value.message == message
        assert e.value.status == 125


def test_mount_csv() -> None:
    assert runopts.mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777") == {
        "Type": "tmpfs",
        "Target": "/t",
        "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777},
    }
    assert runopts.mount("src=v,target=/v,volume-nocopy,volume-opt=a=b,ro") == {
        "Type": "volume",
        "Source": "v",
        "Target": "/v",
        "ReadOnly": True,
        "VolumeOptions": {"NoCopy": True, "DriverConfig": {"Options": {"a": "b"}}},
    }
    assert runopts.mount("type=bind,source=/s,destination=/d,bind-propagation=rslave")[
        "BindOptions"
    ] == {"Propagation": "rslave"}
    for value, error in (
        ("type=bind", "target is required"),
        ("dst=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
        ("type=tmpfs,dst=/x,volume-nocopy", "cannot mix 'volume-*' options with mount type 'tmpfs'"),
        ("dst=/x,foo=bar", "unexpected key 'foo' in 'foo=bar'"),
    ):  # fmt: skip
        with pytest.raises(ValueError) as e:
            runopts.mount(value)
        assert str(e.value) == error


def test_ports_and_expose() -> None:
    exposed, bindings = runopts.parse_port_specs(
        ["127.0.0.1::53/udp", "9000-9001:90-91", "[::1]:1:2"]
    )
    assert exposed == {"53/udp": {}, "90/tcp": {}, "91/tcp": {}, "2/tcp": {}}
    assert bindings["53/udp"] == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert bindings["91/tcp"] == [{"HostIp": "", "HostPort": "9001"}]
    assert bindings["2/tcp"] == [{"HostIp": "::1", "HostPort": "1"}]
    assert body("--expose", "7-8/udp", "-P")["ExposedPorts"] == {"7/udp": {}, "8/udp": {}}
    assert "ExposedPorts" not in body()
    with pytest.raises(ValueError, match="invalid containerPort: x"):
        runopts.parse_port_specs(["x"])


def test_volumes_binds_devices() -> None:
    b = body("-v", "/h:/c:ro", "-v", "/anon", "-v", "named:/d")
    assert b["HostConfig"]["Binds"] == ["/h:/c:ro", "named:/d"]
    assert b["Volumes"] == {"/anon": {}}
    with pytest.raises(ValueError, match="invalid spec: /a::b: empty section between colons"):
        body("-v", "/a::b")
    assert runopts.parse_device("/dev/null:/dev/x//") == {
        "PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm",
    }  # fmt: skip
    assert runopts.parse_device("/dev/zero")["PathInContainer"] == "/dev/zero"
    with pytest.raises(ValueError, match="relative is not an absolute path"):
        runopts.parse_device("relative")


def test_env_and_label_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DY_SET", "v")
    monkeypatch.delenv("DY_UNSET", raising=False)
    env = tmp_path / "env"
    env.write_text("\ufeffA=1\n# c\n  B=2 3\nDY_SET\nDY_UNSET\n")
    b = body("--env-file", str(env), "-e", "C=1", "-e", "C=2", "--label-file", str(env))
    assert b["Env"] == ["A=1", "B=2 3", "DY_SET=v", "C=2"]
    assert b["Labels"] == {"A": "1", "B": "2 3"}
    env.write_text("BAD KEY=1\n")
    with pytest.raises(ValueError, match=r"invalid env file \(.*\): variable 'BAD KEY' contains"):
        body("--env-file", str(env))


def test_networks_resources_and_client_side_edits() -> None:
    b = body("--network", "name=n1,alias=a", "--ip", "10.0.0.2", "--cap-add", "net_admin",
             "--cap-add", "NET_ADMIN", "--kernel-memory", "1m", "--cpus", "2")  # fmt: skip
    endpoint = b["NetworkingConfig"]["EndpointsConfig"]["n1"]
    assert endpoint["Aliases"] == ["a"] and endpoint["IPAMConfig"] == {"IPv4Address": "10.0.0.2"}
    assert b["HostConfig"]["NetworkMode"] == "n1"
    assert b["HostConfig"]["CapAdd"] == ["CAP_NET_ADMIN"]
    assert "KernelMemory" not in b["HostConfig"]
    assert b["HostConfig"]["NanoCpus"] == 2 * 10**9
    assert body("--network", "none")["NetworkingConfig"] == {"EndpointsConfig": {}}
    with pytest.raises(ValueError, match="network-scoped aliases are only supported"):
        body("--network-alias", "x")
    with pytest.raises(ValueError, match="conflicting options: cannot specify both --restart"):
        body("--rm", "--restart", "always")


def test_health_gpus_security(tmp_path: Path) -> None:
    b = body("--health-cmd", "true", "--health-interval", "2s", "--health-retries", "2")
    assert b["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 2 * 10**9, "Retries": 2}
    assert body("--no-healthcheck")["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(ValueError, match="--health-interval cannot be negative"):
        body("--health-interval", "-1s")
    assert body("--gpus", "all")["HostConfig"]["DeviceRequests"] == [
        {"Driver": "", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}
    ]
    profile = tmp_path / "p.json"
    profile.write_text('{ "a" : [1, 2], "b": "x y" }')
    host = body("--security-opt", f"seccomp={profile}", "--security-opt", "systempaths=unconfined")[
        "HostConfig"
    ]
    assert host["SecurityOpt"] == ['seccomp={"a":[1,2],"b":"x y"}']
    assert host["MaskedPaths"] == host["ReadonlyPaths"] == []


def test_help_shows_dockers_flags_and_hides_aliases() -> None:
    text = help_text(RUN)
    assert "  -c, --cpu-shares int " in text
    assert "      --gpus gpu-request " in text
    assert "--net " not in text and "--dns-opt " not in text
    assert "\n" + " " * 30 in text.split("--cgroupns string")[1].split("--cidfile")[0]
    assert "--detach-keys string" in text and "--detach-keys" not in help_text(CREATE)
    opts, _ = parse(RUN, ["--net", "a", "--network", "b", "--dns-opt", "x", "img"])
    assert [n["Target"] for n in opts["network"]] == ["a", "b"]
    assert opts["dns_option"] == ["x"]


def test_platform() -> None:
    import platform

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    assert runopts.parse_platform("linux") == f"linux/{arch}"
    assert runopts.parse_platform("linux/x86_64") == "linux/amd64"
    with pytest.raises(ValueError, match="cannot parse platform specifier"):
        runopts.parse_platform("a/b/c/d")


def test_proxy_env_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli.container import proxy_env
    from dockyard.cli.main import Cli

    monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path))
    cli = Cli("unix:///x.sock")
    assert proxy_env(cli, []) == []
    (tmp_path / "config.json").write_text(
        '{"proxies": {"default": {"httpProxy": "http://p:3128", "noProxy": "localhost"},'
        ' "unix:///x.sock": {"httpsProxy": "http://s:3128"}}}'
    )
    assert proxy_env(cli, ["https_proxy=mine"]) == ["HTTPS_PROXY=http://s:3128"]
    assert proxy_env(Cli("unix:///other.sock"), ["HTTP_PROXY=x"]) == [
        "http_proxy=http://p:3128", "NO_PROXY=localhost", "no_proxy=localhost",
    ]  # fmt: skip
