"""Plain local python3 kernels that tests use as a notebook's own kernel (nbclient or a
KernelManager). They are the user's side, not the product: each gets its own IPython
directory, and a start that never answers kernel_info is retried once with a new kernel."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty
from typing import Any, TypeVar

import nbformat
from jupyter_client import BlockingKernelClient, KernelManager
from nbclient import NotebookClient

from .support import JupyterServerProcess

T = TypeVar("T")
START_TIMEOUT = 60
# What jupyter_client raises when a kernel does not answer kernel_info (as opposed to a
# cell failing): its process is up, but its sockets never reached ours.
START_FAILURES = ("Kernel didn't respond", "Kernel died before replying to kernel_info")


def local_kernel_env(base: dict[str, str], tmp: Path) -> dict[str, str]:
    """``base`` with a runtime and an IPython directory of the kernel's own, so parallel
    kernels share neither connection files nor IPython's history database."""
    env = dict(base)
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "kernel-runtime")
    env["IPYTHONDIR"] = str(tmp / "ipython")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def kernel_env(server: JupyterServerProcess, tmp: Path) -> dict[str, str]:
    """The environment of a kernel started outside the server (nbclient, a KernelManager):
    how to reach the test server, and nothing of the machine's own Jupyter setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SESSIONS_")}
    env.update({"JUPYTER_SESSIONS_URL": server.url, "JUPYTER_SESSIONS_TOKEN": server.token})
    return local_kernel_env(env, tmp)


def _start_failed(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and str(exc).startswith(START_FAILURES)


def _twice(start: Callable[[], T], what: str) -> T:
    try:
        return start()
    except RuntimeError as exc:
        if not _start_failed(exc):
            raise
        print(f"{what}: {exc}; starting a new kernel once more", file=sys.stderr)
    return start()


def start_kernel(env: dict[str, str], cwd: Path) -> tuple[KernelManager, BlockingKernelClient]:
    """A python3 kernel that has answered kernel_info, and its client with channels open."""

    def start() -> tuple[KernelManager, BlockingKernelClient]:
        km = KernelManager(kernel_name="python3")
        km.start_kernel(env=env, cwd=str(cwd))
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=START_TIMEOUT)
        except BaseException:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            raise
        return km, kc

    return _twice(start, "a local kernel did not start")


def execute(
    kc: BlockingKernelClient,
    code: str,
    timeout: float = 60.0,
    on_stream: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], list[tuple[float, dict[str, Any]]]]:
    """Execute ``code``; the execute_reply's content and the request's IOPub messages up to
    idle, each with the monotonic time it arrived."""
    msg_id = kc.execute(code)
    seen: list[tuple[float, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no idle after {timeout}s running {code!r}; got {seen}")
        try:
            msg = kc.get_iopub_msg(timeout=min(remaining, 1.0))
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append((time.monotonic(), msg))
        if on_stream is not None and msg["msg_type"] == "stream":
            on_stream(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    # Skip replies to other requests: wait_for_ready sends kernel_info again each second,
    # so a slow start leaves extra replies queued on the shell channel.
    while True:
        reply = kc.get_shell_msg(timeout=10)
        if reply["parent_header"].get("msg_id") == msg_id:
            return dict(reply["content"]), seen


def outputs_of(seen: list[tuple[float, dict[str, Any]]]) -> list[dict[str, Any]]:
    """IOPub messages as the nbformat outputs a notebook would keep."""
    outputs: list[dict[str, Any]] = []
    for _, msg in seen:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            outputs.append(
                {"output_type": "stream", "name": content["name"], "text": content["text"]}
            )
        elif kind in ("execute_result", "display_data"):
            outputs.append({"output_type": kind, "data": content["data"]})
    return outputs


def stop_kernel(km: KernelManager, kc: BlockingKernelClient, now: bool = False) -> None:
    kc.stop_channels()
    km.shutdown_kernel(now=now)


def notebook_client(nb: nbformat.NotebookNode, cwd: Path, timeout: float) -> NotebookClient:
    return NotebookClient(
        nb,
        kernel_name="python3",
        timeout=int(timeout),
        startup_timeout=START_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )


def execute_notebook(
    nb: nbformat.NotebookNode, env: dict[str, str], cwd: Path, timeout: float = 120
) -> None:
    """Run ``nb`` top to bottom in a new kernel, outputs written into ``nb``; a cell error
    raises, as nbclient's does. A start that failed ran no cell, so the retry starts clean."""
    pristine = [nbformat.from_dict(c) for c in nb.cells]

    def attempt() -> None:
        nb.cells = [nbformat.from_dict(c) for c in pristine]
        notebook_client(nb, cwd, timeout).execute(env=env, cwd=str(cwd))

    _twice(attempt, "a notebook's kernel did not start")


@contextlib.contextmanager
def notebook_kernel(env: dict[str, str], cwd: Path, timeout: float) -> Iterator[NotebookClient]:
    """An nbclient client over a new empty notebook with its kernel started."""
    stack = contextlib.ExitStack()

    def start() -> NotebookClient:
        client = notebook_client(nbformat.v4.new_notebook(), cwd, timeout)
        stack.enter_context(client.setup_kernel(env=env, cwd=str(cwd)))
        return client

    with stack:
        yield _twice(start, "a notebook's kernel did not start")
