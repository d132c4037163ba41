"""KernelRuntime against real IPython kernel processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.asynchronous import AsyncKernelClient

from jupyter_sessions.emulator.runtimes.base import RuntimeHandle, RuntimeStartError
from jupyter_sessions.emulator.runtimes.kernel import KernelRuntime

REPO = Path(__file__).resolve().parents[2]
SESSION = "projects/p/locations/l/sessions/s1"

# Plays the emulator in its own process, so the test can kill -9 it like a crash would.
EMULATOR = """
import asyncio, json, os, sys, time
from pathlib import Path
# As under a kernel manager: kernels must still not tie their life to ours.
os.environ["JPY_PARENT_PID"] = str(os.getpid())
from jupyter_sessions.emulator.runtimes.kernel import KernelRuntime

async def wait_pool(rt):
    deadline = time.monotonic() + 60
    while rt.warm_kernels < 1:
        assert time.monotonic() < deadline, "warm pool never filled"
        await asyncio.sleep(0.05)

async def main():
    rt = KernelRuntime(Path(sys.argv[1]), warm_pool=1)
    await rt.open()
    await wait_pool(rt)
    handle = await rt.launch("projects/p/locations/l/sessions/crash", {})
    await wait_pool(rt)
    print(json.dumps(handle.to_dict()), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def unclaimed_pids(state_dir: Path) -> list[int]:
    files = (state_dir / "kernels").glob("kernel-*.unclaimed")
    return [int(json.loads(f.read_text())["pid"]) for f in files]


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def connect_only(connection_file: str) -> None:
    """Connect and wait for kernel_info, as a client attaching to a kernel does."""
    client = AsyncKernelClient(connection_file=connection_file)
    client.load_connection_file()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=30)
    finally:
        client.stop_channels()


async def run_cell(connection_file: str, code: str, timeout: float = 30.0) -> str:
    """Execute code as another client would (e.g. %%session); return its stdout."""
    client = AsyncKernelClient(connection_file=connection_file)
    client.load_connection_file()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=timeout)
        msg_id = client.execute(code)
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            msg = await client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        client.stop_channels()


async def test_pool_kernel_runs_code_reports_activity_and_usage_and_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an emulator that itself runs under a kernel manager, and a warm pool of one
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))
    rt = KernelRuntime(tmp_path, warm_pool=1)
    await rt.open()
    handle: RuntimeHandle | None = None
    refill_pid = 0
    try:
        await wait_for(lambda: rt.warm_kernels == 1, 60, "the warm pool")
        [pool_pid] = unclaimed_pids(tmp_path)
        assert running(pool_pid)

        # When a session launches
        started = time.monotonic()
        handle = await rt.launch(SESSION, {"jupyterSession": {"kernel": "PYTHON"}})
        claim_seconds = time.monotonic() - started

        # Then it gets the kernel that was already running, and a persistable handle
        data = handle.data
        assert data["pid"] == pool_pid, "the warm kernel was not used"
        assert claim_seconds < 5
        assert handle.kind == "kernel"
        assert RuntimeHandle.from_dict(json.loads(json.dumps(handle.to_dict()))) == handle
        assert data["kernel"] == "python"
        assert data["started"] <= time.time()
        conn = Path(data["connection_file"])
        assert conn.parent == tmp_path.resolve() / "kernels"
        assert stat.S_IMODE(conn.stat().st_mode) == 0o600
        info = json.loads(conn.read_text())
        assert info["ip"] == "127.0.0.1" and info["key"]
        assert rt.endpoints(handle)["Jupyter Kernel Connection File"] == str(conn)
        assert (
            rt.endpoints(handle)["Jupyter Kernel Shell"] == f"tcp://127.0.0.1:{info['shell_port']}"
        )
        assert Path(rt.endpoints(handle)["Jupyter Kernel Log"]).exists()
        assert rt.is_alive(handle)
        env = environ(pool_pid)
        assert env["JUPYTER_SESSIONS_RUNTIME"] == data["id"]
        assert "JPY_PARENT_PID" not in env
        assert os.getsid(pool_pid) == pool_pid  # own session: no terminal signals, own group
        assert unclaimed_pids(tmp_path) == [] or pool_pid not in unclaimed_pids(tmp_path)

        # And a client that merely connects (kernel_info) is not activity
        await connect_only(str(conn))
        await asyncio.sleep(0.3)  # let the kernel's IOPub status messages arrive
        assert rt.last_activity(handle) is None

        # When another client runs code (as %%session does), it runs in the session's kernel
        before = time.time()
        out = await run_cell(
            str(conn),
            "import os, subprocess\n"
            "print(os.environ['JUPYTER_SESSIONS_SESSION'])\n"
            "child = subprocess.Popen(['sleep', '300'])\n"
            "print(child.pid)",
        )
        session_name, child_pid = out.split()
        assert session_name == SESSION
        assert running(int(child_pid))
        # Then the activity clock moves
        last = rt.last_activity(handle)
        assert last is not None and last >= before

        # When a cell burns CPU, usage grows accordingly
        usage_before = rt.usage(handle)
        assert usage_before.rss_bytes > 10_000_000
        await run_cell(
            str(conn),
            "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.7: pass",
        )
        usage_after = rt.usage(handle)
        assert usage_after.cpu_seconds >= usage_before.cpu_seconds + 0.6
        assert usage_after.wall_seconds > usage_before.wall_seconds

        # And the pool refills in the background with a new kernel
        await wait_for(lambda: rt.warm_kernels == 1, 60, "the pool to refill")
        [refill_pid] = unclaimed_pids(tmp_path)
        assert refill_pid != pool_pid and running(refill_pid)

        # When the session stops, nothing of it is left, not even the kernel's child
        started = time.monotonic()
        await rt.stop(handle)
        assert time.monotonic() - started < 6
        assert not running(pool_pid)
        assert not running(int(child_pid))
        assert not conn.exists()
        assert not rt.is_alive(handle)
        # And stopping again is harmless, and usage keeps its last known value
        await rt.stop(handle)
        assert rt.usage(handle).cpu_seconds >= usage_after.cpu_seconds
    finally:
        if handle is not None:
            await rt.stop(handle)
        await rt.close()
    # Then closing the runtime stops the pool too, and leaves no files
    assert not running(refill_pid)
    assert list((tmp_path / "kernels").iterdir()) == []


async def test_scala_and_unknown_kernels_are_refused(tmp_path: Path) -> None:
    rt = KernelRuntime(tmp_path, warm_pool=0)
    await rt.open()
    try:
        for kernel in ("SCALA", 2):
            with pytest.raises(RuntimeStartError, match="Scala kernels are not available"):
                await rt.launch(SESSION, {"jupyterSession": {"kernel": kernel}})
        with pytest.raises(RuntimeStartError, match="Unknown kernel 'RUBY'"):
            await rt.launch(SESSION, {"jupyterSession": {"kernel": "RUBY"}})
        assert list((tmp_path / "kernels").iterdir()) == []  # nothing was started
    finally:
        await rt.close()


async def test_kernel_that_cannot_start_fails_fast_with_its_log(tmp_path: Path) -> None:
    crashing = tmp_path / "crashing-python"
    crashing.write_text("#!/bin/sh\necho 'ImportError: no ipykernel here' >&2\nexit 3\n")
    crashing.chmod(0o755)
    for python, expected in [
        ("/bin/false", "exited with code 1"),
        (str(crashing), "no ipykernel here"),
        (str(tmp_path / "missing-python"), "Could not start the python kernel"),
    ]:
        rt = KernelRuntime(tmp_path, warm_pool=0, python=python, start_timeout=30)
        await rt.open()
        try:
            started = time.monotonic()
            with pytest.raises(RuntimeStartError, match=expected):
                await rt.launch(SESSION, {})
            assert time.monotonic() - started < 5
        finally:
            await rt.close()
        assert list((tmp_path / "kernels").iterdir()) == []


async def test_kernels_outlive_a_crashed_emulator_and_are_readopted(tmp_path: Path) -> None:
    # Given an emulator process with a session kernel and a warm-pool kernel
    env = dict(os.environ, PYTHONPATH=str(REPO))
    caused: list[int] = []  # the kernels this test caused, stopped whatever happens
    try:
        emulator = await asyncio.create_subprocess_exec(
            sys.executable, "-c", EMULATOR, str(tmp_path), stdout=subprocess.PIPE, env=env
        )
        try:
            assert emulator.stdout is not None
            line = await asyncio.wait_for(emulator.stdout.readline(), 90)
            handle = RuntimeHandle.from_dict(json.loads(line))
            orphans = unclaimed_pids(tmp_path)
            caused = [int(handle.data["pid"]), *orphans]
            assert len(orphans) == 1
        finally:
            # When the emulator dies without any chance to clean up
            emulator.send_signal(signal.SIGKILL)
            await asyncio.wait_for(emulator.wait(), 10)
        pid = int(handle.data["pid"])
        # Then its kernels keep running (a kernel polling its parent would exit within 1 s)
        await asyncio.sleep(1.5)
        assert running(pid) and running(orphans[0])

        rt = KernelRuntime(tmp_path, warm_pool=0)
        try:
            # When a new emulator opens, the orphaned pool kernel is stopped
            await rt.open()
            # (SIGKILLed; on a loaded machine it can take a moment to go)
            await wait_for(lambda: not running(orphans[0]), 10, "the orphaned pool kernel")
            assert unclaimed_pids(tmp_path) == []
            # And the session kernel is adopted and works as before
            assert await rt.adopt(handle)
            assert rt.is_alive(handle)
            adopted_at = rt.last_activity(handle)
            assert adopted_at is not None
            out = await run_cell(handle.data["connection_file"], "print(6 * 7)")
            assert out.strip() == "42"
            last = rt.last_activity(handle)
            assert last is not None and last > adopted_at
            assert rt.usage(handle).rss_bytes > 0
            # Then it stops like any other
            await rt.stop(handle)
            assert not running(pid)
            assert not Path(handle.data["connection_file"]).exists()
        finally:
            await rt.close()
    finally:
        for leftover in caused:
            if running(leftover):
                os.kill(leftover, signal.SIGKILL)


async def test_adopt_kills_a_kernel_that_no_longer_answers(tmp_path: Path) -> None:
    # Given a cold-started kernel
    rt = KernelRuntime(tmp_path, warm_pool=0)
    await rt.open()
    try:
        handle = await rt.launch(SESSION, {"jupyterSession": {}})
        pid = int(handle.data["pid"])
        assert rt.is_alive(handle)
        # When it hangs and a restarted emulator tries to adopt it
        os.kill(pid, signal.SIGSTOP)
        other = KernelRuntime(tmp_path, warm_pool=0)
        other.adopt_timeout = 1.0
        started = time.monotonic()
        assert not await other.adopt(handle)
        # Then it is killed, within bounds
        assert time.monotonic() - started < 6
        assert not running(pid)
        assert not other.is_alive(handle)
        # And the original runtime can still stop it without error
        await rt.stop(handle)
        await other.close()
    finally:
        await rt.close()
        if running(pid):
            os.kill(pid, signal.SIGKILL)


async def test_adopt_and_stop_never_touch_dead_or_foreign_processes(tmp_path: Path) -> None:
    rt = KernelRuntime(tmp_path, warm_pool=0)
    await rt.open()
    foreign = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait(timeout=10)
    try:
        kernels = tmp_path.resolve() / "kernels"
        handles = [
            # a live process that is not our kernel (pid reuse)
            {"id": "a1", "pid": foreign.pid, "connection_file": str(kernels / "kernel-a1.json")},
            # this very process
            {"id": "a2", "pid": os.getpid(), "connection_file": str(kernels / "kernel-a2.json")},
            # a process that is gone
            {"id": "a3", "pid": dead.pid, "connection_file": str(kernels / "kernel-a3.json")},
            {},
        ]
        for data in handles:
            handle = RuntimeHandle("kernel", data)
            assert not rt.is_alive(handle)
            assert not await rt.adopt(handle)
            await rt.stop(handle)
            assert rt.last_activity(handle) is None
        assert running(foreign.pid)
    finally:
        await rt.close()
        foreign.kill()
        foreign.wait(timeout=10)


async def test_a_kernel_that_exits_on_its_own_is_reaped(tmp_path: Path) -> None:
    rt = KernelRuntime(tmp_path, warm_pool=0)
    await rt.open()
    try:
        handle = await rt.launch(SESSION, {})
        pid = int(handle.data["pid"])
        # When user code ends the kernel process
        client = AsyncKernelClient(connection_file=handle.data["connection_file"])
        client.load_connection_file()
        client.start_channels()
        try:
            client.execute("import os; os._exit(0)")
            # Then the runtime waits for it without being asked: no zombie is left behind
            await wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10, "the kernel to be reaped")
        finally:
            client.stop_channels()
        assert not rt.is_alive(handle)
        await rt.stop(handle)
    finally:
        await rt.close()
