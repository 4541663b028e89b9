"""`compose watch`: keep running services in step with the files their `develop.watch`
rules name.

Rules (the specification's develop.md): `sync` copies changed files under `path`
into the container at `target` (deleted ones are removed there), `sync+restart`
then restarts the container, `sync+exec` then runs `exec.command`, `rebuild`
rebuilds the image and recreates the service. inotify (`compose.inotify`) says
when, and under which rules' paths, something changed; a snapshot of those paths
(modification time and size) compared with the last one says what. Where inotify
is unavailable (or out of watches) every path is compared every POLL seconds.
"""

from __future__ import annotations

import fnmatch
import io
import os
import tarfile
import time

from dockyard.compose import images
from dockyard.compose.convert import image_name
from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.compose.engineapi import EngineAPI
    from dockyard.compose.model import Project, Service

POLL = 0.5
Snapshot = dict[str, tuple[int, int]]


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pat in patterns:
        pat = pat.rstrip("/")
        if fnmatch.fnmatch(rel, pat) or any(fnmatch.fnmatch(p, pat) for p in parts):
            return True
    return False


def snapshot(root: str, ignore: list[str]) -> Snapshot:
    """Regular files under `root` (or `root` itself): relative path → (mtime_ns, size)."""
    if os.path.isfile(root):
        st = os.stat(root)
        return {"": (st.st_mtime_ns, st.st_size)}
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames
                       if not _ignored(os.path.normpath(os.path.join(rel_dir, d)), ignore)]  # fmt: skip
        for name in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if _ignored(rel, ignore):
                continue
            try:
                st = os.stat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            out[rel] = (st.st_mtime_ns, st.st_size)
    return out


def diff(old: Snapshot, new: Snapshot) -> tuple[list[str], list[str]]:
    """(changed or added, deleted) relative paths."""
    changed = sorted(k for k, v in new.items() if old.get(k) != v)
    deleted = sorted(k for k in old if k not in new)
    return changed, deleted


def tar_of(root: str, rels: list[str], arc_root: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for rel in rels:
            host = os.path.join(root, rel) if rel else root
            if os.path.exists(host):
                tf.add(host, arcname=os.path.join(arc_root, rel) if rel else arc_root)
    return buf.getvalue()


class Watcher:
    def __init__(self, api: EngineAPI, project: Project, say: Callable[[str], None],
                 recreate: Callable[[Service], None]) -> None:  # fmt: skip
        self.api = api
        self.project = project
        self.say = say
        self.recreate = recreate
        self.rules: list[tuple[Service, dict[str, Any], Snapshot]] = []
        for svc in project.services.values():
            for rule in (svc.config.get("develop") or {}).get("watch") or []:
                path = os.path.join(project.working_dir, rule["path"])
                ignore = list(rule.get("ignore") or [])
                self.rules.append((svc, {**rule, "path": path, "ignore": ignore},
                                   snapshot(path, ignore)))  # fmt: skip
        if not self.rules:
            raise ComposeError(
                "none of the selected services is configured for watch, consider setting a "
                "'develop' section"
            )

    def containers(self, svc: Service) -> list[dict[str, Any]]:
        return [c for c in self.api.containers(self.project.name, False, False, service=svc.name)
                if c.get("State") == "running"]  # fmt: skip

    def watch(self) -> Any:
        """inotify watches on every rule's path (keyed by rule index), or None."""
        from dockyard.compose import inotify

        try:
            tree = inotify.Tree()
        except inotify.Unavailable:
            return None
        try:
            for i, (_, rule, _) in enumerate(self.rules):
                root = rule["path"]
                tree.add(i, root, lambda p, root=root, ignore=rule["ignore"]:
                         _ignored(os.path.relpath(p, root), ignore))  # fmt: skip
        except inotify.Unavailable:
            tree.close()
            return None
        return tree

    def changes(self, tree: Any, timeout: float = POLL) -> list[int]:
        """The rules under whose paths something changed (all of them when polling)."""
        if tree is None:
            time.sleep(timeout)
            return list(range(len(self.rules)))
        return sorted(tree.wait(timeout))

    def poll_once(self, which: list[int] | None = None) -> None:
        for i, (svc, rule, old) in enumerate(self.rules):
            if which is not None and i not in which:
                continue
            new = snapshot(rule["path"], rule["ignore"])
            changed, deleted = diff(old, new)
            if not changed and not deleted:
                continue
            self.rules[i] = (svc, rule, new)
            self.apply(svc, rule, changed, deleted)

    def apply(self, svc: Service, rule: dict[str, Any], changed: list[str],
              deleted: list[str]) -> None:  # fmt: skip
        action = rule.get("action", "sync")
        if action == "rebuild":
            self.say(f'Rebuilding service "{svc.name}" after changes were detected...')
            images.build(self.api, self.project, svc, image_name(self.project, svc))
            self.recreate(svc)
            self.say(f'service "{svc.name}" successfully built')
            return
        target = rule.get("target")
        if not target:
            raise ComposeError(f"services.{svc.name}.develop.watch: {action} needs a target")
        n = len(changed) + len(deleted)
        self.say(f'Syncing service "{svc.name}" after {n} changed files')
        body = tar_of(rule["path"], changed, os.path.basename(target.rstrip("/")) or "/")
        for c in self.containers(svc):
            if changed:
                resp = self.api.client.request(
                    "PUT", f"/containers/{c['Id']}/archive",
                    {"path": os.path.dirname(target.rstrip("/")) or "/"}, body,
                    {"Content-Type": "application/x-tar"},
                )  # fmt: skip
                resp.read()
                resp.close()
            if deleted:
                self._exec(c["Id"], ["rm", "-rf", *(os.path.join(target, d) for d in deleted)])
            if action == "sync+restart":
                self.api.restart(c["Id"])
            elif action == "sync+exec":
                cmd = (rule.get("exec") or {}).get("command")
                if cmd:
                    self._exec(c["Id"], cmd if isinstance(cmd, list) else ["sh", "-c", cmd])

    def _exec(self, cid: str, cmd: list[str]) -> None:
        eid = self.api.client.post(f"/containers/{cid}/exec", None,
                                   {"Cmd": cmd, "AttachStdout": False, "AttachStderr": False})["Id"]  # fmt: skip
        self.api.client.post(f"/exec/{eid}/start", None, {"Detach": True, "Tty": False})

    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        tree = self.watch()
        self.poll_once()  # what changed before the watches were in place
        self.say("Watch enabled")
        try:
            while not stop():
                which = self.changes(tree)
                if which:
                    self.poll_once(which)
        finally:
            if tree is not None:
                tree.close()
