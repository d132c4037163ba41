"""``%%session`` seen from a frontend: a real kernel (started like a notebook's) runs the
magics against a real Jupyter server whose emulator runs a real kernel per session. The
IOPub messages are timestamped, so streaming and interrupts are measured, not assumed."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import KernelManager

from ..local_kernel import execute, start_kernel, stop_kernel
from ..support import PARENT, JupyterServerProcess
from .conftest import kernel_env

API = "jupyter-sessions/v1/"


class Frontend:
    """A kernel and a client, as a notebook frontend has them."""

    def __init__(self, km: KernelManager, kc: BlockingKernelClient) -> None:
        self.km = km
        self.kc = kc

    def run(
        self, code: str, timeout: float = 60.0, on_stream: Any = None
    ) -> tuple[dict[str, Any], list[tuple[float, dict[str, Any]]]]:
        """Execute ``code``; return the execute_reply and the request's IOPub messages,
        each with the monotonic time it arrived."""
        return execute(self.kc, code, timeout, on_stream)


def streams(seen: list[tuple[float, dict[str, Any]]]) -> list[tuple[float, str]]:
    """Each line the cell printed, with the time its end arrived. A kernel may send one
    print in more than one stream message (its writes and its flushes race), so lines are
    put back together before they are compared."""
    lines: list[tuple[float, str]] = []
    pending = ""
    for t, m in seen:
        if m["msg_type"] != "stream":
            continue
        pending += m["content"]["text"]
        while "\n" in pending:
            line, pending = pending.split("\n", 1)
            lines.append((t, line + "\n"))
    if pending:
        lines.append((seen[-1][0], pending))
    return lines


@pytest.fixture(scope="module")
def frontend(
    kernel_server: JupyterServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Frontend]:
    tmp = tmp_path_factory.mktemp("frontend")
    km, kc = start_kernel(kernel_env(kernel_server, Path(tmp)), Path(tmp))
    fe = Frontend(km, kc)
    reply, _ = fe.run("%load_ext jupyter_sessions\n%session create remote-demo", timeout=120)
    assert reply["status"] == "ok", reply
    yield fe
    stop_kernel(km, kc)


def test_output_streams_while_the_cell_runs(frontend: Frontend) -> None:
    """Given a remote cell that prints, sleeps 1 s and prints, when it runs, then the first
    line reaches the frontend about a second before the second and before the cell ends."""
    start = time.monotonic()
    reply, seen = frontend.run(
        "%%session\nimport time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')"
    )
    assert reply["status"] == "ok", reply
    got = streams(seen)
    assert [text for _, text in got] == ["first\n", "second\n"]
    (t_first, _), (t_second, _) = got
    idle = seen[-1][0]
    assert t_second - t_first >= 0.8, got
    assert idle - t_first >= 0.8, "the first line arrived only at the end of the cell"
    assert t_first - start < 1.0


def test_interrupt_reaches_the_session_kernel(frontend: Frontend) -> None:
    """Given a remote cell sleeping for a minute, when the frontend interrupts the local
    kernel, then the remote code is interrupted within seconds, the cell fails with the
    remote KeyboardInterrupt, and the session kernel keeps its state."""
    reply, _ = frontend.run("%%session\nkept = 'state survives'")
    assert reply["status"] == "ok"
    interrupted_at: list[float] = []

    def interrupt_on_start(text: str) -> None:
        if "sleeping" in text and not interrupted_at:
            interrupted_at.append(time.monotonic())
            frontend.km.interrupt_kernel()

    reply, seen = frontend.run(
        "%%session\nimport time\nprint('sleeping', flush=True)\ntime.sleep(60)\nprint('no')",
        timeout=30,
        on_stream=interrupt_on_start,
    )
    assert interrupted_at, "the cell never started"
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
    assert seen[-1][0] - interrupted_at[0] < 10
    assert "no\n" not in [text for _, text in streams(seen)]
    reply, seen = frontend.run("%%session\nprint(kept)")
    assert reply["status"] == "ok"
    assert [text for _, text in streams(seen)] == ["state survives\n"]


def test_cell_timeout_interrupts_the_remote_code(frontend: Frontend) -> None:
    """Given %%session --timeout 1s on a cell that sleeps, when it runs, then it is
    interrupted after about a second with a one-line error."""
    start = time.monotonic()
    reply, _ = frontend.run("%%session --timeout 1s\nimport time\ntime.sleep(30)")
    assert reply["status"] == "error" and reply["ename"] == "SessionError", reply
    assert "longer than its 1s timeout" in reply["evalue"]
    assert time.monotonic() - start < 10


def test_remote_tracebacks_point_at_the_notebooks_cells(frontend: Frontend) -> None:
    """Given a function defined by one %%session cell and called by a later one, when the
    call fails, then the traceback's ``Cell In[N]`` frames are the notebook's cell numbers
    (not the session kernel's), and the result of a last expression is the cell's result."""
    for _ in range(3):  # local cells move the notebook's count away from the remote one
        reply, _ = frontend.run("1")
        assert reply["status"] == "ok"
    define, _ = frontend.run("%%session\ndef explode():\n    return 1 / 0")
    assert define["status"] == "ok"
    call, seen = frontend.run("%%session\nx = 1\nexplode()")
    assert call["status"] == "error" and call["ename"] == "ZeroDivisionError", call
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(call["traceback"]))
    cited = [int(n) for n in re.findall(r"Cell In\[(\d+)\]", plain)]
    assert cited == [call["execution_count"], define["execution_count"]], plain
    assert "Session cell" not in plain
    result, seen = frontend.run("%%session\n6 * 7")
    assert result["status"] == "ok"
    results = [m for _, m in seen if m["msg_type"] == "execute_result"]
    assert [m["content"]["data"]["text/plain"] for m in results] == ["42"]
    assert results[0]["content"]["execution_count"] == result["execution_count"]


def test_a_dying_session_kernel_fails_the_cell(
    frontend: Frontend, kernel_server: JupyterServerProcess
) -> None:
    """Given a remote cell that kills its own kernel, when it runs, then the cell fails with
    the session's new state (bounded by the liveness check) instead of hanging."""
    reply, _ = frontend.run("%session create doomed-demo --keep", timeout=60)
    assert reply["status"] == "ok", reply
    start = time.monotonic()
    reply, _ = frontend.run(
        "%%session doomed-demo\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        timeout=40,
    )
    assert reply["status"] == "error" and reply["ename"] == "SessionError", reply
    assert "doomed-demo is FAILED" in reply["evalue"], reply["evalue"]
    assert time.monotonic() - start < 20
    with kernel_server.client() as api:
        api.delete(f"{API}{PARENT}/sessions/doomed-demo")
