"""Shared pieces of the benchmarks: processes on loopback, timing, the table."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import EmulatorProcess, JupyterServerProcess  # noqa: E402

# Plain session kernels unless a benchmark asks for local Spark (bench_spark passes --spark):
# a JVM per warm kernel would weigh on every other figure.
os.environ.setdefault("JUPYTER_SESSIONS_SPARK", "off")

__all__ = ["EmulatorProcess", "JupyterServerProcess", "Row", "percentile", "rss_kib", "workdir"]


@dataclass
class Row:
    """One line of the benchmark table."""

    group: str
    name: str
    value: float | str
    unit: str = ""
    versus: str = ""  # what the value is compared with, and the ratio
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with TemporaryDirectory(prefix=f"bench-{prefix}-") as d:
        yield Path(d)


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
