"""Local Spark in emulator sessions: time from create to a usable `spark` (the first
`spark.range(1000).count()` answered), cold and from the warm pool (whose kernels
pre-start the JVM), beside a plain kernel session."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
import uuid
from functools import partial
from pathlib import Path

from tests.emulator.test_spark_sessions import execute
from tests.support import wait_for, wait_state

from .common import EmulatorProcess, Row, median, workdir

GROUP = "spark"
PARENT = "projects/bench/locations/local"


def _usable(emu: EmulatorProcess, code: str) -> tuple[float, float]:
    """Seconds from create to ACTIVE, and from create to the code's answer."""
    sid = "b-" + uuid.uuid4().hex[:10]
    with emu.client() as client:
        start = time.perf_counter()
        client.post(f"/v1/{PARENT}/sessions", params={"sessionId": sid}, json={})
        s = wait_state(client, f"{PARENT}/sessions/{sid}", {"ACTIVE"}, timeout=300)
        active = time.perf_counter() - start
        execute(s["runtimeInfo"]["endpoints"]["Jupyter Kernel Connection File"], code)
        usable = time.perf_counter() - start
        client.post(f"/v1/{PARENT}/sessions/{sid}:terminate", json={})
        wait_state(client, f"{PARENT}/sessions/{sid}", {"TERMINATED"}, timeout=120)
    return active, usable


def _prestarted(emu: EmulatorProcess) -> bool:
    """A pool kernel's JVM is up and done warming (its CPU time stands still for 2 s)."""
    kernels = Path(str(emu.db)[: -len(".sqlite")] + "-runtime", "kernels")
    for marker in kernels.glob("kernel-*.unclaimed"):
        pgid = int(json.loads(marker.read_text())["pid"])
        jvm = _jvm_ticks(pgid)
        if jvm is None:
            continue
        time.sleep(2.0)
        return _jvm_ticks(pgid) == jvm
    return False


def _jvm_ticks(pgid: int) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and "java" in stat[: stat.rfind(")")]:
            return int(fields[11]) + int(fields[12])
    return None


def run(quick: bool = False) -> list[Row]:
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        return [Row(GROUP, "usable spark", "skipped", note="needs pyspark and java")]
    rounds = 1 if quick else 3
    code = "print(spark.range(1000).count())"
    rows: list[Row] = []
    results: dict[str, list[tuple[float, float]]] = {}
    for label, pool in (("cold", "0"), ("warm pool", "1")):
        with workdir(f"spark-{pool}") as d:
            emu = EmulatorProcess(d, "--spark", "auto", "--warm-pool", pool).start(timeout=60)
            try:
                found = []
                for _ in range(rounds):
                    if pool != "0":  # a pool kernel whose JVM is up, as a user meets it
                        wait_for(partial(_prestarted, emu), 300, what="a pre-started JVM")
                    found.append(_usable(emu, code))
                results[label] = found
            finally:
                emu.stop(timeout=60)
    with workdir("spark-off") as d:
        emu = EmulatorProcess(d, "--spark", "off", "--warm-pool", "1").start(timeout=60)
        try:
            plain = [_usable(emu, "print(1)") for _ in range(rounds)]
        finally:
            emu.stop(timeout=60)
    cold = median([u for _, u in results["cold"]])
    warm = median([u for _, u in results["warm pool"]])
    base = median([u for _, u in plain])
    rows.append(
        Row(
            GROUP,
            "create → spark.range(1000).count() answered, cold (p50)",
            f"{cold:.1f}",
            "s",
            f"ACTIVE after {median([a for a, _ in results['cold']]):.1f} s",
        )
    )
    rows.append(
        Row(
            GROUP,
            "create → spark.range(1000).count() answered, warm pool (p50)",
            f"{warm:.1f}",
            "s",
            f"cold/warm = {cold / warm:.1f}x; ACTIVE after "
            f"{median([a for a, _ in results['warm pool']]) * 1000:.0f} ms",
        )
    )
    rows.append(
        Row(
            GROUP,
            "create → first cell answered, plain kernel, warm pool (p50)",
            f"{base * 1000:.0f}",
            "ms",
            f"Spark from the warm pool adds {warm - base:.1f} s",
        )
    )
    return rows
