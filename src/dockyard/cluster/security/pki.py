"""The swarm's own certificate authority, made at `swarm init` with the `cryptography`
package (already the one maintained X.509 library for Python; no openssl subprocess to
parse). Keys are ECDSA P-256 as swarmkit's: small, and signing costs well under a
millisecond on this machine. Node certificates carry the node id as CN and the role as
OU (`swarm-manager` / `swarm-worker`), as swarmkit's do. The join token embeds the CA
certificate's SHA-256 digest, so a joiner can trust the CA it is shown before it holds
any credential (swarmkit's `SWMTKN-1-<digest>-<secret>`)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_CN = "swarm-ca"
ROLE_OU = {"manager": "swarm-manager", "worker": "swarm-worker"}
_YEAR = datetime.timedelta(days=365)


def _write_private(path: str, data: bytes) -> None:
    """Written 0600 from the start (never briefly readable by others)."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def digest(ca_pem: bytes) -> str:
    """The CA's fingerprint as a join token carries it: the DER's SHA-256 in 50 base-36
    digits, as swarmkit writes it."""
    der = x509.load_pem_x509_certificate(ca_pem).public_bytes(serialization.Encoding.DER)
    n = int.from_bytes(hashlib.sha256(der).digest(), "big")
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + out
    return out.rjust(50, "0")


def csr_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A request naming nothing: the CA decides CN and OU, the joiner only proves its key."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


@dataclass
class CA:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls) -> CA:
        key = new_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_CN)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + 20 * _YEAR)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        return cls(cert, key)

    @classmethod
    def load(cls, directory: str) -> CA:
        with open(os.path.join(directory, "ca.crt"), "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(directory, "ca.key"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(cert, key)

    def save(self, directory: str) -> None:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _write_private(os.path.join(directory, "ca.key"), key_pem(self.key))
        _write_private(os.path.join(directory, "ca.crt"), cert_pem(self.cert))

    @property
    def pem(self) -> bytes:
        return cert_pem(self.cert)

    def sign(self, public_key: ec.EllipticCurvePublicKey, cn: str, ou: str,
             ips: list[str]) -> x509.Certificate:  # fmt: skip
        """A certificate good for both ends of TLS (a node's member serves, its client
        connects); `ips` are its subject alternative names."""
        now = datetime.datetime.now(datetime.UTC)
        names = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou)]
        if cn:
            names.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
        subject = x509.Name(names)
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in dict.fromkeys(ips)]
        return (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.cert.subject)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _YEAR)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                                  x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip

    def issue(self, public_key: ec.EllipticCurvePublicKey, node_id: str, role: str,
              ips: list[str]) -> tuple[bytes, bytes]:  # fmt: skip
        """A node's two certificates (PEM): CN=node id, OU=role; and the same without CN."""
        ou = ROLE_OU[role]
        return (cert_pem(self.sign(public_key, node_id, ou, ips)),
                cert_pem(self.sign(public_key, "", ou, ips)))  # fmt: skip

    def issue_for_csr(self, csr: bytes, node_id: str, role: str,
                      ips: list[str]) -> tuple[bytes, bytes]:  # fmt: skip
        req = x509.load_pem_x509_csr(csr)
        if not req.is_signature_valid:
            raise ValueError("invalid certificate signing request")
        pub = req.public_key()
        if not isinstance(pub, ec.EllipticCurvePublicKey):
            raise ValueError("certificate signing request: an ECDSA key is required")
        return self.issue(pub, node_id, role, ips)

    def issue_files(self, tls: NodeTLS, node_id: str, role: str, ips: list[str]) -> None:
        """A node key and its certificates, written under `tls` (the CA's own node)."""
        key = new_key()
        cert, client = self.issue(key.public_key(), node_id, role, ips)
        tls.write(self.pem, cert, client, key_pem(key))


@dataclass(frozen=True)
class NodeTLS:
    """Where a node keeps its TLS material (under its swarm state dir, 0600)."""

    directory: str

    @property
    def ca(self) -> str:
        return os.path.join(self.directory, "ca.crt")

    @property
    def cert(self) -> str:
        return os.path.join(self.directory, "node.crt")

    @property
    def client_cert(self) -> str:
        """The same key's certificate without a CN: what etcd's gateway accepts with auth
        on (the user is proven by a token instead)."""
        return os.path.join(self.directory, "client.crt")

    @property
    def key(self) -> str:
        return os.path.join(self.directory, "node.key")

    def exists(self) -> bool:
        return all(os.path.exists(p) for p in (self.ca, self.cert, self.client_cert, self.key))

    def write(self, ca_pem: bytes, cert: bytes, client_cert: bytes, key: bytes) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        _write_private(self.ca, ca_pem)
        _write_private(self.cert, cert)
        _write_private(self.client_cert, client_cert)
        _write_private(self.key, key)
