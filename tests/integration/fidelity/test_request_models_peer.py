"""Wrong-typed request bodies get dockerd's exact words (issue 11 item 2): every
wrong-typed body of tests/integration/daemon/test_request_models.py is sent to the
peer dockerd and to dockyardd; wherever dockerd refuses it while decoding, our
message is the same. (dockerd 20.10 answers some of these 500; we answer 400, the
client being at fault, as newer dockerd does.)"""

from __future__ import annotations

import json
from typing import Any

from dockyard.api.models.container import ContainerCreate, UpdateConfig
from dockyard.api.models.exec import ExecConfig
from dockyard.api.models.network import NetworkCreateRequest, NetworkDisconnect
from dockyard.api.models.volume import VolumeCreateBody
from tests.conftest import Daemon
from tests.integration.daemon.rawapi import request
from tests.integration.daemon.test_request_models import wrong_bodies

V = "/v1.41"
DECODE_ERROR = "json: cannot unmarshal "


def _message(d: Daemon, method: str, path: str, body: Any) -> tuple[int, str]:
    status, _, raw = request(d.sock, method, V + path, body)
    try:
        return status, json.loads(raw).get("message", "")
    except (ValueError, AttributeError):
        return status, raw.decode(errors="replace")


def test_wrong_types_have_dockerds_words(daemon: Daemon, peer: Daemon) -> None:
    for d in (daemon, peer):
        request(d.sock, "DELETE", f"{V}/containers/models-peer?force=1")
        status, _, raw = request(
            d.sock, "POST", f"{V}/containers/create?name=models-peer", {"Image": "busybox"}
        )
        assert status == 201, raw
    try:
        cases = [
            # an image that does not exist: a body dockerd decodes is not created
            ("POST", "/containers/create", ContainerCreate, {"Image": "models-none"}),
            ("POST", "/containers/models-peer/update", UpdateConfig, {}),
            ("POST", "/networks/create", NetworkCreateRequest, {"Name": "models-peer-net"}),
            ("POST", "/networks/none/disconnect", NetworkDisconnect, {"Container": "nothing"}),
            ("POST", "/volumes/create", VolumeCreateBody, {"Name": "models-peer-vol"}),
            ("POST", "/containers/models-none/exec", ExecConfig, {"Cmd": ["true"]}),
        ]
        compared, differ = 0, []
        for method, path, model, base in cases:
            for field, body in wrong_bodies(model, base):
                p_status, p_msg = _message(peer, method, path, body)
                if not p_msg.startswith(DECODE_ERROR):
                    continue  # a field dockerd 20.10 does not know (newer API): it ignores it
                status, msg = _message(daemon, method, path, body)
                compared += 1
                if (status, msg) != (400, p_msg):
                    differ.append((path, field, body, p_msg, status, msg))
        assert not differ, differ[:10]
        print(f"compared {compared} wrong-typed bodies with dockerd")
        assert compared > 250
    finally:
        for d in (daemon, peer):  # anything an engine accepted goes (a peer's bridge outlives it)
            request(d.sock, "DELETE", f"{V}/containers/models-peer?force=1")
            request(d.sock, "DELETE", f"{V}/networks/models-peer-net")
            request(d.sock, "DELETE", f"{V}/volumes/models-peer-vol")


def test_empty_create_bodies_have_dockerds_words(daemon: Daemon, peer: Daemon) -> None:
    for body in (b"", b"null", b"{}", b'{"HostConfig":{"Privileged":true}}', b"{} trailing"):
        answers = [_message(d, "POST", "/containers/create", body) for d in (daemon, peer)]
        assert answers[0][1] == answers[1][1], (body, answers)
        assert answers[0][0] == 400, (body, answers)


def test_malformed_json_has_dockerds_words(daemon: Daemon, peer: Daemon) -> None:
    from tests.unit.api.test_gojson import GO_SYNTAX

    for body in GO_SYNTAX:
        for path in ("/containers/create", "/networks/create", "/volumes/create"):
            ours, theirs = (_message(d, "POST", path, body) for d in (daemon, peer))
            assert ours[1] == theirs[1], (path, body[:40], ours, theirs)
            assert ours[0] == 400, (path, body[:40], ours)
