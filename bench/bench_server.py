"""Extension figures: proxy overhead, change propagation, and backend load per number of
subscribers beside the poll-everything strategy of today's Google plugin."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx

from jupyter_sessions.api.codec import parse_timestamp
from tests.support import PARENT, wait_for

from .common import JupyterServerProcess, Row, percentile, workdir

GROUP = "extension"
API = "jupyter-sessions/v1/"
PLUGIN_PAGE_SIZE = 50  # pages the plugin strategy walks on every poll
PLUGIN_INTERVAL = 10.0


def _config(**watch: Any) -> dict[str, Any]:
    return {
        "SessionsExtensionApp": {
            "emulator_runtime": "simulated",
            "emulator_args": [
                "--start-delay",
                "0.5",
                "--stop-delay",
                "0.5",
                "--usage-interval",
                "3600",
            ],
            "project": "test-project",
            "location": "us-central1",
            **watch,
        }
    }


def _proxy_overhead(server: JupyterServerProcess, rounds: int) -> list[Row]:
    with server.client() as proxy, server.emulator() as direct:
        sid = "ovh-" + uuid.uuid4().hex[:6]
        direct.post(f"v1/{PARENT}/sessions", params={"sessionId": sid}).raise_for_status()
        name = f"{PARENT}/sessions/{sid}"
        via, straight = [], []
        for _ in range(20):  # warm both connection pools
            proxy.get(API + name)
            direct.get("v1/" + name)
        for _ in range(rounds):
            t0 = time.perf_counter()
            proxy.get(API + name).raise_for_status()
            t1 = time.perf_counter()
            direct.get("v1/" + name).raise_for_status()
            t2 = time.perf_counter()
            via.append((t1 - t0) * 1000)
            straight.append((t2 - t1) * 1000)
    p50v, p99v = percentile(via, 50), percentile(via, 99)
    p50d, p99d = percentile(straight, 50), percentile(straight, 99)
    return [
        Row(
            GROUP,
            "GET session via extension (p50 / p99)",
            f"{p50v:.2f} / {p99v:.2f}",
            "ms",
            f"direct {p50d:.2f} / {p99d:.2f} ms = {p50v / p50d:.1f}x / {p99v / p99d:.1f}x",
        ),
    ]


async def _subscriber(
    server: JupyterServerProcess,
    sink: list[tuple[float, str, Any]] | None,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    parent: str = PARENT,
) -> None:
    headers = {"Authorization": f"token {server.token}"}
    timeout = httpx.Timeout(30.0, read=None)
    async with (
        httpx.AsyncClient(base_url=server.url, headers=headers, timeout=timeout) as c,
        c.stream("GET", "jupyter-sessions/events", params={"parent": parent}) as r,
    ):
        event = ""
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                if event == "snapshot" and ready is not None:
                    ready.set()
                if sink is not None:
                    sink.append((time.time(), event, json.loads(line[5:])))
            if stop.is_set():
                return


async def _propagation(server: JupyterServerProcess, count: int) -> list[Row]:
    sink: list[tuple[float, str, Any]] = []
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(_subscriber(server, sink, stop, ready))
    await asyncio.wait_for(ready.wait(), 30)
    headers = {"Authorization": f"token {server.token}"}
    names = []
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30.0) as c:
        for i in range(count):
            sid = f"prop-{i:03d}-{uuid.uuid4().hex[:4]}"
            (await c.post(f"{API}{PARENT}/sessions", params={"sessionId": sid})).raise_for_status()
            names.append(f"{PARENT}/sessions/{sid}")
            await asyncio.sleep(0.3)
        await asyncio.sleep(2.0)
        for name in names:
            (await c.post(f"{API}{name}:terminate", json={})).raise_for_status()
            await asyncio.sleep(0.3)
        await asyncio.sleep(3.0)
    stop.set()
    task.cancel()
    seen: dict[tuple[str, str], float] = {}
    for received, event, data in sink:
        if event == "session" and data.get("name") in names:
            key = (data["name"], data["state"])
            if key not in seen:
                seen[key] = received - parse_timestamp(data["stateTime"]).timestamp()
    lags = [v * 1000 for v in seen.values()]
    by_state = {
        s: [v * 1000 for (n, st), v in seen.items() if st == s] for s in ("ACTIVE", "TERMINATED")
    }
    return [
        Row(
            GROUP,
            "stateTime -> subscriber event (p50 / p95)",
            f"{percentile(lags, 50):.0f} / {percentile(lags, 95):.0f}",
            "ms",
            f"{len(lags)} transitions; ACTIVE p50 {percentile(by_state['ACTIVE'], 50):.0f} ms, "
            f"TERMINATED p50 {percentile(by_state['TERMINATED'], 50):.0f} ms",
        ),
    ]


def _backend_total(endpoint: str) -> int:
    with httpx.Client(timeout=10.0) as c:
        return int(c.get(endpoint + "emulator/stats").json()["total"])


async def _plugin_client(endpoint: str, token: str, stop: asyncio.Event) -> None:
    """Today's Google plugin: every client walks every page every 10 s."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=endpoint, timeout=30.0, headers=headers) as c:
        while not stop.is_set():
            token = ""
            while True:
                params: dict[str, Any] = {"pageSize": PLUGIN_PAGE_SIZE}
                if token:
                    params["pageToken"] = token
                page = (await c.get(f"v1/{PARENT}/sessions", params=params)).json()
                token = page.get("nextPageToken", "")
                if not token:
                    break
            try:
                await asyncio.wait_for(stop.wait(), PLUGIN_INTERVAL)
            except asyncio.TimeoutError:
                pass


async def _load(server: JupyterServerProcess, k: int, window: float, plugin: bool) -> float:
    endpoint = server.config()["endpoint"]
    stop = asyncio.Event()
    tasks = []
    if plugin:
        token = server.emulator_token_file.read_text().strip()
        tasks = [asyncio.create_task(_plugin_client(endpoint, token, stop)) for _ in range(k)]
        await asyncio.sleep(0.5)
    else:
        readies = [asyncio.Event() for _ in range(k)]
        tasks = [asyncio.create_task(_subscriber(server, None, stop, r)) for r in readies]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    before = _backend_total(endpoint)
    await asyncio.sleep(window)
    after = _backend_total(endpoint)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1.0)
    return (after - before - 1) * 60.0 / window


def _seed(server: JupyterServerProcess, active: int, finished: int) -> None:
    with server.emulator() as c:
        names = []
        for i in range(active + finished):
            sid = f"load-{i:04d}"
            c.post(f"v1/{PARENT}/sessions", params={"sessionId": sid}).raise_for_status()
            names.append(f"{PARENT}/sessions/{sid}")
        wait_for(lambda: all(c.get(f"v1/{n}").json()["state"] == "ACTIVE" for n in names[-5:]), 60)
        for n in names[active:]:
            c.post(f"v1/{n}:terminate", json={}).raise_for_status()
        wait_for(lambda: c.get(f"v1/{names[-1]}").json()["state"] == "TERMINATED", 60)


def run(quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    with workdir("server") as wd:
        server = JupyterServerProcess(wd, config=_config()).start()
        try:
            rows += _proxy_overhead(server, 200 if quick else 1000)
            rows += asyncio.run(_propagation(server, 5 if quick else 20))
        finally:
            server.stop()
    window = 20.0 if quick else 60.0
    with workdir("load") as wd:
        server = JupyterServerProcess(wd, config=_config()).start()
        try:
            _seed(server, 50, 150)
            for k in (1, 10, 100):
                ours = asyncio.run(_load(server, k, window, plugin=False))
                theirs = asyncio.run(_load(server, k, window, plugin=True))
                rows.append(
                    Row(
                        GROUP,
                        f"backend requests/min, {k} subscriber(s), 200 sessions",
                        round(ours, 1),
                        "req/min",
                        f"plugin strategy {theirs:.0f} req/min"
                        f" = {theirs / max(ours, 0.1):.0f}x more",
                    )
                )
        finally:
            server.stop()
    return rows
