"""Faults: the emulator killed under load, the backend gone under live subscribers, a
backend slower than the timeout, a database that is full."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..server.conftest import sessions_config
from ..support import (
    PARENT,
    EmulatorProcess,
    JupyterServerProcess,
    SseRecorder,
    wait_for,
    wait_state,
)
from .conftest import QUICK, wait_listening
from .harness import (
    Reply,
    assert_envelope,
    integrity_check,
    record_figures,
    stored_names,
    stored_sessions,
)

SLOW = ("--start-delay", "0.3", "--stop-delay", "0.3")


def envelope_of(r: httpx.Response) -> dict[str, Any]:
    return assert_envelope(Reply(r.status_code, dict(r.headers), r.content))


# --- kill -9 under load ----------------------------------------------------------------------


@dataclass
class Acked:
    """What the emulator acknowledged (HTTP 200) before it was killed."""

    created: dict[str, str] = field(default_factory=dict)  # session -> create operation
    operations: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)  # sessions whose delete was acknowledged
    requests: int = 0


async def _load(url: str, parent: str, workers: int, acked: Acked, stop: asyncio.Event) -> None:
    """Workers creating, reading, terminating and deleting their own sessions until the
    emulator goes away (or ``stop``)."""
    limits = httpx.Limits(max_connections=workers)
    async with httpx.AsyncClient(base_url=url, timeout=10.0, limits=limits) as client:

        async def worker(w: int) -> None:
            mine: list[str] = []
            for n in itertools.count():
                if stop.is_set():
                    return
                try:
                    if not mine or (n % 3 == 0 and len(mine) < 4):
                        sid = f"w{w}-{n}-{uuid.uuid4().hex[:4]}"
                        r = await client.post(f"/v1/{parent}/sessions", params={"sessionId": sid})
                        if r.status_code == 200:
                            op = r.json()
                            acked.created[op["metadata"]["session"]] = op["name"]
                            acked.operations.add(op["name"])
                            mine.append(op["metadata"]["session"])
                    else:
                        name = mine[n % len(mine)]
                        state = (await client.get(f"/v1/{name}")).json().get("state")
                        if state == "ACTIVE":
                            r = await client.post(f"/v1/{name}:terminate", json={})
                        elif state in ("TERMINATED", "FAILED"):
                            r = await client.delete(f"/v1/{name}")
                            if r.status_code == 200:
                                acked.deleted.add(name)
                                mine.remove(name)
                        else:
                            continue
                        if r.status_code == 200:
                            acked.operations.add(r.json()["name"])
                    acked.requests += 1
                except httpx.TransportError:
                    return  # the emulator is gone: what it acknowledged is recorded

        await asyncio.gather(*(worker(w) for w in range(workers)))


def kill9_under_load(workdir: Path, seconds: float, workers: int, stress: bool) -> None:
    parent = f"projects/k9-{uuid.uuid4().hex[:8]}/locations/us-central1"
    first = EmulatorProcess(workdir, *QUICK, *SLOW).start()
    acked = Acked()
    try:
        with first.client() as api:
            # Sessions the load does not touch: one in each state at the moment of the kill.
            fail = {"labels": {"emulator-fail-start": ""}}
            for sid, body in (("ended", {}), ("broken", fail), ("steady", {}), ("stopping", {})):
                r = api.post(f"/v1/{parent}/sessions", params={"sessionId": sid}, json=body)
                acked.created[r.json()["metadata"]["session"]] = r.json()["name"]
            for sid in ("ended", "steady", "stopping"):
                wait_state(api, f"{parent}/sessions/{sid}", {"ACTIVE"})
            api.post(f"/v1/{parent}/sessions/ended:terminate", json={})
            wait_state(api, f"{parent}/sessions/ended", {"TERMINATED"})
            wait_state(api, f"{parent}/sessions/broken", {"FAILED"})

        async def run() -> list[str]:
            stop = asyncio.Event()
            load = asyncio.ensure_future(_load(first.url, parent, workers, acked, stop))
            await asyncio.sleep(seconds)
            with first.client() as api:
                op = api.post(f"/v1/{parent}/sessions/stopping:terminate", json={}).json()
                acked.operations.add(op["name"])
                op = api.post(f"/v1/{parent}/sessions", params={"sessionId": "starting"}).json()
                acked.created[op["metadata"]["session"]] = op["name"]
            states = [s["state"] for s in stored_sessions(first.db).values()]
            first.kill9()  # while the load's requests are in flight
            stop.set()
            await asyncio.wait_for(load, 30)
            return states

        states_at_kill = asyncio.run(run())
    finally:
        first.stop()
    # The kill found sessions in every state (creating, active, stopping, final).
    assert {"CREATING", "ACTIVE", "TERMINATING", "TERMINATED", "FAILED"} <= set(states_at_kill), (
        sorted(set(states_at_kill))
    )
    assert acked.deleted, "no delete was acknowledged before the kill"

    second = EmulatorProcess(workdir, *QUICK, *SLOW).start()
    try:
        with second.client() as api:
            for op_name in sorted(acked.operations | set(acked.created.values())):
                wait_for(
                    lambda op=op_name: api.get(f"/v1/{op}").json().get("done"),
                    30,
                    what=f"{op_name} done after the restart",
                )
            for name in sorted(acked.created):
                r = api.get(f"/v1/{name}")
                if name in acked.deleted:
                    assert r.status_code == 404, (name, r.text)
                else:
                    assert r.status_code == 200, (name, r.text)
                    assert r.json()["state"] in ("ACTIVE", "TERMINATED", "FAILED"), r.json()
        second.stop()
        assert second.proc is not None and second.proc.returncode == 0
        assert integrity_check(second.db) == "ok"
    finally:
        second.stop()
    record_figures(
        "kill9-under-load",
        {
            "seconds": seconds,
            "workers": workers,
            "requests": acked.requests,
            "sessions_acked": len(acked.created),
            "deletes_acked": len(acked.deleted),
            "operations_acked": len(acked.operations),
        },
        write=stress,
    )


def test_kill9_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """Given the emulator under concurrent creates, terminates and deletes, with sessions
    in every state, when it is killed with SIGKILL and restarted on the same database,
    then every acknowledged session and operation is there (and every acknowledged
    delete done), every operation completes, and the database is intact."""
    kill9_under_load(tmp_path, seconds=2.0, workers=4, stress=False)


@pytest.mark.stress
def test_kill9_under_heavy_load(tmp_path: Path) -> None:
    kill9_under_load(tmp_path, seconds=10.0, workers=12, stress=True)


# --- the backend down under live subscribers ----------------------------------------------------


def reachability(recorder: SseRecorder) -> list[bool]:
    return [bool(data["reachable"]) for _, kind, data in recorder.events if kind == "status"]


def backend_down(workdir: Path, down_seconds: float, stress: bool) -> None:
    emu = EmulatorProcess(workdir / "emu", *QUICK)
    (workdir / "emu").mkdir()
    emu.start()
    port = int(emu.url.rsplit(":", 1)[1])
    server = JupyterServerProcess(workdir / "server", config=sessions_config(backend=emu.url + "/"))
    recorders: list[SseRecorder] = []
    again: EmulatorProcess | None = None
    try:
        server.start()
        wait_listening(server)
        recorders = [SseRecorder(server) for _ in range(3)]
        for rec in recorders:
            rec.wait(lambda r: "snapshot" in r.kinds(), 30)
        emu.kill9()
        down_at = time.monotonic()
        for rec in recorders:
            rec.wait(lambda r: False in reachability(r), 30)
        with server.client() as c:
            started = time.monotonic()
            r = c.get(f"jupyter-sessions/v1/{PARENT}/sessions")
            assert time.monotonic() - started < 10
        assert r.status_code in (502, 503), r.text  # the documented answers while it is down
        envelope_of(r)
        time.sleep(max(0.0, down_seconds - (time.monotonic() - down_at)))
        again = EmulatorProcess(workdir / "emu", *QUICK, "--port", str(port)).start()
        came_back = time.monotonic()
        for rec in recorders:
            rec.wait(lambda r: reachability(r)[-1:] == [True], 45)
        recovery = time.monotonic() - came_back
        # Later changes reach every subscriber by themselves.
        with again.client() as api:
            sid = "back-" + uuid.uuid4().hex[:6]
            assert api.post(f"/v1/{PARENT}/sessions", params={"sessionId": sid}).status_code == 200
        name = f"{PARENT}/sessions/{sid}"
        for rec in recorders:
            rec.wait(lambda r: "ACTIVE" in r.states_of(name), 30)
            assert reachability(rec)[:1] == [False], reachability(rec)
            assert rec.error is None
    finally:
        SseRecorder.stop_all(recorders)
        server.stop()
        emu.stop()
        if again is not None:
            again.stop()
    record_figures(
        f"backend-down-{down_seconds:g}s",
        {"subscribers": len(recorders), "recovered_after_s": round(recovery, 2)},
        write=stress,
    )


def test_backend_down_under_live_subscribers(tmp_path: Path) -> None:
    """Given three live event streams on an extension whose backend is an emulator, when
    the emulator is killed for a few seconds and restarted on the same port, then every
    subscriber gets status reachable=false, then reachable=true by itself, and sees the
    changes made afterwards; meanwhile the proxy answers 502/503 envelopes at once."""
    backend_down(tmp_path, down_seconds=4.0, stress=False)


@pytest.mark.stress
def test_backend_down_for_thirty_seconds(tmp_path: Path) -> None:
    backend_down(tmp_path, down_seconds=30.0, stress=True)


# --- a backend slower than the timeout ----------------------------------------------------------


class SlowBackend:
    """A loopback HTTP server that stalls on any path containing ``slow`` (until released)
    and answers everything else at once with ``{}``."""

    def __init__(self, stall: float) -> None:
        release = threading.Event()
        self.release = release
        self.stalled = 0

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                if "slow" in self.path:
                    outer.stalled += 1
                    release.wait(stall)
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the proxy gave up on us, as it should
                    pass

            do_GET = do_POST = do_DELETE = do_PATCH = _answer

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlowBackend:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def slow_backend() -> Iterator[SlowBackend]:
    with SlowBackend(stall=20.0) as backend:
        yield backend


def test_backend_slower_than_the_timeout(tmp_path: Path, slow_backend: SlowBackend) -> None:
    """Given a backend that stalls longer than request_timeout (1 s), the proxy answers
    504 DEADLINE_EXCEEDED in bounded time; stalled calls do not block others, and a
    later call works (no handler hangs)."""
    timeout = 1.0
    config = sessions_config(backend=slow_backend.url, request_timeout=timeout)
    server = JupyterServerProcess(tmp_path, config=config)
    try:
        server.start()
        wait_listening(server)
        slow = f"jupyter-sessions/v1/{PARENT}/sessions/slow-one"
        fast = f"jupyter-sessions/v1/{PARENT}/sessions"
        with server.client() as c:
            started = time.monotonic()
            r = c.get(slow)
            elapsed = time.monotonic() - started
        assert r.status_code == 504, r.text
        assert envelope_of(r)["status"] == "DEADLINE_EXCEEDED"
        assert timeout <= elapsed < timeout + 4, elapsed

        async def mixed() -> tuple[list[httpx.Response], float]:
            async with httpx.AsyncClient(
                base_url=server.url,
                headers={"Authorization": f"token {server.token}"},
                timeout=30.0,
            ) as ac:
                stalled = [asyncio.ensure_future(ac.get(slow)) for _ in range(5)]
                await asyncio.sleep(0.2)
                t0 = time.monotonic()
                quick = await ac.get(fast)
                quick_time = time.monotonic() - t0
                return [quick, *await asyncio.gather(*stalled)], quick_time

        answers, quick_time = asyncio.run(mixed())
        assert answers[0].status_code == 200 and quick_time < timeout, quick_time
        assert [a.status_code for a in answers[1:]] == [504] * 5
        with server.client() as c:
            assert c.get(fast).status_code == 200
            assert c.get("jupyter-sessions/config").status_code == 200
        assert slow_backend.stalled >= 6
    finally:
        server.stop()
    assert server.proc is not None and server.proc.returncode == 0


# --- a full database -------------------------------------------------------------------------


def _consistent(api: httpx.Client, db: Path, parent: str) -> dict[str, str]:
    """What the API shows equals what the database holds (sessions with their states,
    operations, templates); returns session name -> state."""

    def api_view() -> tuple[dict[str, str], set[str], set[str]]:
        sessions = api.get(f"/v1/{parent}/sessions", params={"pageSize": 1000}).json()
        ops = api.get(
            f"/v1/{parent.replace('/locations/', '/regions/')}/operations",
            params={"pageSize": 1000},
        ).json()
        templates = api.get(f"/v1/{parent}/sessionTemplates", params={"pageSize": 1000}).json()
        return (
            {s["name"]: s["state"] for s in sessions.get("sessions", [])},
            {o["name"] for o in ops.get("operations", [])},
            {t["name"] for t in templates.get("sessionTemplates", [])},
        )

    def disk_view() -> tuple[dict[str, str], set[str], set[str]]:
        return (
            {n: b["state"] for n, b in stored_sessions(db).items()},
            stored_names(db, "operations"),
            stored_names(db, "templates"),
        )

    def same() -> tuple[dict[str, str], set[str], set[str]] | None:
        before = api_view()
        disk = disk_view()
        after = api_view()
        if before != after:  # a transition landed in between: look again
            return None
        assert after == disk, (after, disk)
        return after

    return wait_for(same, 10, what="a quiet moment to compare memory and disk")[0]


def test_full_database_refuses_changes_cleanly(tmp_path: Path) -> None:
    """Given an emulator whose database is capped (--db-max-pages), when it fills up,
    then mutations get 503 UNAVAILABLE naming the database, a refused create leaves no
    ghost session and a refused terminate no phantom transition (what the API shows is
    what the disk holds), reads keep working, it stops cleanly, the file passes
    integrity_check, and after a restart without the cap nothing is lost."""
    parent = f"projects/full-{uuid.uuid4().hex[:6]}/locations/us-central1"
    emu = EmulatorProcess(tmp_path, *QUICK, "--db-max-pages", "40").start()
    refused: httpx.Response | None = None
    created: list[str] = []
    try:
        with emu.client() as api:
            tpl = {"name": f"{parent}/sessionTemplates/small", "labels": {"a": "b"}}
            assert api.post(f"/v1/{parent}/sessionTemplates", json=tpl).status_code == 200
            for i in range(300):
                sid = f"fill-{i:03d}"
                r = api.post(
                    f"/v1/{parent}/sessions",
                    params={"sessionId": sid, "requestId": f"req-{i}"},
                    json={"labels": {"n": str(i)}, "user": "x" * 500},
                )
                if r.status_code == 503:
                    refused = r
                    break
                assert r.status_code == 200, r.text
                created.append(f"{parent}/sessions/{sid}")
            assert refused is not None, "the capped database never filled up"
            err = envelope_of(refused)
            assert err["status"] == "UNAVAILABLE" and "database" in err["message"], err
            ghost = f"{parent}/sessions/{sid}"
            assert api.get(f"/v1/{ghost}").status_code == 404
            # The same requestId again is not answered with an operation that was never stored.
            retry = api.post(
                f"/v1/{parent}/sessions",
                params={"sessionId": sid, "requestId": f"req-{i}"},
                json={},
            )
            assert retry.status_code == 503, retry.text
            big = {"name": f"{parent}/sessionTemplates/big-one", "description": "x" * 300_000}
            r = api.post(f"/v1/{parent}/sessionTemplates", json=big)
            assert r.status_code == 503 and "database" in envelope_of(r)["message"]
            assert api.get(f"/v1/{big['name']}").status_code == 404
            for name in created[:5]:
                r = api.post(f"/v1/{name}:terminate", json={"requestId": "t-" + name[-3:]})
                assert r.status_code in (200, 409, 503), r.text
            states = _consistent(api, emu.db, parent)
            assert ghost not in states and set(created) == set(states)
            assert api.get(f"/v1/{parent}/sessions").status_code == 200  # reads still work
        emu.stop()
        assert emu.proc is not None and emu.proc.returncode == 0, emu.log_path.read_text()[-2000:]
        assert integrity_check(emu.db) == "ok"
    finally:
        emu.stop()
    again = EmulatorProcess(tmp_path, *QUICK).start()
    try:
        with again.client() as api:
            listed = api.get(f"/v1/{parent}/sessions", params={"pageSize": 1000}).json()
            assert {s["name"] for s in listed["sessions"]} == set(created)
            r = api.post(f"/v1/{parent}/sessions", params={"sessionId": sid}, json={})
            assert r.status_code == 200, r.text  # room again: the refused id is free
    finally:
        again.stop()
    record_figures("full-database", {"sessions_before_full": len(created)})
