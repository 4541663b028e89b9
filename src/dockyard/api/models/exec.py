"""Request models of exec: `POST /containers/{id}/exec` and `POST /exec/{id}/start`."""

from __future__ import annotations

from typing import Annotated

from dockyard.api.models.gojson import Model, Ptr, Uint


class ExecConfig(Model):
    __go__ = "types.ExecConfig"
    User: str
    Privileged: bool
    Tty: bool
    ConsoleSize: Ptr[Annotated[list[Uint], 2]]
    AttachStdin: bool
    AttachStderr: bool
    AttachStdout: bool
    Detach: bool
    DetachKeys: str
    Env: list[str]
    WorkingDir: str
    Cmd: list[str]


class ExecStartCheck(Model):
    __go__ = "types.ExecStartCheck"
    Detach: bool
    Tty: bool
    ConsoleSize: Ptr[Annotated[list[Uint], 2]]
