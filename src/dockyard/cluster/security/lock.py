"""A manager's hold on the swarm's data key: unlocked (the key in memory), or locked
after a restart with autolock on until `docker swarm unlock` gives the unlock key; the
swarm API refuses a locked manager with dockerd's messages. See `keys` for where the
data key is kept and how it is wrapped."""

from __future__ import annotations

from dockyard.api.errors import Conflict, Unauthorized, Unavailable
from dockyard.cluster.model.repo import ClusterObjects
from dockyard.cluster.security import keys

LOCKED = (
    'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker '
    'swarm unlock" to unlock it.'
)
INVALID_KEY = "swarm could not be unlocked: invalid key provided"
NOT_LOCKED = "swarm is not locked"


class SwarmLock:
    def __init__(self) -> None:
        self.data_key: keys.DataKey | None = None
        self.locked = False

    def forget(self) -> None:
        self.data_key, self.locked = None, False

    async def create(self, objs: ClusterObjects, autolock: bool) -> None:
        """At init: a new data key, wrapped by a new unlock key with autolock."""
        self.data_key = keys.new_data_key()
        await keys.put_data_key(objs, self.data_key, keys.new_unlock_key() if autolock else "")

    async def load(self, objs: ClusterObjects) -> None:
        """A manager starting (or promoted): the key as stored; wrapped means locked."""
        if self.data_key is None:
            self.data_key = await keys.load_data_key(objs)
        self.locked = self.data_key is None

    def require_unlocked(self) -> keys.DataKey:
        if self.locked or self.data_key is None:
            raise Unavailable(LOCKED)
        return self.data_key

    async def unlock(self, objs: ClusterObjects, unlock_key: str) -> None:
        if not self.locked:
            raise Conflict(NOT_LOCKED)
        try:
            dek = await keys.load_data_key(objs, unlock_key)
        except keys.InvalidUnlockKey:
            raise Unauthorized(INVALID_KEY) from None
        if dek is None:
            raise Unauthorized(INVALID_KEY)
        self.data_key, self.locked = dek, False

    async def unlock_key(self, objs: ClusterObjects) -> str:
        return await keys.unlock_key(objs, self.require_unlocked())

    async def set_autolock(self, objs: ClusterObjects, on: bool, rotate: bool) -> None:
        """`swarm update --autolock=true|false` and `swarm unlock-key --rotate`."""
        dek = self.require_unlocked()
        current = await keys.unlock_key(objs, dek)
        if bool(current) == on and not (on and rotate):
            return
        await keys.put_data_key(objs, dek, keys.new_unlock_key() if on else "")
