"""Each router's Backend protocol is met by the service main.py wires to it: every
method the protocol declares exists on the service with the same parameters (the
routers' unit tests use fakes, so this is what ties them to the real services),
and the one Runtime implementation has every method of the daemon-side protocol."""

from __future__ import annotations

import inspect

import pytest

from dockyard.daemon.routers.container_ops import OpsBackend
from dockyard.daemon.routers.containers import ContainerBackend, ViewBackend
from dockyard.daemon.routers.exec import ExecBackend
from dockyard.daemon.services.container_ops import ContainerOps
from dockyard.daemon.services.container_views import ContainerViews
from dockyard.daemon.services.containers import ContainerService
from dockyard.daemon.services.exec import ExecService
from dockyard.daemon.services.task_runtime import Runtime, TaskRuntime

PAIRS = [
    (ContainerBackend, ContainerService),
    (ViewBackend, ContainerViews),
    (OpsBackend, ContainerOps),
    (ExecBackend, ExecService),
    (Runtime, TaskRuntime),
]


def _methods(proto: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(proto).items()
        if not name.startswith("_") and callable(fn)
    }


@pytest.mark.parametrize(("proto", "impl"), PAIRS, ids=[p.__name__ for p, _ in PAIRS])
def test_the_service_has_each_method_with_the_same_parameters(proto: type, impl: type) -> None:
    methods = _methods(proto)
    assert methods, f"{proto.__name__} declares nothing"
    for name, sig in methods.items():
        assert hasattr(impl, name), f"{impl.__name__} has no {name} ({proto.__name__})"
        got = inspect.signature(getattr(impl, name))
        assert list(got.parameters) == list(sig.parameters), (
            f"{impl.__name__}.{name}{got} does not match {proto.__name__}.{name}{sig}"
        )
        assert inspect.iscoroutinefunction(getattr(impl, name)) == inspect.iscoroutinefunction(
            getattr(proto, name)
        ) or inspect.isasyncgenfunction(getattr(impl, name)), f"{impl.__name__}.{name}: async?"
