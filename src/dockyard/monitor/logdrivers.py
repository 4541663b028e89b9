"""The log a monitor writes a container's output to (`open_log`): the json-file
log (`jsonlog.Writer`, which `docker logs` reads), and for the syslog and journald
drivers a remote copy too (dockerd's dual logging keeps the local one).

The journald driver (`JournalSink`): each line is one entry sent as a datagram on
journald's socket in sd_journal's native protocol (`FIELD=value` lines; a value
holding a newline as `FIELD`, newline, its length in 64-bit little endian, the
value, newline), with the fields the daemon gives (dockerd's) plus MESSAGE and
PRIORITY (6 for stdout, 3 for stderr). A datagram that the socket refuses (journald
gone, or busy) is dropped: the container must not wait on the journal.

The syslog driver: each line of a container's
output is one syslog message, formatted as dockerd's driver (srslog) formats it:

- default (`syslog-format` unset): `<PRI>Mmm dd hh:mm:ss TAG[PID]: LINE` (the unix formatter)
- `rfc3164`: `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: LINE`
- `rfc5424` / `rfc5424micro`: `<PRI>1 TIME HOST TAG PID TAG - LINE`

PRI is facility * 8 + severity (stdout: info, stderr: err); PID is the daemon's.
A message ends in a newline (srslog adds it). The connection is made when the
monitor starts; sockets only (the stdlib has no dependency to pick), so the
zygote-forked monitor imports nothing new. `tcp+tls://` wraps the TCP connection
with the stdlib's ssl (imported only then), verified as Go's crypto/tls verifies it
(the `syslog-tls-ca-cert` or the system's CAs, the address's host or IP checked,
unless `syslog-tls-skip-verify`; a client certificate from `syslog-tls-cert/-key`);
there rfc5424 messages are framed by octet counting (RFC 5425: `LEN MSG`), as
dockerd's driver frames them.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from typing import Any, Protocol

from dockyard.monitor import jsonlog

_INFO, _ERR = 6, 3


def _stamp() -> str:
    # Go's time.Stamp: "Jan _2 15:04:05" (day padded with a space)
    t = time.localtime()
    return time.strftime("%b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S", t)


def _rfc3339(micro: bool) -> str:
    now = time.time()
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))
    off = time.strftime("%z", time.localtime(now))
    tz = "Z" if off in ("+0000", "-0000") else f"{off[:3]}:{off[3:]}"
    return base + (f".{int(now % 1 * 1e6):06d}".rstrip("0").rstrip(".") if micro else "") + tz


def _tls(s: socket.socket, host: str, tls: dict[str, Any]) -> socket.socket:
    import ssl

    ctx = ssl.create_default_context(cafile=tls.get("ca") or None)
    if tls.get("skip_verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.get("cert"):
        ctx.load_cert_chain(tls["cert"], tls.get("key") or None)
    try:
        return ctx.wrap_socket(s, server_hostname=host)
    except BaseException:
        s.close()
        raise


def connect(address: str, tls: dict[str, Any] | None = None) -> tuple[socket.socket, bool]:
    """(socket, is_stream) for a `syslog-address` (unix://, unixgram://, tcp://,
    tcp+tls://, udp://), or the local syslog (/dev/log, /var/run/syslog) when empty."""
    if not address:
        for path in ("/dev/log", "/var/run/syslog", "/var/run/log"):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_UNIX, kind)
                try:
                    s.connect(path)
                    return s, kind == socket.SOCK_STREAM
                except OSError:
                    s.close()
        raise OSError("Unix syslog delivery error")
    proto, _, rest = address.partition("://")
    if proto in ("unix", "unixgram"):
        kind = socket.SOCK_STREAM if proto == "unix" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_UNIX, kind)
        try:
            s.connect(rest)
        except OSError:
            s.close()
            raise
        return s, proto == "unix"
    host, _, port = rest.rpartition(":")
    kind = socket.SOCK_STREAM if proto in ("tcp", "tcp+tls") else socket.SOCK_DGRAM
    s = socket.create_connection((host, int(port))) if kind == socket.SOCK_STREAM else None
    if s is not None and proto == "tcp+tls":
        return _tls(s, host.strip("[]"), tls or {}), True
    if s is None:
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)
        s.connect((host, int(port)))
    return s, kind == socket.SOCK_STREAM


class Sink:
    """Writes runs of lines (as `jsonlog.Writer.write_run` gets them) to syslog."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        address = cfg.get("address") or ""
        self.sock, self.stream = connect(address, cfg.get("tls"))
        self.facility = int(cfg.get("facility", 3))
        self.tag = cfg.get("tag") or ""
        self.format = cfg.get("format") or ""
        self.pid = int(cfg.get("pid") or 0)
        self.host = socket.gethostname()
        self.octet_counting = address.startswith("tcp+tls://") and self.format.startswith("rfc5424")

    def _message(self, severity: int, line: str) -> bytes:
        pri = self.facility * 8 + severity
        if self.format.startswith("rfc5424"):
            when = _rfc3339(self.format == "rfc5424micro")
            text = f"<{pri}>1 {when} {self.host} {self.tag} {self.pid} {self.tag} - {line}"
        elif self.format == "rfc3164":
            text = f"<{pri}>{_stamp()} {self.host} {self.tag}[{self.pid}]: {line}"
        else:
            text = f"<{pri}>{_stamp()} {self.tag}[{self.pid}]: {line}"
        msg = (text if text.endswith("\n") else text + "\n").encode()
        return b"%d %s" % (len(msg), msg) if self.octet_counting else msg

    def write_run(self, stream: str, run: bytes) -> None:
        severity = _INFO if stream == "stdout" else _ERR
        lines = run.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for line in lines:
            msg = self._message(severity, line.decode("utf-8", errors="replace"))
            if self.stream:
                self.sock.sendall(msg)
            else:
                self.sock.send(msg)

    def close(self) -> None:
        self.sock.close()


def journal_entry(fields: dict[str, str]) -> bytes:
    """sd_journal's native protocol for one entry."""
    out = bytearray()
    for key, value in fields.items():
        data = value.encode("utf-8", errors="replace")
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


class JournalSink:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.connect(cfg["socket"])
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.fields = dict(cfg.get("fields") or {})

    def write_run(self, stream: str, run: bytes) -> None:
        priority = str(_INFO if stream == "stdout" else _ERR)
        lines = run.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for line in lines:
            entry = {"MESSAGE": line.decode("utf-8", errors="replace"), "PRIORITY": priority}
            try:
                self.sock.send(journal_entry({**entry, **self.fields}))
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


class Tee:
    """The local copy (`docker logs` reads it: dockerd's dual logging) and a remote driver."""

    def __init__(self, *sinks: Any) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def write_run(self, stream: str, run: bytes) -> None:
        for s in self.sinks:
            s.write_run(stream, run)

    def close(self) -> None:
        for s in self.sinks:
            s.close()


class Log(Protocol):
    def write_run(self, stream: str, run: bytes) -> None: ...

    def close(self) -> None: ...


def open_log(cfg: dict[str, Any], warn: Callable[[str], None]) -> Log | None:
    """The monitor config's log: `log_path` and `log_opts` (rotation), `syslog`."""
    local = None
    if cfg.get("log_path"):
        opts = cfg.get("log_opts") or {}
        local = jsonlog.Writer(
            cfg["log_path"],
            int(opts.get("max_size") or 0),
            int(opts.get("max_file") or 1),
            bool(opts.get("compress")),
        )
    if cfg.get("journald"):
        try:
            return Tee(local, JournalSink(cfg["journald"]))
        except OSError as exc:  # the host's loop must not see it; the local log goes on
            warn(f"journald: {exc}")
            return local
    if not cfg.get("syslog"):
        return local
    try:
        return Tee(local, Sink(cfg["syslog"]))
    except OSError as exc:  # the host's loop must not see it; the local log goes on
        warn(f"syslog: {exc}")
        return local
