"""The service mesh's view of the store: a task's observed state is found under the
key layout the agent writes (task-status/<node>/<task>), so a task with a health check
counts as a backend once it is running and healthy."""

from __future__ import annotations

import json
from types import SimpleNamespace

from dockyard.cluster.mesh import ServiceMesh


def test_task_status_under_its_node_counts() -> None:
    objects = SimpleNamespace(prefix="/dockyard/")
    overlay = SimpleNamespace(root="/nonexistent", on_programmed=None)
    mesh = ServiceMesh(objects, None, "n1", overlay)  # type: ignore[arg-type]
    task = {"ID": "t1", "ServiceID": "s1", "DesiredState": "running",
            "Spec": {"ContainerSpec": {"Healthcheck": {"Test": ["CMD", "true"]}}}}  # fmt: skip
    mesh._apply_kv("/dockyard/tasks/t1", json.dumps(task).encode())
    mesh._apply_kv("/dockyard/task-status/n1/t1", json.dumps({"State": "running"}).encode())
    mesh._apply_kv("/dockyard/health/t1", b"healthy")
    assert mesh.member("t1")
    mesh._apply_kv("/dockyard/health/t1", b"unhealthy")
    assert not mesh.member("t1")
