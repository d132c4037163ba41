"""Emulator figures: kernel start-up (cold vs warm pool), terminate, filtered listing over
10,000 sessions, and memory held for them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support import PARENT, wait_for

from .common import EmulatorProcess, Row, median, percentile, rss_kib, workdir

GROUP = "emulator"


def _create_and_wait(client: httpx.Client, sid: str) -> float:
    start = time.perf_counter()
    r = client.post(f"v1/{PARENT}/sessions", params={"sessionId": sid}, json={})
    r.raise_for_status()
    name = f"{PARENT}/sessions/{sid}"
    wait_for(
        lambda: client.get(f"v1/{name}").json().get("state") in ("ACTIVE", "FAILED"),
        120,
        interval=0.005,
    )
    return time.perf_counter() - start


def _terminate_and_wait(client: httpx.Client, sid: str) -> float:
    name = f"{PARENT}/sessions/{sid}"
    start = time.perf_counter()
    client.post(f"v1/{name}:terminate", json={}).raise_for_status()
    wait_for(
        lambda: client.get(f"v1/{name}").json().get("state") in ("TERMINATED", "FAILED"),
        120,
        interval=0.005,
    )
    return time.perf_counter() - start


def _kernel_latencies(rounds: int) -> list[Row]:
    results: dict[str, list[float]] = {"cold": [], "warm": [], "terminate": []}
    for mode, pool in (("cold", "0"), ("warm", "1")):
        with workdir("kernel") as wd:
            emu = EmulatorProcess(wd, "--runtime", "kernel", "--warm-pool", pool).start()
            try:
                with emu.client() as c:
                    for i in range(rounds):
                        if mode == "warm":
                            time.sleep(2.0)  # let the pool refill, as between real creates
                        sid = f"{mode}-{i:03d}-bench"
                        results[mode].append(_create_and_wait(c, sid))
                        results["terminate"].append(_terminate_and_wait(c, sid))
            finally:
                emu.stop()
    cold, warm, term = (median(results[k]) * 1000 for k in ("cold", "warm", "terminate"))
    return [
        Row(GROUP, "create->ACTIVE, kernel, cold (p50)", round(cold, 1), "ms"),
        Row(
            GROUP,
            "create->ACTIVE, kernel, warm pool (p50)",
            round(warm, 1),
            "ms",
            f"cold/warm = {cold / warm:.1f}x",
        ),
        Row(GROUP, "terminate->TERMINATED, kernel (p50)", round(term, 1), "ms"),
    ]


async def _seed(url: str, count: int) -> None:
    sem = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as c:

        async def one(i: int) -> None:
            async with sem:
                r = await c.post(
                    f"v1/{PARENT}/sessions",
                    params={"sessionId": f"s{i:05d}-bench"},
                    json={"labels": {"team": f"t{i % 10}", "env": "prod" if i % 3 else "dev"}},
                )
                r.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(count)))


def _listing(count: int) -> list[Row]:
    with workdir("list") as wd:
        emu = EmulatorProcess(wd, "--runtime", "simulated", "--usage-interval", "3600").start()
        try:
            rss_empty = rss_kib(emu.pid)
            seed_start = time.perf_counter()
            asyncio.run(_seed(emu.url, count))
            seed_s = time.perf_counter() - seed_start
            time.sleep(1.0)
            rss_full = rss_kib(emu.pid)
            flt = 'state = ACTIVE AND labels.team = "t3" AND NOT labels.env = dev'
            first_page: list[float] = []
            walk: list[float] = []
            unfiltered: list[float] = []
            with emu.client() as c:
                for _ in range(10):
                    t0 = time.perf_counter()
                    r = c.get(f"v1/{PARENT}/sessions", params={"pageSize": 100, "filter": flt})
                    first_page.append(time.perf_counter() - t0)
                    r.raise_for_status()
                    t0 = time.perf_counter()
                    r = c.get(f"v1/{PARENT}/sessions", params={"pageSize": 100})
                    unfiltered.append(time.perf_counter() - t0)
                for _ in range(3):
                    t0 = time.perf_counter()
                    token, seen = "", 0
                    while True:
                        params: dict[str, Any] = {"pageSize": 100, "filter": flt}
                        if token:
                            params["pageToken"] = token
                        page = c.get(f"v1/{PARENT}/sessions", params=params).json()
                        seen += len(page.get("sessions", []))
                        token = page.get("nextPageToken", "")
                        if not token:
                            break
                    walk.append(time.perf_counter() - t0)
        finally:
            emu.stop()
    p50_filtered = median(first_page) * 1000
    p50_plain = median(unfiltered) * 1000
    return [
        Row(
            GROUP,
            f"seed {count} sessions over HTTP (16 concurrent)",
            round(seed_s, 1),
            "s",
            f"{count / seed_s:.0f} creates/s",
        ),
        Row(
            GROUP,
            f"list page of 100, filtered, over {count} (p50)",
            round(p50_filtered, 1),
            "ms",
            f"unfiltered page {p50_plain:.1f} ms = {p50_filtered / p50_plain:.1f}x",
        ),
        Row(
            GROUP,
            f"list p95 filtered page over {count}",
            round(percentile(first_page, 95) * 1000, 1),
            "ms",
        ),
        Row(
            GROUP,
            f"walk all filtered pages over {count} ({seen} hits)",
            round(median(walk) * 1000, 1),
            "ms",
        ),
        Row(
            GROUP,
            f"emulator RSS holding {count} sessions",
            round(rss_full / 1024, 1),
            "MiB",
            f"empty {rss_empty / 1024:.1f} MiB; {(rss_full - rss_empty) / count:.1f} KiB/session",
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    rows = _kernel_latencies(3 if quick else 5)
    rows += _listing(2000 if quick else 10_000)
    return rows
