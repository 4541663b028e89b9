"""How a build whose stages run at once ends when one fails, so that it says
what dockerd's one-stage-after-another build says: the stages before the
failed one (in Dockerfile order) run to their end, the stages after it are
cancelled (dockerd never started them), and the first failure in order is the
build's error. Without this, the first failure cancelled every stage, and the
output the others still held back (a stage's output waits until the stages
before it are done) was lost: steps never printed before "returned a non-zero
code"."""

from __future__ import annotations

import asyncio


def _failed(tasks: dict[int, asyncio.Task[None]]) -> list[int]:
    return [
        i for i, t in tasks.items() if t.done() and not t.cancelled() and t.exception() is not None
    ]


async def settle(order: list[int], tasks: dict[int, asyncio.Task[None]]) -> int | None:
    """Wait as above; the failed stage whose error ends the build, or None."""
    first: int | None = None
    while True:
        failed = _failed(tasks)
        if failed:
            first = min(failed, key=order.index)
            pos = order.index(first)
            for i in order[pos + 1 :]:
                tasks[i].cancel()
            pending = [tasks[i] for i in order[:pos] if not tasks[i].done()]
        else:
            pending = [t for t in tasks.values() if not t.done()]
        if not pending:
            break
        await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
    if first is not None:  # the cancelled ones let go of what they held
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    return first
