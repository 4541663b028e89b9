"""Running compose's blocking Engine API calls side by side, in threads.

Why threads and not asyncio: every call is a blocking `dockyard.client` call, so
asyncio only ever scheduled them onto worker threads, and importing it (ssl,
logging, concurrent.futures, subprocess...) was half the CPU of a no-op `up`.

`gather` runs thunks in threads and joins them; the first failure is re-raised
once all have returned. A failure anywhere in a run (one top-level `gather` and
every `gather` nested under it) cancels the run's waits: `sleep` and
`Outcome.wait` raise `Cancelled`, so a service still polling a dependency's
health stops instead of outliving the error. `Outcome` is a one-shot result that
threads wait on: a service's "created" or "ready".
"""

from __future__ import annotations

import contextvars
import queue
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, TypeVar

    T = TypeVar("T")

# The main thread wakes this often while it waits, so a Ctrl-C (or the docker CLI
# going away, which the plugin turns into an interrupt) is noticed promptly, even when
# the kernel delivered the signal to another thread.
_WAKE = 0.25


class Cancelled(Exception):
    """Another part of the run failed; this wait was abandoned."""


class _Run:
    def __init__(self) -> None:
        self.failed = threading.Event()


_run: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("compose_run", default=None)


def _wait(event: threading.Event, timeout: float | None = None) -> bool:
    if threading.current_thread() is not threading.main_thread():
        return event.wait(timeout)
    if timeout is not None:
        return event.wait(timeout)
    while not event.wait(_WAKE):
        pass
    return True


def take(q: queue.Queue[T]) -> T:
    """The next item of `q`; on the main thread it wakes every _WAKE, as `_wait` does: a
    SIGINT the kernel handed to another thread (a log reader's) leaves a main thread
    blocked in a lock's wait asleep until the lock moves."""
    if threading.current_thread() is not threading.main_thread():
        return q.get()
    while True:
        try:
            return q.get(timeout=_WAKE)
        except queue.Empty:
            pass


def gather(*thunks: Callable[[], T]) -> list[T]:
    """Call each thunk in its own thread; their results in order, or the first error."""
    run = _run.get()
    top = run is None
    if top:
        run = _Run()
        _run.set(run)
    try:
        if len(thunks) == 1:
            return [_guarded(run, thunks[0])]
        results: list[Any] = [None] * len(thunks)
        errors: list[BaseException] = []
        done = threading.Event()
        left = [len(thunks)]
        lock = threading.Lock()

        def one(i: int, fn: Callable[[], Any]) -> None:
            try:
                results[i] = fn()
            except BaseException as e:  # noqa: BLE001 - re-raised by the joining thread
                run.failed.set()
                with lock:
                    errors.append(e)
            finally:
                with lock:
                    left[0] -= 1
                    if not left[0]:
                        done.set()

        if thunks:
            for i, fn in enumerate(thunks):
                ctx = contextvars.copy_context()
                threading.Thread(target=ctx.run, args=(one, i, fn), daemon=True).start()
            _wait(done)
        if errors:
            # a cancellation is the echo of another failure: report the cause
            raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
        return results
    finally:
        if top:
            _run.set(None)


def _guarded(run: _Run, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except BaseException:
        run.failed.set()
        raise


def each(fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
    """`fn(item)` for every item, side by side."""
    return gather(*(lambda item=item: fn(item) for item in items))


def sleep(seconds: float) -> None:
    """Pause between polls; raises `Cancelled` at once if the run has failed."""
    run = _run.get()
    if run is None:
        threading.Event().wait(seconds)
    elif run.failed.wait(seconds):
        raise Cancelled("cancelled")


class Outcome:
    """Set once, with success or an error; `wait` returns or raises it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._error: BaseException | None = None

    def done(self) -> bool:
        return self._event.is_set()

    def set(self, error: BaseException | None = None) -> None:
        if not self._event.is_set():
            self._error = error
            self._event.set()

    def wait(self) -> None:
        run = _run.get()
        while not _wait(self._event, None if run is None else _WAKE):
            if run is not None and run.failed.is_set():
                raise Cancelled("cancelled")
        if self._error is not None:
            raise self._error
