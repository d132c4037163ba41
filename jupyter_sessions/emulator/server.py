"""Run the emulator as a process: ``jupyter-sessions emulator [options]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
from datetime import timedelta
from pathlib import Path

from .._version import __version__
from ..api.defaults import default_creator, default_data_dir, is_loopback

log = logging.getLogger("jupyter_sessions.emulator")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    p.add_argument("--db", default=None, help="SQLite file (default: Jupyter data dir)")
    p.add_argument(
        "--db-max-pages",
        type=int,
        default=None,
        metavar="N",
        help="cap the database at N pages (of 4 KiB), to try out a full disk",
    )
    p.add_argument(
        "--runtime",
        choices=["kernel", "simulated"],
        default="kernel",
        help="kernel runs a real IPython kernel per session; simulated uses timers",
    )
    p.add_argument(
        "--warm-pool", type=int, default=1, help="pre-started kernels kept ready (kernel runtime)"
    )
    p.add_argument(
        "--ttl-floor",
        type=float,
        default=600.0,
        help="smallest ttl/idleTtl accepted, in seconds (the API's is 600; lower it for tests)",
    )
    p.add_argument("--tick", type=float, default=1.0, help="seconds between TTL/health checks")
    p.add_argument(
        "--usage-interval", type=float, default=30.0, help="seconds between usage refreshes"
    )
    p.add_argument("--start-delay", type=float, default=0.0, help="simulated start delay (s)")
    p.add_argument("--stop-delay", type=float, default=0.0, help="simulated stop delay (s)")
    p.add_argument("--creator", default=None, help="creator reported on new sessions")
    p.add_argument(
        "--require-token",
        default=None,
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on every API call (401 otherwise); "
        "@PATH reads the token from a file (re-read on each request; keep it mode 0600). "
        "Without it any local process or user can use the API",
    )
    p.add_argument(
        "--record-requests",
        default=None,
        metavar="PATH",
        help="append each API request's method, path, requestId, auth headers (the token "
        "only as a fingerprint) and whether the token was accepted, as JSON lines",
    )
    p.add_argument(
        "--deny",
        action="append",
        default=[],
        metavar="METHOD",
        help="(testing) answer METHOD, e.g. sessions.create, with 403 PERMISSION_DENIED "
        "naming its IAM permission; repeatable",
    )
    p.add_argument(
        "--fail-next",
        action="append",
        default=[],
        metavar="N:CODE[:METHOD][:RETRY_AFTER]",
        help="(testing) answer the next N API calls (of METHOD, e.g. sessions.create, or of "
        "any method) with HTTP CODE (429, 503, ...), with a Retry-After header when given; "
        "repeatable",
    )
    p.add_argument(
        "--gateway-parent",
        default="projects/local-project/locations/local",
        metavar="projects/P/locations/L",
        help="where kernels started through the kernel gateway at /api/ create their sessions "
        "(other parents: /gateway/projects/P/locations/L/api/...)",
    )
    p.add_argument(
        "--kernel-start-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="how long POST /api/kernels waits for its session to become ACTIVE",
    )
    p.add_argument(
        "--keep-runtimes",
        action="store_true",
        help="on shutdown leave runtimes running, to be re-adopted by the next start",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address and any Host header (the API has no "
        "authentication unless --require-token is given)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name accepted in the Host header besides localhost and loopback "
        "addresses (repeatable; '*' accepts any); other names get 403, so a web page cannot "
        "reach the API through DNS rebinding",
    )
    p.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        metavar="PID",
        help="exit when process PID (the Jupyter server that started this emulator) exits, "
        "leaving session runtimes running for the next start to re-adopt",
    )
    p.add_argument("--ready-file", default=None, help="write {url, port, pid} here once serving")
    p.add_argument(
        "--tls-cert",
        default=None,
        metavar="PEM",
        help="serve HTTPS with this certificate (chain), e.g. to play Dataproc behind a proxy",
    )
    p.add_argument("--tls-key", default=None, metavar="PEM", help="the certificate's key")
    from .runtimes.session_python import add_arguments as add_session_python_arguments

    add_session_python_arguments(p)
    p.add_argument("--log-level", default="INFO")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="[%(asctime)s %(name)s %(levelname)s] %(message)s",
    )
    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"error: refusing to bind {args.host}: the emulator API is meant for this machine "
            "only; pass --allow-remote to bind it anyway",
            file=sys.stderr,
        )
        return 2
    from .faults import Faults

    try:
        Faults(args.deny, args.fail_next)
    except ValueError as exc:
        print(f"error: --fail-next: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


async def _serve(args: argparse.Namespace) -> int:
    import tornado.httpserver

    from .app import make_app
    from .auth import make_authenticator
    from .engine import EngineConfig, SessionService
    from .faults import Faults
    from .guard import ANY_HOST, DEFAULT_ALLOWED_HOSTS
    from .lock import DatabaseLock, DatabaseLocked
    from .runtimes.base import Runtime
    from .store import SchemaTooNew, SessionStore

    db = Path(args.db) if args.db else default_data_dir() / "emulator.sqlite"
    try:
        lock = DatabaseLock(db).acquire()  # held until this process exits
    except DatabaseLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    try:
        store = SessionStore(db, max_pages=args.db_max_pages)
    except SchemaTooNew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runtime: Runtime
    if args.runtime == "kernel":
        from .runtimes.kernel import KernelRuntime
        from .runtimes.session_python import parse_pythons, spark_support

        try:
            python, pythons = parse_pythons(args.session_python)
        except ValueError as exc:
            print(f"error: --session-python: {exc}", file=sys.stderr)
            return 2
        runtime = KernelRuntime(
            db.parent / f"{db.stem}-runtime",
            warm_pool=args.warm_pool,
            python=python,
            pythons=pythons,
            spark=spark_support(args.spark, python),
        )
        from .runtimes.connect import SessionRuntime, SparkConnectRuntime

        runtime = SessionRuntime(runtime, SparkConnectRuntime(db.parent / f"{db.stem}-runtime"))
    else:
        from .runtimes.simulated import SimulatedRuntime

        runtime = SimulatedRuntime(args.start_delay, args.stop_delay)
    config = EngineConfig(
        creator=args.creator or default_creator(),
        min_ttl=timedelta(seconds=args.ttl_floor),
        tick_seconds=args.tick,
        usage_interval=args.usage_interval,
        stop_runtimes_on_close=not args.keep_runtimes,
    )
    faults = Faults(args.deny, args.fail_next)
    service = SessionService(store, runtime, config)
    await service.open()
    allowed_hosts = {*DEFAULT_ALLOWED_HOSTS, *(h.lower() for h in args.allowed_host)}
    if args.allow_remote:
        allowed_hosts.add(ANY_HOST)
    app = make_app(
        service,
        authenticate=make_authenticator(args.require_token, args.record_requests),
        faults=faults if faults else None,
        allowed_hosts=frozenset(allowed_hosts),
        gateway_parent=args.gateway_parent,
        kernel_start_timeout=args.kernel_start_timeout,
    )
    ssl_options = None
    if args.tls_cert:
        import ssl

        ssl_options = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_options.load_cert_chain(args.tls_cert, args.tls_key or None)
    server = tornado.httpserver.HTTPServer(
        app, max_body_size=4 * 1024 * 1024, ssl_options=ssl_options
    )
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sockets = tornado.netutil.bind_sockets(args.port, args.host, family=family)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"{'https' if ssl_options else 'http'}://{host}:{port}"
    lock.update(url=url, parentPid=args.parent_pid)
    if args.ready_file:
        tmp = Path(args.ready_file + ".tmp")
        tmp.write_text(json.dumps({"url": url, "port": port, "pid": os.getpid()}))
        tmp.replace(args.ready_file)
    log.info(
        "jupyter-sessions emulator %s serving %s/v1 (runtime %s, database %s)",
        __version__,
        url,
        args.runtime,
        db,
    )
    if args.require_token is None:
        log.warning(
            "No --require-token: any local process or user can use this API. To require "
            "'Authorization: Bearer TOKEN', pass --require-token @FILE (a file only you can "
            "read, holding the token)"
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent_gone = asyncio.Event()
    watch = (
        loop.create_task(_watch_parent(args.parent_pid, parent_gone, stop))
        if args.parent_pid
        else None
    )
    await stop.wait()
    if watch is not None:
        watch.cancel()
    if parent_gone.is_set():
        # A crashed server must not leave its emulator behind; its sessions' kernels stay
        # up for the emulator of the next server to re-adopt.
        log.warning(
            "The process that started this emulator (pid %s) is gone; shutting down and "
            "leaving session runtimes for the next start to re-adopt",
            args.parent_pid,
        )
        service.config.stop_runtimes_on_close = False
    else:
        log.info("Shutting down")
    server.stop()
    await service.close()
    store.close()
    lock.release()
    return 0


async def _watch_parent(pid: int, gone: asyncio.Event, stop: asyncio.Event) -> None:
    """Set ``gone`` and ``stop`` once process ``pid`` has exited."""
    from .lock import process_alive

    # Our own parent: once it dies we are re-parented, which pid reuse cannot fake.
    own_parent = os.getppid() == pid
    while not stop.is_set():
        if os.getppid() != pid if own_parent else not process_alive(pid):
            gone.set()
            stop.set()
            return
        await asyncio.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jupyter-sessions emulator")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
