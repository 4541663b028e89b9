"""OCI hooks: run one hook list with the container's state on stdin (runc's ``hooks.go``).

Where each list runs is the caller's business (see :mod:`.container` and
:mod:`.init`): ``prestart``/``createRuntime`` in the runtime's namespaces
once the container's exist, ``createContainer`` in the container's mount
namespace before ``pivot_root``, ``startContainer`` in the container just
before the user process, ``poststart`` after ``start``, ``poststop`` on
``delete``. A hook is ``{"path", "args", "env", "timeout"}``; it fails when
it exits non-zero or outlives its timeout (then it is killed). Plain
``fork``/``execve`` rather than ``subprocess``: this also runs inside the
container's init after ``pivot_root``, where the host's stdlib is gone.
"""

from __future__ import annotations

import os
import select
import time

from . import jsontext

__all__ = ["HookError", "run_hooks", "state_document", "HOOK_NAMES"]

HOOK_NAMES = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)


class HookError(RuntimeError):
    """A hook failed; the message is runc's."""


def state_document(
    container_id: str, pid: int, status: str, bundle: str, annotations: dict
) -> dict:
    doc: dict = {"ociVersion": "1.0.2-dev", "id": container_id}
    if pid:
        doc["pid"] = pid  # runc omits it once the container has stopped
    doc.update(status=status, bundle=bundle)
    if annotations:
        doc["annotations"] = annotations
    return doc


def _run_one(hook: dict, payload: bytes) -> tuple[int | None, bytes, bytes]:
    """Exit status (None on timeout), stdout and stderr of one hook."""
    path = hook.get("path")
    if not isinstance(path, str) or not path:
        raise HookError("hook path is required")
    args = list(hook.get("args") or [path])
    env = list(hook.get("env") or [])
    timeout = hook.get("timeout")
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, 65536)
            os.execve(path, args, dict(e.split("=", 1) for e in env if "=" in e))
        finally:
            os._exit(127)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    try:
        os.write(in_w, payload)
    except BrokenPipeError:
        pass
    os.close(in_w)
    deadline = None if not timeout else time.monotonic() + float(timeout)
    output = {out_r: b"", err_r: b""}
    poller = select.poll()
    for fd in output:
        poller.register(fd, select.POLLIN | select.POLLHUP)
    open_fds = set(output)
    timed_out = False
    while open_fds:
        wait_ms = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
        events = poller.poll(wait_ms)
        if not events:
            timed_out = True
            os.kill(pid, 9)
            break
        for fd, _ in events:
            chunk = os.read(fd, 65536)
            if chunk:
                output[fd] += chunk
            else:
                poller.unregister(fd)
                open_fds.discard(fd)
    for fd in output:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    code = None if timed_out else os.waitstatus_to_exitcode(status)
    return code, output[out_r], output[err_r]


def run_hooks(name: str, hooks: list, state: dict, strict: bool = True) -> list[str]:
    """Run every hook of one list in order; the first failure raises (or, not
    ``strict`` as for poststop, is returned as a warning and the rest still run)."""
    payload = jsontext.dumps(state).encode()
    warnings = []
    for i, hook in enumerate(hooks or []):
        try:
            code, out, err = _run_one(hook, payload)
        except OSError as e:
            code, out, err = -1, b"", str(e).encode()
        if code == 0:
            continue
        # runc's wording, with the list's name added
        if code is None:
            message = f"error running {name} hook #{i}: timeout after {hook.get('timeout')} seconds"
        else:
            message = (
                f"error running {name} hook #{i}: error running hook: exit status {code}, "
                f"stdout: {out.decode(errors='replace')}, stderr: {err.decode(errors='replace')}"
            )
        if strict:
            raise HookError(message)
        warnings.append(message)
    return warnings
