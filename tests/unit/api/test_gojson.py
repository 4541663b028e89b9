"""Go's encoding/json rules for request bodies (api/models/gojson.py). The expected
messages were recorded from dockerd 20.10 (go1.19) with the same bodies;
tests/integration/fidelity/test_request_models_peer.py compares live."""

from __future__ import annotations

import pytest

from dockyard.api.errors import InvalidParameter
from dockyard.api.models import decode
from dockyard.api.models.container import ContainerCreate, HostConfig, UpdateConfig
from dockyard.api.models.exec import ExecConfig
from dockyard.api.models.gojson import Ptr
from dockyard.api.models.network import EndpointSettings, NetworkCreateRequest

CC = "ContainerConfigWrapper"
DOCKERD = {
    '{"HostConfig":{"Memory":1.5}}': "number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64",
    '{"HostConfig":{"Memory":1e3}}': "number 1e3 into Go struct field HostConfig.HostConfig.Memory of type int64",
    '{"HostConfig":{"Memory":99999999999999999999999}}': "number 99999999999999999999999 into Go struct field HostConfig.HostConfig.Memory of type int64",
    '{"HostConfig":{"BlkioWeight":70000}}': "number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16",
    '{"HostConfig":{"BlkioWeight":-1}}': "number -1 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16",
    '{"NetworkingConfig":{"EndpointsConfig":{"x":{"IPAMConfig":{"IPv4Address":1}}}}}': "number into Go struct field EndpointIPAMConfig.NetworkingConfig.EndpointsConfig.IPAMConfig.IPv4Address of type string",
    '{"ExposedPorts":{"80/tcp":1}}': f"number into Go struct field {CC}.ExposedPorts of type struct {{}}",
    '{"Healthcheck":{"Interval":"1s"}}': "string into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration",
    '{"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":1}]}}}': "number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string",
    '{"HostConfig":{"Mounts":[{"Type":1}]}}': "number into Go struct field Mount.HostConfig.Mounts.Type of type mount.Type",
    '{"HostConfig":{"Mounts":[{"TmpfsOptions":{"Mode":"x"}}]}}': "string into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode of type fs.FileMode",
    '{"HostConfig":{"ConsoleSize":[1,"a"]}}': "string into Go struct field HostConfig.HostConfig.ConsoleSize of type uint",
    '{"Env":"abc"}': f"string into Go struct field {CC}.Env of type []string",
    '{"Env":[1]}': f"number into Go struct field {CC}.Env of type string",
    '{"HostConfig":{"NetworkMode":1}}': "number into Go struct field HostConfig.HostConfig.NetworkMode of type container.NetworkMode",
    '{"HostConfig":{"RestartPolicy":"always"}}': "string into Go struct field HostConfig.HostConfig.RestartPolicy of type container.RestartPolicy",
    '{"HostConfig":{"CapAdd":1}}': "number into Go struct field HostConfig.HostConfig.CapAdd of type string",
    '{"HostConfig":{"MemorySwappiness":"x"}}': "string into Go struct field HostConfig.HostConfig.MemorySwappiness of type int64",
    '{"HostConfig":{"DeviceRequests":[{"Capabilities":[[1]]}]}}': "number into Go struct field DeviceRequest.HostConfig.DeviceRequests.Capabilities of type string",
    '{"StopTimeout":"x"}': f"string into Go struct field {CC}.StopTimeout of type int",
    '{"Tty":"x","Env":1}': f"string into Go struct field {CC}.Tty of type bool",
    "[]": "array into Go value of type runconfig.ContainerConfigWrapper",
    '{"HostConfig":[]}': f"array into Go struct field {CC}.HostConfig of type container.HostConfig",
    '{"NetworkingConfig":{"EndpointsConfig":[]}}': "array into Go struct field NetworkingConfig.NetworkingConfig.EndpointsConfig of type map[string]*network.EndpointSettings",
    '{"NetworkingConfig":{"EndpointsConfig":{"x":1}}}': "number into Go struct field NetworkingConfig.NetworkingConfig.EndpointsConfig of type network.EndpointSettings",
    '{"HostConfig":{"Memory":-5e-1}}': "number -5e-1 into Go struct field HostConfig.HostConfig.Memory of type int64",
    '{"HostConfig":{"ShmSize":true}}': "bool into Go struct field HostConfig.HostConfig.ShmSize of type int64",
    '{"HOSTCONFIG":{"privileged":"x"}}': "string into Go struct field HostConfig.HostConfig.Privileged of type bool",
}  # fmt: skip


@pytest.mark.parametrize("body", list(DOCKERD))
def test_dockerd_wording(body: str) -> None:
    with pytest.raises(InvalidParameter) as exc:
        decode(body.encode(), ContainerCreate)
    assert exc.value.message == "json: cannot unmarshal " + DOCKERD[body]


def test_other_bodies_wording() -> None:
    cases = [
        (ExecConfig, '{"detachKeys":1}', "number into Go struct field ExecConfig.DetachKeys of type string"),
        (NetworkCreateRequest, '{"IPAM":{"Config":[{"AuxiliaryAddresses":{"a":1}}]}}',
         "number into Go struct field IPAMConfig.IPAM.Config.AuxiliaryAddresses of type string"),
        (UpdateConfig, '{"RestartPolicy":{"MaximumRetryCount":"x"}}',
         "string into Go struct field RestartPolicy.RestartPolicy.MaximumRetryCount of type int"),
        (dict[str, Ptr[str]], '{"a":1}', "number into Go value of type string"),
        (list[str], "{}", "object into Go value of type []string"),
    ]  # fmt: skip
    for model, body, want in cases:
        with pytest.raises(InvalidParameter) as exc:
            decode(body, model)
        assert exc.value.message == "json: cannot unmarshal " + want


def test_go_decoding_rules() -> None:
    got = decode(
        b'{"image":"a","CMD":"ls","Entrypoint":null,"Labels":{"k":null},"Unknown":[1],'
        b'"HostConfig":{"Binds":[null],"consolesize":[1,2,3],"Ulimits":[null]},'
        b'"NetworkingConfig":{"EndpointsConfig":{"n":null}},"Image":"b"} and more',
        ContainerCreate,
    )
    assert got == {
        "Image": "b",
        "Cmd": ["ls"],
        "Entrypoint": None,
        "Labels": {"k": ""},
        "HostConfig": {"Binds": [""], "ConsoleSize": [1, 2], "Ulimits": [{}]},
        "NetworkingConfig": {"EndpointsConfig": {"n": {}}},
    }
    assert decode(b'{"Image":"a","image":null,"User":null}', ContainerCreate) == {
        "Image": "a",
        "User": None,
    }
    assert decode(b"", ContainerCreate, {}) == {} and decode(b" null ", ContainerCreate, {}) == {}
    assert decode('{"a":null,"b":"x"}', dict[str, Ptr[str]]) == {"a": None, "b": "x"}
    assert decode(b'{"Image":"caf\xe9","Labels":{"s":"\\ud800\\udc00"}}', ContainerCreate) == {
        "Image": "caf\ufffd",
        "Labels": {"s": "\U00010000"},
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "invalid character '[' exceeded max depth"),
        (b'{"Image":"a"', "unexpected EOF"),
        (
            b'{"Image":' + b"9" * 5000 + b"}",
            "json: cannot unmarshal number into Go struct field "
            "ContainerConfigWrapper.Image of type string",
        ),
        (
            b'{"HostConfig":{"Memory":' + b"9" * 5000 + b"}}",
            "json: cannot unmarshal number "
            + "9" * 5000
            + " into Go struct field HostConfig.HostConfig.Memory of type int64",
        ),
    ],  # fmt: skip
)
def test_hostile_bodies(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidParameter) as exc:
        decode(raw, ContainerCreate)
    assert exc.value.message == message


def _fields(model: type) -> set[str]:
    from dockyard.api.models import gojson

    return set(gojson._compile(model).members())


def test_models_have_every_engine_api_field() -> None:
    """Engine API 1.45's ContainerConfig, HostConfig and EndpointSettings (swagger.yaml):
    a field missing from a model would be dropped unread."""
    config = (
        "Hostname Domainname User AttachStdin AttachStdout AttachStderr ExposedPorts Tty "
        "OpenStdin StdinOnce Env Cmd Healthcheck ArgsEscaped Image Volumes WorkingDir "
        "Entrypoint NetworkDisabled MacAddress OnBuild Labels StopSignal StopTimeout Shell"
    )
    host = (
        "CpuShares Memory CgroupParent BlkioWeight BlkioWeightDevice BlkioDeviceReadBps "
        "BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps CpuPeriod CpuQuota "
        "CpuRealtimePeriod CpuRealtimeRuntime CpusetCpus CpusetMems Devices DeviceCgroupRules "
        "DeviceRequests KernelMemoryTCP MemoryReservation MemorySwap MemorySwappiness NanoCpus "
        "OomKillDisable Init PidsLimit Ulimits CpuCount CpuPercent IOMaximumIOps "
        "IOMaximumBandwidth Binds ContainerIDFile LogConfig NetworkMode PortBindings "
        "RestartPolicy AutoRemove VolumeDriver VolumesFrom Mounts ConsoleSize Annotations "
        "CapAdd CapDrop CgroupnsMode Dns DnsOptions DnsSearch ExtraHosts GroupAdd IpcMode "
        "Cgroup Links OomScoreAdj PidMode Privileged PublishAllPorts ReadonlyRootfs "
        "SecurityOpt StorageOpt Tmpfs UTSMode UsernsMode ShmSize Sysctls Runtime Isolation "
        "MaskedPaths ReadonlyPaths"
    )
    endpoint = (
        "IPAMConfig Links MacAddress Aliases DriverOpts NetworkID EndpointID Gateway IPAddress "
        "IPPrefixLen IPv6Gateway GlobalIPv6Address GlobalIPv6PrefixLen DNSNames"
    )
    assert set(config.split()) <= _fields(ContainerCreate)
    assert set(host.split()) <= _fields(HostConfig)
    assert set(endpoint.split()) <= _fields(EndpointSettings)


# Recorded from dockerd 20.10 (go1.19) for the same create bodies.
GO_SYNTAX = {
    b'{"Image":"a",}': "invalid character '}' looking for beginning of object key string",
    b'{"Image":"a"': "unexpected EOF",
    b'{"Image" "a"}': "invalid character '\"' after object key",
    b'{"Image":"a" "x"}': "invalid character '\"' after object key:value pair",
    b'{"Cmd":["a" "b"]}': "invalid character '\"' after array element",
    b'{"Cmd":["a",]}': "invalid character ']' looking for beginning of value",
    b'{"Image":tru}': "invalid character '}' in literal true (expecting 'e')",
    b'{"Image":-}': "invalid character '}' in numeric literal",
    b'{"Image":1.e}': "invalid character 'e' after decimal point in numeric literal",
    b'{"Image":1e+}': "invalid character '}' in exponent of numeric literal",
    b'{"Image":01}': "invalid character '1' after object key:value pair",
    b'{"Image":"\\x"}': "invalid character 'x' in string escape code",
    b'{"Image":"\\u12g4"}': "invalid character 'g' in \\u hexadecimal character escape",
    b'{"Image":"a\x01"}': "invalid character '\\x01' in string literal",
    b'{"Image":"a\n"}': "invalid character '\\n' in string literal",
    b"{'Image':1}": "invalid character '\\'' looking for beginning of object key string",
    b'{"a":\xff}': "invalid character '\xff' looking for beginning of value",
    b'{"a":\x7f}': "invalid character '\\x7f' looking for beginning of value",
    b'["a":1]': "invalid character ':' after array element",
    b'{"a":"\\u12': "unexpected EOF",
    b'{"a":' + b"[" * 10000 + b"]" * 10000 + b"}": "invalid character '[' exceeded max depth",
}


@pytest.mark.parametrize("raw", list(GO_SYNTAX))
def test_go_syntax_errors(raw: bytes) -> None:
    with pytest.raises(InvalidParameter) as exc:
        decode(raw, ContainerCreate)
    assert exc.value.message == GO_SYNTAX[raw]


def test_deep_but_well_formed_is_refused_plainly() -> None:
    """Go reads 2000 levels; we parse about 1000: refused, without claiming a syntax error."""
    with pytest.raises(InvalidParameter) as exc:
        decode(b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}", ContainerCreate)
    assert exc.value.message == "invalid JSON: nested too deeply"


def test_names_fold_as_go_folds_them() -> None:
    """bytes.EqualFold: also the long s and the Kelvin sign, which fold to ASCII letters."""
    got = decode('{"label\u017f":{"a":"b"},"hostconfig":{"\u212aernelMemory":1}}', ContainerCreate)
    assert got == {"Labels": {"a": "b"}, "HostConfig": {"KernelMemory": 1}}


def test_parse_without_a_model_gives_plain_values() -> None:
    """Bodies without a model (json_body: swarm specs, filters) get floats as floats, as
    json.loads gave them; only a model's input keeps a number's text for Go's messages."""
    from dockyard.api.models import gojson

    doc = gojson.parse(
        b'{"MaxFailureRatio":0.1,"Delay":1e9,"Replicas":3,"Big":99999999999999999999999}'
    )
    assert doc == {
        "MaxFailureRatio": 0.1,
        "Delay": 1e9,
        "Replicas": 3,
        "Big": 99999999999999999999999,
    }
    assert type(doc["MaxFailureRatio"]) is float and type(doc["Delay"]) is float
    with pytest.raises(InvalidParameter) as exc:
        gojson.parse(b"[" + b"9" * 5000 + b"]")
    assert exc.value.message.endswith("into Go value of type float64")
