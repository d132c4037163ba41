"""Live-update figures: how fast a change made outside the extension reaches a subscriber
(local backend: the emulator's change feed; Dataproc mode: polling), what watching costs
the backend when idle, the Dataproc polling budget, and the proxy beside its floor."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from jupyter_sessions.api.codec import parse_timestamp
from jupyter_sessions.server.feed import REGIONAL_QUOTA_PER_MINUTE
from jupyter_sessions.server.watcher import WatchSettings

from .bench_server import _subscriber
from .common import JupyterServerProcess, Row, percentile, workdir

GROUP = "live"
PARENT = "projects/test-project/locations/us-central1"
EMULATOR_ARGS = ["--start-delay", "0.5", "--stop-delay", "0.5", "--usage-interval", "3600"]


def _local_config() -> dict[str, Any]:
    return {
        "SessionsExtensionApp": {
            "emulator_runtime": "simulated",
            "emulator_args": EMULATOR_ARGS,
            "project": "test-project",
            "location": "us-central1",
        }
    }


async def _subscribe(
    server: JupyterServerProcess,
    parent: str,
    sink: list[tuple[float, str, Any]] | None,
    ready: asyncio.Event,
) -> None:
    await _subscriber(server, sink, asyncio.Event(), ready, parent=parent)


async def _external_latency(
    server: JupyterServerProcess, direct: httpx.AsyncClient, parent: str, count: int
) -> tuple[list[float], int]:
    """Drive ``count`` sessions through create, terminate, delete straight at the backend;
    return each state's stateTime -> subscriber delay (ms) and the events missed."""
    sink: list[tuple[float, str, Any]] = []
    ready = asyncio.Event()
    task = asyncio.create_task(_subscribe(server, parent, sink, ready))
    await asyncio.wait_for(ready.wait(), 60)
    names = []
    for i in range(count):
        sid = f"ext-{i:03d}-{uuid.uuid4().hex[:4]}"
        r = await direct.post(f"v1/{parent}/sessions", params={"sessionId": sid}, json={})
        r.raise_for_status()
        names.append(f"{parent}/sessions/{sid}")
        await asyncio.sleep(0.2)
    await _until(direct, names, "ACTIVE")
    for name in names:
        (await direct.post(f"v1/{name}:terminate", json={})).raise_for_status()
        await asyncio.sleep(0.2)
    await _until(direct, names, "TERMINATED")
    await asyncio.sleep(15.0)  # let a polled Watcher look at least once more
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    seen: dict[tuple[str, str], float] = {}
    for received, event, data in sink:
        if event == "session" and data.get("name") in names:
            key = (data["name"], data["state"])
            if key not in seen:
                seen[key] = (received - parse_timestamp(data["stateTime"]).timestamp()) * 1000
    missed = 4 * count - len(seen)
    return list(seen.values()), missed


async def _until(direct: httpx.AsyncClient, names: list[str], state: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = [(await direct.get(f"v1/{n}")).json().get("state") for n in names]
        if all(s == state for s in states):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"sessions did not reach {state}")


def _latency_row(label: str, lags: list[float], missed: int, note: str) -> Row:
    return Row(
        GROUP,
        f"external change -> subscriber, {label} (p50 / p95)",
        f"{percentile(lags, 50):.0f} / {percentile(lags, 95):.0f}",
        "ms",
        f"{len(lags)} state changes, {missed} missed; {note}",
    )


async def _idle_rate(
    server: JupyterServerProcess, stats: httpx.AsyncClient, parent: str, k: int, window: float
) -> float:
    """Backend requests per minute while ``k`` subscribers watch an idle parent (an open
    change feed counts as one request per stream)."""
    readies = [asyncio.Event() for _ in range(k)]
    tasks = [asyncio.create_task(_subscribe(server, parent, None, r)) for r in readies]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    await asyncio.sleep(1.0)
    before = await _api_requests(stats)
    await asyncio.sleep(window)
    after = await _api_requests(stats)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1.5)
    return (after - before) * 60.0 / window


async def _api_requests(c: httpx.AsyncClient) -> int:
    counts = (await c.get("emulator/stats")).json()["requests"]
    # Our own stats calls are not the Watcher's; open feeds count once they end.
    return int(sum(n for route, n in counts.items() if not route.endswith("/stats")))


def _proxy_floor(server: JupyterServerProcess, rounds: int) -> Row:
    """A proxied GET beside Jupyter's trivial authenticated handler plus the direct call."""
    with server.client() as jp, server.emulator() as direct:
        sid = "floor-" + uuid.uuid4().hex[:6]
        direct.post(f"v1/{PARENT}/sessions", params={"sessionId": sid}, json={})
        name = f"{PARENT}/sessions/{sid}"
        samples: dict[str, list[float]] = {"proxy": [], "status": [], "direct": []}
        calls = {
            "proxy": lambda: jp.get("jupyter-sessions/v1/" + name),
            "status": lambda: jp.get("api/status"),
            "direct": lambda: direct.get("v1/" + name),
        }
        for _ in range(30):
            for call in calls.values():
                call().raise_for_status()
        for _ in range(rounds):
            for key, call in calls.items():
                t0 = time.perf_counter()
                call().raise_for_status()
                samples[key].append((time.perf_counter() - t0) * 1000)
    p = {k: percentile(v, 50) for k, v in samples.items()}
    floor = p["status"] + p["direct"]
    return Row(
        GROUP,
        "GET session via extension, p50",
        f"{p['proxy']:.2f}",
        "ms",
        f"floor = /api/status {p['status']:.2f} + direct {p['direct']:.2f} = {floor:.2f} ms;"
        f" {p['proxy'] / floor:.2f}x the floor, {p['proxy'] / p['status']:.1f}x /api/status",
    )


async def _local_rows(quick: bool) -> list[Row]:
    rows: list[Row] = []
    with workdir("live-local") as wd:
        server = JupyterServerProcess(wd, config=_local_config()).start()
        try:
            rows.append(_proxy_floor(server, 200 if quick else 1000))
            with server.emulator() as sync_direct:
                headers = dict(sync_direct.headers)
                base = str(sync_direct.base_url)
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30.0) as d:
                lags, missed = await _external_latency(server, d, PARENT, 5 if quick else 20)
                rows.append(_latency_row("local (push: change feed)", lags, missed, "no polling"))
                window = 10.0 if quick else 30.0
                for k in (1, 10, 100):
                    rate = await _idle_rate(
                        server, d, f"projects/idle-{k}/locations/us-central1", k, window
                    )
                    rows.append(
                        Row(
                            GROUP,
                            f"backend requests/min when idle, local, {k} subscriber(s)",
                            round(rate, 1),
                            "req/min",
                            "one change feed per parent, reopened every 300 s",
                        )
                    )
        finally:
            server.stop()
    return rows


async def _dataproc_rows(quick: bool) -> list[Row]:
    from tests.server.test_dataproc import start_stack

    rows: list[Row] = []
    with workdir("live-dataproc") as wd:
        stack = start_stack(Path(wd))
        try:
            parent = "projects/dp-project/locations/us-central1"
            # The token endpoint issues the emulator's token on the server's first call.
            stack.api("GET", f"{parent}/sessions").raise_for_status()
            token = Path(stack.tokens.token_file).read_text().strip()
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                base_url=stack.emulator.url + "/", headers=headers, timeout=30.0
            ) as d:
                lags, missed = await _external_latency(stack.server, d, parent, 3 if quick else 10)
                s = WatchSettings()
                rows.append(
                    _latency_row(
                        "Dataproc mode (poll)",
                        lags,
                        missed,
                        f"defaults: {s.transition_interval:g} s in transition, "
                        f"{s.active_interval:g} s in use, {s.steady_interval:g} s steady",
                    )
                )
                window = 30.0 if quick else 60.0
                for k in (1, 10, 100):
                    rate = await _idle_rate(stack.server, d, parent, k, window)
                    rows.append(
                        Row(
                            GROUP,
                            f"backend requests/min when idle, Dataproc mode, {k} subscriber(s)",
                            round(rate, 1),
                            "req/min",
                            f"one poll loop per parent; a panel just opened: a look every "
                            f"{s.active_interval:g} s for {s.active_window / 60:g} min, then "
                            f"{s.steady_interval:g} s, after {s.idle_after / 60:g} min "
                            f"{s.idle_interval:g} s (+1 full listing/min)",
                        )
                    )
        finally:
            stack.stop()
    s = WatchSettings()
    rows.append(
        Row(
            GROUP,
            "Dataproc polling budget per server and parent",
            round(s.budget_per_minute),
            "req/min",
            f"{100 * s.budget_per_minute / REGIONAL_QUOTA_PER_MINUTE:.1f}% of the "
            f"{REGIONAL_QUOTA_PER_MINUTE:,} req/min regional quota; idle after "
            f"{s.idle_after / 60:g} min: {60 / s.idle_interval:g} req/min",
        )
    )
    return rows


def run(quick: bool = False) -> list[Row]:
    return asyncio.run(_local_rows(quick)) + asyncio.run(_dataproc_rows(quick))
