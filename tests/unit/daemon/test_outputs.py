"""Output subscriptions: bounded in bytes, and the monitor told when output is wanted."""

from __future__ import annotations

import asyncio

from dockyard.daemon.services import outputs
from dockyard.proto.stdcopy import Frame


def test_a_full_subscription_holds_the_reader_until_drained() -> None:
    async def run() -> None:
        fan = outputs.Fanout()
        s = fan.subscribe()
        other = fan.subscribe()
        for _ in range(8):
            fan.publish(Frame(1, b"x" * (outputs.LIMIT // 4)))
        assert s.full and other.full
        waiting = asyncio.ensure_future(outputs.room(fan))
        await asyncio.sleep(0)
        assert not waiting.done()
        fan.unsubscribe(other)  # a client that leaves holds no one back
        for _ in range(6):
            await s.get()
        await asyncio.sleep(0)
        assert not waiting.done()  # resumes below half the limit only
        await s.get()
        await asyncio.wait_for(waiting, 1)
        fan.end()
        assert (await s.get()) is not None
        assert (await s.get()) is None

    asyncio.run(run())


def test_the_monitor_is_told_when_output_is_wanted() -> None:
    told: list[bool] = []
    fan = outputs.Fanout()
    fan.link(told.append)
    assert told == [False]  # nobody attached: a monitor sends output until told
    s = fan.subscribe()
    with fan.following():
        fan.unsubscribe(s)
        assert told == [False, True]
    assert told == [False, True, False]
    fan.link(None)
    fan.subscribe()
    assert told == [False, True, False]
