"""What `up` decides for a service's containers (plan.plan_service)."""

from __future__ import annotations

from dockyard.compose import labels
from dockyard.compose.plan import CREATE, KEEP, RECREATE, REMOVE, START, plan_service


def _c(n: int, h: str = "h1", state: str = "running", image: str = "sha256:i") -> dict:
    return {"Id": f"id{n}", "State": state, "ImageID": image,
            "Labels": {labels.NUMBER: str(n), labels.HASH: h}}  # fmt: skip


def _kinds(actions: list) -> list[tuple[str, int]]:
    return [(a.kind, a.number) for a in actions]


def test_nothing_exists_creates_scale_containers() -> None:
    assert _kinds(plan_service([], 2, "h1", "sha256:i")) == [(CREATE, 1), (CREATE, 2)]


def test_unchanged_running_is_kept_and_stopped_is_started() -> None:
    got = plan_service([_c(1), _c(2, state="exited")], 2, "h1", "sha256:i")
    assert _kinds(got) == [(KEEP, 1), (START, 2)]


def test_changed_hash_or_image_recreates() -> None:
    assert _kinds(plan_service([_c(1, h="old")], 1, "h1", "sha256:i")) == [(RECREATE, 1)]
    assert _kinds(plan_service([_c(1, image="sha256:old")], 1, "h1", "sha256:i")) == [(RECREATE, 1)]


def test_force_and_never() -> None:
    assert _kinds(plan_service([_c(1)], 1, "h1", None, "force")) == [(RECREATE, 1)]
    assert _kinds(plan_service([_c(1, h="old")], 1, "h1", None, "never")) == [(KEEP, 1)]


def test_scale_down_removes_highest_first() -> None:
    got = plan_service([_c(1), _c(2), _c(3)], 1, "h1", None)
    assert _kinds(got) == [(REMOVE, 3), (REMOVE, 2), (KEEP, 1)]
