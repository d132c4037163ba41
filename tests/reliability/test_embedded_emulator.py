"""The embedded emulator as its Jupyter server runs it: only that server holds its token,
one emulator per data dir across server crashes, reads that survive an emulator crash,
and the proxy and event stream stopping bad input before it reaches the backend."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..server.conftest import sessions_config
from ..support import PARENT, JupyterServerProcess, pid_alive, wait_for
from .harness import Reply, assert_envelope, record_figures

API = "jupyter-sessions/v1/"
QUICK_EMULATOR = ["--start-delay", "0.2", "--stop-delay", "0.2", "--ttl-floor", "1"]


def envelope(r: httpx.Response) -> dict[str, Any]:
    return assert_envelope(Reply(r.status_code, dict(r.headers), r.content))


def database_of(server: JupyterServerProcess) -> Path:
    return server.data_dir / "jupyter_sessions" / "emulator.sqlite"


def emulators_on(db: Path) -> list[int]:
    """Pids of the emulator processes running on ``db`` (from their command lines)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"emulator" in argv and str(db).encode() in argv and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def routes(server: JupyterServerProcess) -> dict[str, int]:
    """Requests the embedded emulator received, by route ("GET unknown": refused early)."""
    with server.emulator() as c:
        return dict(c.get("emulator/stats").json()["requests"])


def backend_calls(server: JupyterServerProcess) -> int:
    """API calls the embedded emulator received (its health and stats excluded)."""
    counts = routes(server)
    return sum(n for route, n in counts.items() if not route.endswith(("/healthz", "/stats")))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    proc = JupyterServerProcess(
        tmp_path_factory.mktemp("embedded"), config=sessions_config(emulator_args=QUICK_EMULATOR)
    ).start()
    yield proc
    proc.stop()


# --- the token ----------------------------------------------------------------------------


def test_embedded_emulator_answers_only_its_server(server: JupyterServerProcess) -> None:
    """Given the extension's embedded emulator, a request straight to its port without
    the token, or with another one, gets 401 UNAUTHENTICATED and reaches nothing; the
    token lives in a file only the user can read, is not published by
    jupyter-sessions/config, and the proxy (Jupyter's own auth) works as before."""
    config = server.config()
    token = server.emulator_token_file.read_text().strip()
    assert len(token) >= 32 and token not in str(config)
    assert stat.S_IMODE(server.emulator_token_file.stat().st_mode) == 0o600
    before = routes(server)
    with httpx.Client(base_url=config["endpoint"], timeout=10.0) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            for method, path in (
                ("GET", f"v1/{PARENT}/sessions"),
                ("POST", f"v1/{PARENT}/sessions?sessionId=intruder"),
                ("GET", "v1/openapi.json"),
            ):
                r = c.request(method, path, headers=headers, json={} if method == "POST" else None)
                assert r.status_code == 401, (headers, path, r.text)
                assert envelope(r)["status"] == "UNAUTHENTICATED"
        assert c.get("healthz").json()["status"] == "ok"  # the supervisor's probe
    with server.client() as c:
        assert c.get(f"{API}{PARENT}/sessions/intruder").status_code == 404
        assert c.get(f"{API}{PARENT}/sessions").status_code == 200
    after = routes(server)
    # Only the proxied calls reached an API method; the others were refused at the door.
    assert after.get("GET sessions.get", 0) == before.get("GET sessions.get", 0) + 1
    assert after.get("GET sessions.list", 0) == before.get("GET sessions.list", 0) + 1
    assert after.get("POST sessions.create", 0) == before.get("POST sessions.create", 0)


# --- bad input stops at the extension -----------------------------------------------------------


def test_oversized_body_through_the_proxy_is_413(server: JupyterServerProcess) -> None:
    """Given a 6 MiB body (the emulator's limit is 4 MiB), the proxy answers 413 in the
    envelope at once and forwards nothing; a body under the limit still reaches it."""
    before = backend_calls(server)
    big = b'{"description": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    with server.client() as c:
        r = c.post(
            f"{API}{PARENT}/sessionTemplates",
            content=big,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413, r.text[:300]
        err = envelope(r)
        assert "too large" in err["message"] and str(4 * 1024 * 1024) in err["message"]
        assert backend_calls(server) == before
        small = c.post(f"{API}{PARENT}/sessionTemplates", json={"description": "x" * 1000})
        assert small.status_code == 400  # the emulator's own answer: a name is required
    assert backend_calls(server) == before + 1


@pytest.mark.parametrize(
    "parent",
    [
        "projects/p/locations/l/sessions",
        "projects/p/locations/l/../../x",
        "projects/p\n/locations/l",
        "projects/p%2Fx/locations/l",
        "projects/P/locations/l",
        "projects/p q/locations/l",
        "projects/p/locations/l?pageSize=1",
        "projects/p/locations/l#x",
        "projects//locations/l",
        "v1/projects/p/locations/l",
        "projects/p/locations/L",
    ],
)
def test_bad_parent_on_the_event_stream_is_400_and_reaches_nothing(
    server: JupyterServerProcess, parent: str
) -> None:
    """Given a parent the proxy's rules refuse, the event stream answers 400
    INVALID_ARGUMENT at once and the backend receives no request at all."""
    before = backend_calls(server)
    with (
        server.client() as c,
        c.stream("GET", "jupyter-sessions/events", params={"parent": parent}) as r,
    ):
        assert r.status_code == 400, parent  # (a stream that opened would never end)
        r.read()
    assert envelope(r)["status"] == "INVALID_ARGUMENT"
    time.sleep(0.3)  # a Watcher started by mistake would have polled by now
    assert backend_calls(server) == before


# --- reads across an emulator crash ------------------------------------------------------------


@dataclass
class Reads:
    done: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, status
    failures: list[str] = field(default_factory=list)


async def _read_forever(
    server: JupyterServerProcess, names: list[str], reads: Reads, stop: asyncio.Event, workers: int
) -> None:
    headers = {"Authorization": f"token {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60.0) as c:

        async def worker(w: int) -> None:
            for n in itertools.count(w):
                if stop.is_set():
                    return
                path = f"{API}{PARENT}/sessions" if n % 2 else API + names[n % len(names)]
                started = time.monotonic()
                try:
                    r = await c.get(path, params={"pageSize": 100} if n % 2 else None)
                    status = r.status_code
                    if status != 200:
                        reads.failures.append(f"{path}: {status} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    status = 0
                    reads.failures.append(f"{path}: {exc!r}")
                reads.done.append((started, time.monotonic(), status))

        await asyncio.gather(*(worker(w) for w in range(workers)))


def reads_across_crashes(workdir: Path, crashes: int, stress: bool) -> None:
    server = JupyterServerProcess(
        workdir, config=sessions_config(emulator_args=QUICK_EMULATOR)
    ).start()
    kills: list[float] = []
    reads = Reads()
    try:
        with server.client() as c:
            names = []
            for i in range(30):
                r = c.post(f"{API}{PARENT}/sessions", params={"sessionId": f"read-{i:02d}"})
                assert r.status_code == 200, r.text
                names.append(r.json()["metadata"]["session"])

        async def run() -> None:
            stop = asyncio.Event()
            load = asyncio.ensure_future(_read_forever(server, names, reads, stop, workers=6))
            for _ in range(crashes):
                await asyncio.sleep(1.0)
                with server.emulator() as e:
                    pid = e.get("healthz").json()["pid"]
                # Hung first, so that reads are surely in flight inside it when it dies.
                os.kill(pid, signal.SIGSTOP)
                await asyncio.sleep(0.5)
                os.kill(pid, signal.SIGKILL)
                kills.append(time.monotonic())

                def restarted(old: int = pid) -> bool:
                    try:
                        with server.emulator() as e:
                            return e.get("healthz").json()["pid"] != old
                    except httpx.HTTPError:
                        return False

                await asyncio.to_thread(wait_for, restarted, 60, 0.1, "emulator restarted")
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.wait_for(load, 60)

        asyncio.run(run())
    finally:
        server.stop()
    in_flight = sum(1 for start, end, _ in reads.done if any(start < k < end for k in kills))
    retried = server.log_path.read_text().count("reading again")
    record_figures(
        f"reads-across-{crashes}-emulator-crashes",
        {
            "reads": len(reads.done),
            "in_flight_at_a_crash": in_flight,
            "read_again": retried,
            "failed": len(reads.failures),
        },
        write=stress,
    )
    assert not reads.failures, reads.failures[:5]
    assert in_flight >= crashes, (in_flight, kills)
    assert retried >= 1  # some of them were really read again across a restart


def test_read_in_flight_across_an_emulator_crash_succeeds(tmp_path: Path) -> None:
    """Given reads through the proxy running all the time, when the embedded emulator is
    killed -9 and the supervisor restarts it, every read answers 200: those in flight or
    sent meanwhile are read again from the restarted emulator."""
    reads_across_crashes(tmp_path, crashes=1, stress=False)


@pytest.mark.stress
def test_reads_across_five_emulator_crashes(tmp_path: Path) -> None:
    reads_across_crashes(tmp_path, crashes=5, stress=True)


# --- one emulator per data dir across server crashes ------------------------------------------


@dataclass
class Acked:
    """What the extension acknowledged (HTTP 200) before its server was killed."""

    created: set[str] = field(default_factory=set)
    terminated: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    delete_sent: set[str] = field(default_factory=set)  # acknowledged or not
    requests: int = 0


async def _load(server: JupyterServerProcess, acked: Acked, workers: int) -> None:
    """Workers creating, terminating and deleting their own sessions through the proxy
    until the server goes away."""
    headers = {"Authorization": f"token {server.token}"}
    limits = httpx.Limits(max_connections=workers)
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, timeout=10.0, limits=limits
    ) as client:

        async def worker(w: int) -> None:
            mine: list[str] = []
            for n in itertools.count():
                try:
                    if not mine or (n % 3 == 0 and len(mine) < 4):
                        sid = f"w{w}-{n}-{uuid.uuid4().hex[:4]}"
                        r = await client.post(f"{API}{PARENT}/sessions", params={"sessionId": sid})
                        if r.status_code == 200:
                            name = r.json()["metadata"]["session"]
                            acked.created.add(name)
                            mine.append(name)
                    else:
                        name = mine[n % len(mine)]
                        state = (await client.get(API + name)).json().get("state")
                        if state == "ACTIVE":
                            r = await client.post(f"{API}{name}:terminate", json={})
                            if r.status_code == 200:
                                acked.terminated.add(name)
                        elif state in ("TERMINATED", "FAILED"):
                            acked.delete_sent.add(name)
                            r = await client.delete(API + name)
                            if r.status_code == 200:
                                acked.deleted.add(name)
                                mine.remove(name)
                    acked.requests += 1
                except httpx.TransportError:
                    return  # the server is gone: what it acknowledged is recorded

        await asyncio.gather(*(worker(w) for w in range(workers)))


def kill9_server_under_load(workdir: Path, rounds: int, seconds: float, stress: bool) -> None:
    config = sessions_config(emulator_args=QUICK_EMULATOR)
    acked = Acked()
    server = JupyterServerProcess(workdir, config=config).start()
    db = database_of(server)
    try:
        for _ in range(rounds):
            with server.emulator() as e:
                emulator_pid = e.get("healthz").json()["pid"]

            async def run(target: JupyterServerProcess = server) -> None:
                load = asyncio.ensure_future(_load(target, acked, workers=6))
                await asyncio.sleep(seconds)
                assert target.proc is not None
                target.proc.send_signal(signal.SIGKILL)  # requests in flight
                await asyncio.wait_for(load, 30)

            asyncio.run(run())
            assert server.proc is not None and server.proc.wait(10) == -signal.SIGKILL
            # Its emulator goes by itself (it watches the server that started it)...
            wait_for(lambda p=emulator_pid: not pid_alive(p), 15, what="orphaned emulator exit")
            # ... and a new server on the same data dir runs exactly one.
            server = JupyterServerProcess(workdir, config=config).start()
            assert server.config()["backend"] == "local"
            running = server_emulator_pid(server)
            assert emulators_on(db) == [running]
        assert acked.created and acked.terminated and acked.deleted, acked
        with server.client() as c:
            for name in sorted(acked.created):
                r = c.get(API + name)
                if name in acked.deleted:
                    assert r.status_code == 404, (name, r.text)
                    continue
                if name in acked.delete_sent and r.status_code == 404:
                    continue  # deleted, though the answer was lost with the server
                assert r.status_code == 200, (name, r.text)
                if name in acked.terminated:
                    wait_for(lambda n=name: c.get(API + n).json()["state"] != "TERMINATING", 30)
                    # An acknowledged terminate ends TERMINATED, never overwritten.
                    assert c.get(API + name).json()["state"] == "TERMINATED", name
        running = server_emulator_pid(server)
        assert emulators_on(db) == [running]
    finally:
        server.stop()
    wait_for(lambda: not emulators_on(db), 30, what="no emulator after the last stop")
    record_figures(
        f"server-kill9-x{rounds}",
        {
            "server_kills_survived": rounds,
            "requests": acked.requests,
            "creates_acked": len(acked.created),
            "terminates_acked": len(acked.terminated),
            "deletes_acked": len(acked.deleted),
            "acked_changes_lost": 0,  # asserted above
            "emulators_running_after_each_restart": 1,
        },
        write=stress,
    )


def server_emulator_pid(server: JupyterServerProcess) -> int:
    with server.emulator() as e:
        return int(e.get("healthz").json()["pid"])


def test_kill9_of_the_server_under_load_loses_nothing_and_leaves_one_emulator(
    tmp_path: Path,
) -> None:
    """Given a Jupyter server under concurrent creates, terminates and deletes through
    its proxy, when the server is killed -9 and a new one starts on the same data dir,
    then the old emulator exits by itself, exactly one emulator runs, every acknowledged
    create is there (or deleted, if that was acknowledged) and every acknowledged
    terminate ends TERMINATED."""
    kill9_server_under_load(tmp_path, rounds=1, seconds=2.0, stress=False)


@pytest.mark.stress
def test_kill9_of_the_server_three_times_under_load(tmp_path: Path) -> None:
    kill9_server_under_load(tmp_path, rounds=3, seconds=5.0, stress=True)


# --- leftovers ----------------------------------------------------------------------------------

HOLDER = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"pid": os.getpid(), "parentPid": int(sys.argv[2])}).encode())
print("held", flush=True)
time.sleep(120)
"""


def hold_database(db: Path, parent_pid: int) -> subprocess.Popen[str]:
    """A process that holds ``db``'s lock and says it was started by ``parent_pid``."""
    db.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db) + ".lock", str(parent_pid)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_supervisor_stops_what_a_crashed_server_left_and_spares_a_live_ones(
    tmp_path: Path,
) -> None:
    """Given the database held by the emulator of a server that is gone (and that does
    not leave by itself), a new server stops it and starts its own; given it held by the
    emulator of a server that is alive, the new server leaves it alone and says why
    (503), and starts its own once that one is gone."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    config = sessions_config(emulator_args=QUICK_EMULATOR)
    first = JupyterServerProcess(tmp_path / "a", config=config)
    leftover = hold_database(database_of(first), gone.pid)
    try:
        first.start()
        assert first.config()["backend"] == "local"
        assert leftover.wait(30) == -signal.SIGTERM
        assert "a Jupyter server that is gone" in first.log_path.read_text()
        running = server_emulator_pid(first)
        assert emulators_on(database_of(first)) == [running]
    finally:
        first.stop()
        leftover.kill()
    second = JupyterServerProcess(tmp_path / "b", config=config)
    alive = hold_database(database_of(second), os.getpid())  # "another live server"
    try:
        second.start()
        with second.client() as c:
            r = c.get(f"{API}{PARENT}/sessions")
        assert r.status_code == 503, r.text
        message = envelope(r)["message"]
        assert "another running Jupyter server" in message and str(alive.pid) in message
        assert alive.poll() is None  # not ours to stop
        alive.kill()
        alive.wait(10)
        with second.client() as c:
            assert c.get(f"{API}{PARENT}/sessions").status_code == 200
    finally:
        second.stop()
        alive.kill()
