"""Registry configuration: a YAML file in distribution's shape (the subset we
honour), overridden by command-line flags. PyYAML because the file format is
distribution's; nothing else here needs a dependency.

    version: 0.1
    http: {addr: 127.0.0.1:5000, tls: {certificate: ..., key: ...},
           ratelimit: {rate: 100, burst: 200}}   # per client; over it: 429
    storage:
      filesystem: {rootdirectory: /var/lib/dockyard-registry}
      delete: {enabled: true}
      maintenance: {readonly: {enabled: false}}
    auth:
      htpasswd: {realm: Registry, path: /etc/dockyard/htpasswd}
      token: {realm: http://127.0.0.1:5000/auth/token, service: registry,
              issuer: dockyard, key: /path/hs256-secret, access: /path/access.yml}
    proxy: {remoteurl: http://127.0.0.1:5001, username: ..., password: ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Config:
    addr: str = "127.0.0.1:5000"
    root: str = "/var/lib/dockyard-registry"
    tls_cert: str = ""
    tls_key: str = ""
    delete_enabled: bool = True
    read_only: bool = False
    htpasswd: str = ""
    realm: str = "Registry"
    token: dict[str, Any] = field(default_factory=dict)
    proxy: dict[str, Any] = field(default_factory=dict)
    rate: float = 0.0  # requests a second per client; 0 = unlimited
    burst: int = 0

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.addr.rpartition(":")
        return (host.strip("[]") or "0.0.0.0"), int(port)


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def from_yaml(text: str) -> Config:
    import yaml

    doc = yaml.safe_load(text) or {}
    c = Config()
    c.addr = _get(doc, "http", "addr") or c.addr
    if c.addr.startswith(":"):
        c.addr = "0.0.0.0" + c.addr
    c.tls_cert = _get(doc, "http", "tls", "certificate") or ""
    c.tls_key = _get(doc, "http", "tls", "key") or ""
    c.root = _get(doc, "storage", "filesystem", "rootdirectory") or c.root
    enabled = _get(doc, "storage", "delete", "enabled")
    if enabled is not None:
        c.delete_enabled = bool(enabled)
    c.read_only = bool(_get(doc, "storage", "maintenance", "readonly", "enabled"))
    c.htpasswd = _get(doc, "auth", "htpasswd", "path") or ""
    c.realm = _get(doc, "auth", "htpasswd", "realm") or c.realm
    c.token = _get(doc, "auth", "token") or {}
    c.proxy = _get(doc, "proxy") or {}
    c.rate = float(_get(doc, "http", "ratelimit", "rate") or 0)
    c.burst = int(_get(doc, "http", "ratelimit", "burst") or 0)
    return c
