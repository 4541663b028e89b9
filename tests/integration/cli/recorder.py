"""A unix-socket relay in front of a daemon that keeps the bytes clients send, so a
test can compare the request bodies two clients (docker's CLI and ours) make."""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path
from typing import Any

_REQUEST = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]\r\n(.*?)\r\n\r\n", re.S)


class Recorder:
    def __init__(self, upstream: str, path: Path) -> None:
        self.upstream = upstream
        self.path = path
        self._streams: list[bytearray] = []
        self._lock = threading.Lock()
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(str(path))
        self._server.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.upstream)
            sent = bytearray()
            with self._lock:
                self._streams.append(sent)
            threading.Thread(target=_pipe, args=(client, upstream, sent), daemon=True).start()
            threading.Thread(target=_pipe, args=(upstream, client, None), daemon=True).start()

    def requests(self) -> list[tuple[str, str, bytes]]:
        """(method, target, body) of every request seen so far."""
        out = []
        with self._lock:
            streams = [bytes(s) for s in self._streams]
        for data in streams:
            for match in _REQUEST.finditer(data):
                headers = match.group(3).decode("latin-1").lower()
                length = re.search(r"content-length: (\d+)", headers)
                body = data[match.end() : match.end() + int(length.group(1))] if length else b""
                out.append((match.group(1).decode(), match.group(2).decode(), body))
        return out

    def create_bodies(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Container name -> (request target, JSON body) of each POST /containers/create."""
        found = {}
        for method, target, body in self.requests():
            name = re.search(r"/containers/create\?(?:.*&)?name=([^&]+)", target)
            if method == "POST" and name:
                found[name.group(1)] = (target, json.loads(body))
        return found


def _pipe(src: socket.socket, dst: socket.socket, sent: bytearray | None) -> None:
    try:
        while data := src.recv(65536):
            if sent is not None:
                sent += data
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
