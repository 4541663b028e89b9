"""The syslog driver over TLS (issue 12): `syslog-address=tcp+tls://HOST:PORT` with
`syslog-tls-ca-cert` (and a client certificate: `syslog-tls-cert`, `syslog-tls-key`)
sends each line over a TLS connection, as dockerd's driver does: the unix format
newline-framed, rfc5424 with RFC 5425's octet counting ("LEN MSG"). The listener is
the test's own, with a throwaway CA made with openssl. Both engines."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Daemon, inspect
from tests.waiting import wait_until


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fid-tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
             "/CN=fid-ca", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for who in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
                 "-keyout", f"{who}.key", "-out", f"{who}.csr", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "1", "-extfile", "ext", "-out", f"{who}.pem",
                 cwd=d)  # fmt: skip
    return d


class Listener:
    """A TLS syslog receiver on 127.0.0.1 that asks for a client certificate."""

    def __init__(self, pki: Path) -> None:
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
        self.ctx.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.peers: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                cert = tls.getpeercert() or {}
                with self.lock:
                    self.peers.append(dict(x[0] for x in cert.get("subject", ()))["commonName"])
                while chunk := tls.recv(65536):
                    with self.lock:
                        self.data += chunk
        except (OSError, ssl.SSLError, KeyError):
            pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def listener(pki: Path) -> Iterator[Listener]:
    lst = Listener(pki)
    try:
        yield lst
    finally:
        lst.close()


@pytest.mark.parametrize("fmt", ["", "rfc5424"])
def test_syslog_over_tls(engine: Daemon, pki: Path, listener: Listener, fmt: str) -> None:
    name = f"fid-tls-{uuid.uuid4().hex[:8]}"
    try:
        engine.docker("run", "--name", name, "--network", "none", "--log-driver", "syslog",
                      "--log-opt", f"syslog-address=tcp+tls://127.0.0.1:{listener.port}",
                      "--log-opt", f"syslog-tls-ca-cert={pki / 'ca.pem'}",
                      "--log-opt", f"syslog-tls-cert={pki / 'client.pem'}",
                      "--log-opt", f"syslog-tls-key={pki / 'client.key'}",
                      "--log-opt", f"syslog-format={fmt}",
                      "busybox", "echo", "over-tls", check=True)  # fmt: skip
        wait_until(lambda: b"over-tls" in listener.data, "the line at the TLS listener", 30)
        short = inspect(engine, name)["Id"][:12]
        text = listener.data.decode()
        assert listener.peers == ["client"]
        if fmt == "":
            stamp = r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"
            assert re.fullmatch(rf"<30>{stamp} {short}\[\d+\]: over-tls\n", text), text
        else:  # RFC 5425 octet counting: the length of the message, its newline included
            length, _, msg = text.partition(" ")
            assert int(length) == len(msg.encode()), text
            assert re.fullmatch(rf"<30>1 \S+ \S+ {short} \d+ {short} - over-tls\n", msg), text
    finally:
        engine.docker("rm", "-f", name)
