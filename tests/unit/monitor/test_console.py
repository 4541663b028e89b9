"""The monitor's console socket and resize against real ptys and sockets,
and the runtime's side of the protocol (`dockyard.runtime.console`)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from dockyard.monitor import console


def test_receive_gets_the_master_the_runtime_sent(tmp_path: Path) -> None:
    cs = console.ConsoleSocket(str(tmp_path / "c.sock"))
    master, slave = os.openpty()
    try:
        # What the runtime does: connect, send one message holding the master.
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        peer.connect(cs.path)
        socket.send_fds(peer, [b"/dev/ptmx"], [master])
        peer.close()
        got = cs.receive(timeout=2)
        try:
            assert not os.get_inheritable(got)
            assert not os.get_blocking(got)
            os.write(slave, b"hello from the slave\n")
            assert b"hello from the slave" in os.read(got, 100)
            console.resize(got, 33, 101)
            assert console.size(slave) == (33, 101)
        finally:
            os.close(got)
    finally:
        os.close(master)
        os.close(slave)
        cs.close()
    assert not os.path.exists(cs.path)


def test_receive_times_out_when_nothing_comes(tmp_path: Path) -> None:
    cs = console.ConsoleSocket(str(tmp_path / "c.sock"))
    try:
        with pytest.raises(OSError, match="no console"):
            cs.receive(timeout=0.1)
    finally:
        cs.close()


def test_resize_rejects_zero_sizes() -> None:
    master, slave = os.openpty()
    try:
        with pytest.raises(ValueError):
            console.resize(master, 0, 80)
    finally:
        os.close(master)
        os.close(slave)
