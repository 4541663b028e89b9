"""The registry server's auth at the HTTP level: the Docker token flow
(challenge, token endpoint, scopes, anonymous rights) and htpasswd Basic
auth; TLS with a self-signed certificate, driven by skopeo; a certificate the
daemon does not trust, until its CA is placed in certs.d."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from tests.conftest import Daemon
from tests.integration.registry.images import make_oci_layout
from tests.integration.registry.peers import Registry, start, stop


def _token(reg: Registry, scope: str, user: str = "", password: str = "") -> requests.Response:
    r = reg.req("GET", "/v2/")
    realm = r.headers["WWW-Authenticate"].split('realm="')[1].split('"')[0]
    auth = (user, password) if user else None
    return requests.get(
        realm, params={"service": "test-registry", "scope": scope}, auth=auth, timeout=10
    )


def test_token_flow(token_registry: Registry) -> None:
    r = token_registry.req("GET", "/v2/public/x/tags/list")
    assert r.status_code == 401
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="http://') and 'service="test-registry"' in challenge
    assert 'scope="repository:public/x:pull"' in challenge
    # anonymous: pull on public/*, nothing on alice/*
    tok = _token(token_registry, "repository:public/x:pull").json()["token"]
    claims = jwt.decode(tok, options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": "public/x", "actions": ["pull"]}]
    r = token_registry.req(
        "GET", "/v2/public/x/tags/list", headers={"Authorization": f"Bearer {tok}"}
    )
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    tok = _token(token_registry, "repository:alice/x:pull,push").json()["token"]
    r = token_registry.req(
        "POST", "/v2/alice/x/blobs/uploads/", headers={"Authorization": f"Bearer {tok}"}
    )
    assert r.status_code == 401 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    # alice: push on alice/*
    r = _token(token_registry, "repository:alice/x:pull,push", "alice", "s3cret")
    tok = r.json()["token"]
    r = token_registry.req(
        "POST", "/v2/alice/x/blobs/uploads/", headers={"Authorization": f"Bearer {tok}"}
    )
    assert r.status_code == 202
    token_registry.req("DELETE", r.headers["Location"], headers={"Authorization": f"Bearer {tok}"})
    # alice outside alice/*: logged in but not allowed, so DENIED (403), not a challenge
    tok = _token(token_registry, "repository:bob/x:pull,push", "alice", "s3cret").json()["token"]
    r = token_registry.req(
        "POST", "/v2/bob/x/blobs/uploads/", headers={"Authorization": f"Bearer {tok}"}
    )
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED"
    # wrong password: the token endpoint refuses; a forged token is refused
    assert _token(token_registry, "repository:alice/x:pull", "alice", "bad").status_code == 401
    forged = jwt.encode(
        {"iss": "test-issuer", "aud": "test-registry", "access": []}, "wrong-key", algorithm="HS256"
    )
    r = token_registry.req("GET", "/v2/", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_basic_auth(basic_registry: Registry) -> None:
    r = basic_registry.req("GET", "/v2/")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="test"'
    good = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    bad = "Basic " + base64.b64encode(b"alice:nope").decode()
    assert basic_registry.req("GET", "/v2/", headers={"Authorization": good}).status_code == 200
    assert basic_registry.req("GET", "/v2/", headers={"Authorization": bad}).status_code == 401


def test_tls_with_skopeo_and_the_daemon(daemon: Daemon, tmp_path: Path) -> None:
    """A registry serving TLS with a self-signed certificate on loopback: skopeo
    pushes to it; dockyardd, which treats loopback as insecure like dockerd, finds
    it speaks TLS and pulls over HTTPS."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    reg = start("dockyard", args=["--tls-cert", str(cert), "--tls-key", str(key)], scheme="https")
    try:
        src = make_oci_layout(tmp_path / "oci", seed=11)
        r = subprocess.run(
            ["skopeo", "--insecure-policy", "copy", "--dest-cert-dir", str(tmp_path / "certs"),
             "--dest-tls-verify=false", f"oci:{src.path}:latest", f"docker://{reg.addr}/tls/img:1"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = requests.get(f"https://{reg.addr}/v2/tls/img/tags/list", verify=str(cert), timeout=10)
        assert r.json()["tags"] == ["1"]
        r2 = daemon.docker("pull", f"{reg.addr}/tls/img:1")
        assert r2.returncode == 0, r2.stdout + r2.stderr
        assert "Pull complete" in r2.stdout
        daemon.docker("rmi", f"{reg.addr}/tls/img:1")
    finally:
        stop(reg)


@pytest.fixture
def local_ip() -> Iterator[str]:
    """A non-127/8 address on the loopback link (removed after): a registry there
    is not insecure by default, so its certificate is checked, and no traffic
    leaves the host."""
    import random

    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    while True:
        ip = f"10.{random.randrange(200, 250)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        if f" {ip}/" not in used:
            break
    subprocess.run(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], check=True)
    try:
        yield ip
    finally:
        subprocess.run(["ip", "addr", "del", f"{ip}/32", "dev", "lo"], capture_output=True)


def _ca_signed_cert(d: Path, ip: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for `ip`, its key), made with openssl."""
    ca_key, ca, key, csr, cert = (d / n for n in ("ca.key", "ca.crt", "s.key", "s.csr", "s.pem"))
    ext = d / "ext.cnf"
    ext.write_text(f"subjectAltName=IP:{ip}\n")
    for cmd in (
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=dockyard test CA", "-keyout", str(ca_key), "-out", str(ca)],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={ip}",
         "-keyout", str(key), "-out", str(csr)],
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
         "-CAcreateserial", "-days", "1", "-extfile", str(ext), "-out", str(cert)],
    ):  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
    return ca, cert, key


def test_untrusted_certificate_fails_until_its_ca_is_in_certs_d(
    daemon: Daemon, tmp_path: Path, local_ip: str
) -> None:
    """A registry on a (non-loopback, so secure) address serving a certificate from
    a CA the daemon does not know: the pull fails as dockerd's does (x509: ... unknown
    authority); with the CA at <data-root>/certs.d/<host:port>/ca.crt (Docker's
    /etc/docker/certs.d convention), the same pull succeeds, without a restart."""
    ca, cert, key = _ca_signed_cert(tmp_path, local_ip)
    reg = start(
        "dockyard", args=["--tls-cert", str(cert), "--tls-key", str(key)], scheme="https",
        host=local_ip,
    )  # fmt: skip
    certs = daemon.root / "data" / "certs.d" / reg.addr
    ref = f"{reg.addr}/tls/ca:1"
    try:
        src = make_oci_layout(tmp_path / "oci", seed=12)
        r = subprocess.run(
            ["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
             f"oci:{src.path}:latest", f"docker://{ref}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = daemon.docker("pull", ref)
        assert r.returncode != 0
        assert f'Get "https://{reg.addr}/v2/": x509: certificate signed by unknown authority' in (
            r.stderr
        ), r.stderr
        certs.mkdir(parents=True)
        (certs / "ca.crt").write_bytes(ca.read_bytes())
        r = daemon.docker("pull", ref)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Pull complete" in r.stdout
    finally:
        daemon.docker("rmi", ref)
        stop(reg)
        shutil.rmtree(certs.parent, ignore_errors=True)
