"""The build's one output stream while its stages run at once: a stage speaks
straight to the client only while it is the first unfinished stage in
Dockerfile order; what a later stage says meanwhile is held and replayed when
its turn comes, so the stream reads as dockerd's one-stage-after-another build.
Step numbers are given out per stage, as if the stages before it had run.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass, field
from typing import Any

from dockyard.builder.state import Emit


@dataclass
class _StageOut:
    """One stage's place in the output: its step numbers and what it said
    while an earlier stage (still running) had the stream."""

    index: int
    step: int
    buf: list[dict[str, Any]] = field(default_factory=list)
    flushing: bool = False


_CURRENT: contextvars.ContextVar[_StageOut | None] = contextvars.ContextVar(
    "build_stage", default=None
)


class StageStreams:
    def __init__(self, emit: Emit, quiet: bool) -> None:
        self.emit = emit
        self.quiet = quiet
        self.step = 0  # the steps outside stages (global ARGs, --label)
        self.order: list[int] = []
        self.head_pos = 0
        self.done: dict[int, asyncio.Event] = {}
        self.outs: dict[int, _StageOut] = {}

    async def out(self, text: str) -> None:
        if self.quiet:
            return
        cur = _CURRENT.get()
        msg = {"stream": text}
        if cur is None or (self._head() == cur.index and not cur.flushing):
            await self.emit(msg)
        else:
            cur.buf.append(msg)

    def next_step(self) -> int:
        cur = _CURRENT.get()
        if cur is None:
            self.step += 1
            return self.step
        cur.step += 1
        return cur.step

    def begin(self, order: list[int], steps: dict[int, int]) -> None:
        """Stages `order` are about to run; `steps`: how many steps each has."""
        self.order = order
        self.head_pos = 0
        self.done = {i: asyncio.Event() for i in order}
        offset = self.step  # after the global ARGs
        for i in order:
            self.outs[i] = _StageOut(i, offset)
            offset += steps[i]
        self.step = offset

    def enter(self, index: int) -> None:
        """The calling task speaks for stage `index` from now on."""
        _CURRENT.set(self.outs[index])

    async def finished(self, index: int) -> None:
        self.done[index].set()
        await self._advance()

    async def flush_through(self, failed: int) -> None:
        """What the stages up to the failed one said up to the error."""
        for i in self.order[: self.order.index(failed) + 1]:
            while self.outs[i].buf:
                await self.emit(self.outs[i].buf.pop(0))

    def _head(self) -> int | None:
        return self.order[self.head_pos] if self.head_pos < len(self.order) else None

    async def _advance(self) -> None:
        """Hand the stream to the next stage in order, replaying what it buffered."""
        while self.head_pos < len(self.order) and self.done[self.order[self.head_pos]].is_set():
            self.head_pos += 1
            head = self._head()
            if head is not None:
                o = self.outs[head]
                o.flushing = True
                while o.buf:
                    await self.emit(o.buf.pop(0))
                o.flushing = False
