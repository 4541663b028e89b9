"""The managers' key material in the store, under `<prefix>-private/swarm-keys/` (etcd's
root role only: workers read the swarm's prefix, not the private one; see `rbac`): the CA's key and
certificate, so that every manager can serve joins; and the data key that seals secret
values (below)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.security import pki


async def put_ca(objs: ClusterObjects, ca: pki.CA) -> None:
    doc = {"cert": ca.pem.decode(), "key": pki.key_pem(ca.key).decode()}
    await objs.store.put(objs.private_key("swarm-keys", "ca"), json.dumps(doc).encode())


async def load_ca(objs: ClusterObjects) -> pki.CA:
    kv = await objs.store.get(objs.private_key("swarm-keys", "ca"))
    if kv is None:
        raise LookupError("the swarm's CA is not in the store")
    doc = json.loads(kv.value)
    key = serialization.load_pem_private_key(doc["key"].encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return pki.CA(x509.load_pem_x509_certificate(doc["cert"].encode()), key)


# ---- the data key: secrets encrypted at rest, autolock -------------------------------------
# Secret values are sealed with the swarm's data key (AES-256-GCM, a random 12-byte nonce
# per value). The data key lives at `swarm-keys/dek`: as is without autolock (as dockerd
# keeps its raft key unencrypted on the manager's disk then), wrapped by a key derived
# from the unlock key with autolock, so that a manager that restarts cannot read a secret
# until it is given the unlock key (`docker swarm unlock`). The unlock key itself is kept
# there sealed by the data key, so `docker swarm unlock-key` works on any unlocked manager.

SEALED = b"DYSEC1"
UNLOCK_PREFIX = "SWMKEY-1-"


class InvalidUnlockKey(Exception):
    pass


class DataKey:
    def __init__(self, key: bytes) -> None:
        self.key = key

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return SEALED + nonce + AESGCM(self.key).encrypt(nonce, data, None)

    def open(self, blob: bytes) -> bytes:
        if not blob.startswith(SEALED):  # stored before values were sealed
            return blob
        nonce, body = blob[len(SEALED) : len(SEALED) + 12], blob[len(SEALED) + 12 :]
        return AESGCM(self.key).decrypt(nonce, body, None)


def new_data_key() -> DataKey:
    return DataKey(AESGCM.generate_key(bit_length=256))


def new_unlock_key() -> str:
    """swarmkit's shape: SWMKEY-1-<base64 of 32 random bytes>."""
    return UNLOCK_PREFIX + base64.b64encode(os.urandom(32)).decode()


def _kek(unlock_key: str) -> DataKey:
    unlock_key = unlock_key.strip()
    if not unlock_key.startswith(UNLOCK_PREFIX):
        raise InvalidUnlockKey()
    try:
        raw = base64.b64decode(unlock_key[len(UNLOCK_PREFIX) :], validate=True)
    except ValueError:
        raise InvalidUnlockKey() from None
    if len(raw) != 32:
        raise InvalidUnlockKey()
    return DataKey(hashlib.sha256(b"dockyard swarm unlock\0" + raw).digest())


async def put_data_key(objs: ClusterObjects, dek: DataKey, unlock_key: str = "") -> None:
    """Stores the data key: wrapped by the unlock key when there is one (autolock)."""
    doc: dict[str, Any] = {"wrapped": bool(unlock_key)}
    if unlock_key:
        doc["key"] = base64.b64encode(_kek(unlock_key).seal(dek.key)).decode()
        doc["unlock"] = base64.b64encode(dek.seal(unlock_key.encode())).decode()
    else:
        doc["key"] = base64.b64encode(dek.key).decode()
    await objs.store.put(objs.private_key("swarm-keys", "dek"), json.dumps(doc).encode())


async def load_data_key(objs: ClusterObjects, unlock_key: str = "") -> DataKey | None:
    """The data key; None when it is wrapped and no unlock key is given (locked)."""
    kv = await objs.store.get(objs.private_key("swarm-keys", "dek"))
    if kv is None:
        raise LookupError("the swarm's data key is not in the store")
    doc = json.loads(kv.value)
    raw = base64.b64decode(doc["key"])
    if not doc.get("wrapped"):
        return DataKey(raw)
    if not unlock_key:
        return None
    try:
        return DataKey(_kek(unlock_key).open(raw))
    except InvalidTag:
        raise InvalidUnlockKey() from None


async def unlock_key(objs: ClusterObjects, dek: DataKey) -> str:
    """The current unlock key ("" without autolock)."""
    kv = await objs.store.get(objs.private_key("swarm-keys", "dek"))
    doc = json.loads(kv.value) if kv else {}
    if not doc.get("wrapped"):
        return ""
    return dek.open(base64.b64decode(doc["unlock"])).decode()
