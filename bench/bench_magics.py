"""Magics figures: what importing the package and ``%load_ext`` cost a kernel (beside
sparkmagic's magics, when installed), and a ``%session list`` round trip over 100 sessions
(API listing plus the HTML table)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .common import EmulatorProcess, Row, median, workdir

GROUP = "magics"
PARENT = "projects/bench-project/locations/local"
_IMPORT_RE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")

_LOAD_EXT = """
import time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
start = time.perf_counter()
shell.run_line_magic("load_ext", "jupyter_sessions")
print(time.perf_counter() - start)
"""


# sparkmagic needs Kerberos headers to build and drags in pandas and notebook, so it is
# measured in a separate environment (made by `make bench`) that holds both packages.
COMPARE_PYTHON = Path(__file__).resolve().parent.parent / ".bench" / "venv" / "bin" / "python"


def _import_ms(module: str, after: str = "", python: str = sys.executable) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter (``-X importtime``),
    not counting what importing ``after`` first already loaded."""
    code = (f"import {after}; " if after else "") + f"import {module}"
    proc = subprocess.run(
        [python, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for line in proc.stderr.splitlines():
        m = _IMPORT_RE.match(line)
        if m and m.group(2).strip() == module:
            return int(m.group(1)) / 1000
    raise RuntimeError(f"no import time for {module}: {proc.stderr[-500:]}")


def _load_ext_ms() -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_EXT], capture_output=True, text=True, timeout=120, check=True
    )
    return float(proc.stdout.strip()) * 1000


def _startup_rows(rounds: int) -> list[Row]:
    package = median([_import_ms("jupyter_sessions") for _ in range(rounds)])
    # A kernel has IPython loaded already: count only what the magics add.
    magics = median(
        [_import_ms("jupyter_sessions.notebook.magics", "IPython") for _ in range(rounds)]
    )
    load_ext = median([_load_ext_ms() for _ in range(rounds)])
    rows = [
        Row(GROUP, "import jupyter_sessions (p50)", round(package, 1), "ms", note="-X importtime"),
        Row(
            GROUP,
            "import jupyter_sessions.notebook.magics (p50)",
            round(magics, 1),
            "ms",
            note="-X importtime, after IPython",
        ),
        Row(
            GROUP,
            "%load_ext jupyter_sessions in a fresh IPython (p50)",
            round(load_ext, 1),
            "ms",
            note="InteractiveShell.instance() in a subprocess; no server, emulator, widgets "
            "or httpx imported",
        ),
    ]
    compare = str(COMPARE_PYTHON) if COMPARE_PYTHON.exists() else sys.executable
    has_sparkmagic = (
        subprocess.run(
            [
                compare,
                "-c",
                "import importlib.util as u; raise SystemExit(not u.find_spec('sparkmagic'))",
            ],
            timeout=60,
        ).returncode
        == 0
    )
    if not has_sparkmagic:
        rows.append(
            Row(GROUP, "import sparkmagic.magics", "not installed", "", note="run make bench")
        )
        return rows
    ours = median(
        [_import_ms("jupyter_sessions.notebook.magics", "IPython", compare) for _ in range(rounds)]
    )
    spark = median([_import_ms("sparkmagic.magics", "IPython", compare) for _ in range(rounds)])
    rows.append(
        Row(
            GROUP,
            "import sparkmagic.magics (p50), same environment",
            round(spark, 1),
            "ms",
            f"jupyter_sessions.notebook.magics there {ours:.1f} ms = {spark / ours:.0f}x less",
        )
    )
    return rows


async def _seed(url: str, count: int) -> None:
    sem = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as c:

        async def one(i: int) -> None:
            async with sem:
                r = await c.post(
                    f"v1/{PARENT}/sessions",
                    params={"sessionId": f"bench-{i:03d}"},
                    json={"labels": {"team": f"t{i % 5}"}},
                )
                r.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(count)))


def _list_rows(count: int, rounds: int) -> list[Row]:
    from jupyter_sessions.client import SessionsClient
    from jupyter_sessions.notebook.render import SessionList

    with workdir("magics-list") as wd:
        emu = EmulatorProcess(wd, "--runtime", "simulated").start()
        try:
            asyncio.run(_seed(emu.url, count))
            total: list[float] = []
            render: list[float] = []
            with SessionsClient(emu.url, project="bench-project", location="local") as client:
                for _ in range(rounds + 1):
                    start = time.perf_counter()
                    sessions = SessionList(
                        client.list_sessions(page_size=1000), parent=client.parent.path
                    )
                    fetched = time.perf_counter()
                    html = sessions._repr_html_()
                    done = time.perf_counter()
                    assert len(sessions) == count and html.count("<tr>") == count + 1
                    total.append(done - start)
                    render.append(done - fetched)
            total, render = total[1:], render[1:]  # the first round warms the connection
        finally:
            emu.stop()
    return [
        Row(
            GROUP,
            f"%session list round trip, {count} sessions (p50)",
            round(median(total) * 1000, 1),
            "ms",
            note="SessionsClient.list_sessions + HTML table, simulated emulator",
        ),
        Row(
            GROUP,
            f"  of which the HTML table of {count} rows (p50)",
            round(median(render) * 1000, 1),
            "ms",
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    """The rows of this benchmark; ``dataclasses.asdict(row)`` gives name, value, unit,
    note (and group, versus)."""
    rounds = 3 if quick else 7
    return _startup_rows(rounds) + _list_rows(100, 5 if quick else 20)


def run_dicts(quick: bool = False) -> list[dict[str, object]]:
    """The same rows as plain dicts."""
    return [dataclasses.asdict(r) for r in run(quick)]


if __name__ == "__main__":
    for row in run_dicts(quick="--quick" in sys.argv):
        print(row)
