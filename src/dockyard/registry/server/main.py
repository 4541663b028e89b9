"""`dockyard-registry` / `dockyard registry`: serve and gc.

dockyard registry serve [config.yml] [--addr HOST:PORT] [--root DIR] [--read-only]
    [--htpasswd FILE] [--tls-cert F --tls-key F] [--proxy URL]
dockyard registry gc [config.yml] [--root DIR] [--dry-run] [--delete-untagged]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys

from aiohttp import web

from dockyard.registry.server.app import RegistryApp
from dockyard.registry.server.config import Config, from_yaml
from dockyard.registry.server.driver import FilesystemDriver
from dockyard.registry.server.storage import RegistryStorage

log = logging.getLogger("dockyard.registry")


def load_config(args: argparse.Namespace) -> Config:
    if args.config:
        with open(args.config) as f:
            c = from_yaml(f.read())
    else:
        c = Config()
    if getattr(args, "addr", None):
        c.addr = args.addr
    if args.root:
        c.root = args.root
    if getattr(args, "read_only", False):
        c.read_only = True
    if getattr(args, "htpasswd", None):
        c.htpasswd = args.htpasswd
    if getattr(args, "tls_cert", None):
        c.tls_cert, c.tls_key = args.tls_cert, args.tls_key
    if getattr(args, "rate_limit", None):
        rate, _, burst = args.rate_limit.partition(":")
        c.rate, c.burst = float(rate), int(burst or 0)
    if getattr(args, "proxy", None):
        c.proxy = {"remoteurl": args.proxy}
    return c


def build_app(c: Config) -> web.Application:
    storage = RegistryStorage(FilesystemDriver(c.root), delete_enabled=c.delete_enabled)
    authorizer = None
    if c.htpasswd or c.token:
        from dockyard.registry.server.auth import from_config

        authorizer = from_config(c)
    proxy = None
    if c.proxy.get("remoteurl"):
        from dockyard.registry.server.proxy import ProxyCache

        proxy = ProxyCache(storage, c.proxy)
    limiter = None
    if c.rate > 0:
        from dockyard.registry.server.ratelimit import TokenBuckets

        limiter = TokenBuckets(c.rate, c.burst or max(1, int(c.rate)))
    return RegistryApp(
        storage, authorizer, read_only=c.read_only, proxy=proxy, limiter=limiter
    ).make_app()


async def serve(c: Config) -> None:
    app = build_app(c)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    host, port = c.host_port
    ctx = None
    if c.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(c.tls_cert, c.tls_key)
    elif host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("serving plain HTTP on %s: clients will need it as an insecure registry", host)
    site = web.TCPSite(runner, host, port, ssl_context=ctx, reuse_address=True)
    await site.start()
    log.info("listening on %s (storage %s)", c.addr, c.root)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="dockyard registry")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the registry server")
    s.add_argument("config", nargs="?")
    s.add_argument("--addr")
    s.add_argument("--root")
    s.add_argument("--read-only", action="store_true")
    s.add_argument("--htpasswd")
    s.add_argument("--tls-cert")
    s.add_argument("--tls-key")
    s.add_argument("--proxy", help="remote registry URL: run as a pull-through cache")
    s.add_argument("--rate-limit", help="RATE[:BURST] requests a second per client (429 above)")
    s.add_argument("--log-level", default="info")
    g = sub.add_parser("gc", help="mark and sweep unreferenced blobs")
    g.add_argument("config", nargs="?")
    g.add_argument("--root")
    g.add_argument("--dry-run", "-d", action="store_true")
    g.add_argument("--delete-untagged", "-m", action="store_true")
    g.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    c = load_config(args)
    if args.cmd == "serve":
        asyncio.run(serve(c))
    else:
        from dockyard.registry.server.gc import collect

        storage = RegistryStorage(FilesystemDriver(c.root), delete_enabled=True)
        res = collect(storage, dry_run=args.dry_run, delete_untagged=args.delete_untagged)
        for line in res:
            print(line)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
