"""A bounded load through the extension: concurrent clients, mixed requests, zero errors,
latency percentiles reported."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from .conftest import Stack
from .harness import percentiles, record_figures

API = "jupyter-sessions/v1/"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)


async def one_client(
    client: httpx.AsyncClient, k: int, requests: int, parent: str, tally: Tally
) -> None:
    """``requests`` mixed calls on this client's own sessions: create, list (with and
    without a filter), get, get operation, terminate an ACTIVE one, delete a final one,
    templates and config. Every answer must be 200."""
    states: dict[str, str] = {}
    operations: list[str] = []

    async def call(kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        r = await client.request(method, path, **kwargs)
        tally.latencies.append(time.perf_counter() - started)
        tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
        if r.status_code != 200:
            tally.errors.append(f"{kind} {method} {path}: {r.status_code} {r.text[:200]}")
        return r

    for i in range(requests):
        step = i % 10
        active = [n for n, s in states.items() if s == "ACTIVE"]
        final = [n for n, s in states.items() if s in ("TERMINATED", "FAILED")]
        if step == 0 or not states:
            sid = f"c{k}-{i}-{uuid.uuid4().hex[:6]}"
            r = await call(
                "create",
                "POST",
                f"{API}{parent}/sessions",
                params={"sessionId": sid, "requestId": f"r-{sid}"},
                json={"labels": {"client": f"c{k}"}},
            )
            if r.status_code == 200:
                states[r.json()["metadata"]["session"]] = "CREATING"
                operations.append(r.json()["name"])
        elif step in (1, 2):
            params: dict[str, str | int] = {"pageSize": 20}
            if step == 2:
                params["filter"] = f"labels.client = c{k} AND state = ACTIVE"
            await call("list", "GET", f"{API}{parent}/sessions", params=params)
        elif step in (3, 4, 5):
            name = list(states)[i % len(states)]
            r = await call("get", "GET", API + name)
            if r.status_code == 200:
                states[name] = r.json()["state"]
        elif step == 6 and operations:
            await call("operation", "GET", API + operations[i % len(operations)])
        elif step == 7 and active:
            r = await call("terminate", "POST", f"{API}{active[0]}:terminate", json={})
            if r.status_code == 200:
                states[active[0]] = "TERMINATING"
                operations.append(r.json()["name"])
        elif step == 8 and final:
            r = await call("delete", "DELETE", API + final[0])
            if r.status_code == 200:
                del states[final[0]]
        elif step == 9:
            await call("config", "GET", "jupyter-sessions/config")
        else:
            await call("templates", "GET", f"{API}{parent}/sessionTemplates")


def run_load(stack: Stack, clients: int, requests: int, stress: bool) -> None:
    parent = f"projects/load-{uuid.uuid4().hex[:8]}/locations/us-central1"
    tally = Tally()

    async def main() -> float:
        headers = {"Authorization": f"token {stack.server.token}"}
        pool = [
            httpx.AsyncClient(
                base_url=stack.server.url,
                headers=headers,
                timeout=30.0,
                limits=httpx.Limits(max_connections=1),
            )
            for _ in range(clients)
        ]
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                asyncio.gather(
                    *(one_client(c, k, requests, parent, tally) for k, c in enumerate(pool))
                ),
                timeout=240,
            )
        finally:
            for c in pool:
                await c.aclose()
        return time.perf_counter() - started

    seconds = asyncio.run(main())
    total = len(tally.latencies)
    figures = {
        "clients": clients,
        "requests": total,
        "errors": len(tally.errors),
        "seconds": round(seconds, 2),
        "requests_per_s": round(total / seconds, 1),
        **percentiles(tally.latencies),
        "mix": dict(sorted(tally.kinds.items())),
    }
    record_figures(f"load-{clients}x{requests}", figures, write=stress)
    print(f"\nload {clients}x{requests} through the extension: {figures}")
    assert total == clients * requests
    assert not tally.errors, tally.errors[:5]
    assert tally.kinds.get("delete") and tally.kinds.get("terminate"), tally.kinds


def test_load_through_the_extension(stack: Stack) -> None:
    """Given 5 concurrent clients x 50 mixed requests through the extension, every
    answer is 200; p50/p99 latencies are reported."""
    run_load(stack, clients=5, requests=50, stress=False)


@pytest.mark.stress
def test_load_through_the_extension_long(stack: Stack) -> None:
    """20 concurrent clients x 500 mixed requests: zero errors."""
    run_load(stack, clients=20, requests=500, stress=True)
