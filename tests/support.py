"""Test helpers: real emulator processes on loopback, bounded waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
PARENT = "projects/test-project/locations/us-central1"


def wait_for(
    predicate: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll until predicate returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what or predicate} (last={last!r})"
    )


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class EmulatorProcess:
    """``jupyter-sessions emulator`` as a child process on a free loopback port."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.workdir = workdir
        self.args = list(args)
        self.db = workdir / "emulator.sqlite"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = workdir / "emulator.log"

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        ready = self.workdir / "ready.json"
        ready.unlink(missing_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_sessions.cli",
                "emulator",
                "--port",
                "0",
                "--db",
                str(self.db),
                "--ready-file",
                str(ready),
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        proc = self.proc
        wait_for(
            lambda: ready.exists() or proc.poll() is not None, timeout, what="emulator ready file"
        )
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited: {self.log_path.read_text()[-2000:]}")
        self.url = json.loads(ready.read_text())["url"]
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stats(self) -> dict[str, int]:
        with self.client() as c:
            return dict(c.get("/emulator/stats").json()["requests"])


def wait_state(
    client: httpx.Client, name: str, states: set[str], timeout: float = 60.0
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        r = client.get(f"/v1/{name}")
        if r.status_code == 200 and r.json().get("state") in states:
            return dict(r.json())
        return None

    return wait_for(check, timeout, what=f"{name} in {states}")


def wait_operation(client: httpx.Client, op_name: str, timeout: float = 60.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        r = client.get(f"/v1/{op_name}")
        assert r.status_code == 200, r.text
        return dict(r.json()) if r.json().get("done") else None

    return wait_for(check, timeout, what=f"operation {op_name} done")


class JupyterServerProcess:
    """``jupyter server`` (or ``jupyter lab``) with this package's extension, as a child
    process on loopback.

    Runtime, data and config directories live under ``workdir`` so tests never touch
    (or see) anything of the machine's own Jupyter setup.
    """

    APPS = ("jupyter_server", "jupyterlab", "notebook")
    FRONT_END_EXTENSIONS = (
        "jupyterlab",
        "notebook",
        "notebook_shim",
        "jupyter_lsp",
        "jupyter_server_terminals",
    )

    def __init__(
        self,
        workdir: Path,
        *args: str,
        token: str = "test-token",
        config: dict[str, Any] | None = None,
        app: str = "jupyter_server",
        port: int = 0,
    ) -> None:
        if app not in self.APPS:
            raise ValueError(f"app must be one of {self.APPS}, got {app!r}")
        self.workdir = workdir
        self.args = list(args)
        self.token = token
        self.app = app
        self.port = port  # 0: a free one, chosen by the server
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = workdir / "server.log"
        self.runtime_dir = workdir / "runtime"
        self.data_dir = workdir / "data"
        self.env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTER_DATA_DIR": str(self.data_dir),
            "JUPYTER_CONFIG_DIR": str(workdir / "config"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONFAULTHANDLER": "1",  # stacks in the log if it has to be stopped hard
        }
        config = dict(config or {})
        if app == "jupyter_server":
            # Only this package's extension: a server needs no front end to be tested over
            # HTTP, and loading JupyterLab's takes a second of CPU at each of many starts.
            server_app = dict(config.get("ServerApp", {}))
            server_app["jpserver_extensions"] = {
                **dict.fromkeys(self.FRONT_END_EXTENSIONS, False),
                **server_app.get("jpserver_extensions", {}),
            }
            config["ServerApp"] = server_app
        (workdir / "config").mkdir(parents=True, exist_ok=True)
        (workdir / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        for var in ("JUPYTER_SESSIONS_URL", "JUPYTER_SESSIONS_TOKEN"):
            self.env.pop(var, None)

    def start(self, timeout: float = 60.0) -> JupyterServerProcess:
        (self.workdir / "root").mkdir(exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                self.app,
                "--allow-root",
                "--no-browser",
                f"--port={self.port}",
                "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.workdir / 'root'}",
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        log.close()
        proc = self.proc
        info_file = self.runtime_dir / f"jpserver-{proc.pid}.json"

        def info() -> dict[str, Any] | None:
            # The server writes the file in place: it can be seen empty or half written.
            if proc.poll() is not None:
                return {"exited": proc.returncode}
            try:
                data = json.loads(info_file.read_text())
            except (OSError, ValueError):
                return None
            return data if isinstance(data, dict) and data.get("url") else None

        found = wait_for(info, timeout, what="server info file")
        if proc.poll() is not None or "url" not in found:
            raise RuntimeError(f"jupyter server exited: {self.log_path.read_text()[-3000:]}")
        self.url = str(found["url"])

        def answers() -> bool:
            # The info file is written a moment before the port accepts connections.
            try:
                with httpx.Client(timeout=5.0) as c:
                    return c.get(self.url + "api/status", params={"token": self.token}).is_success
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout, what="jupyter server answering")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def client(self, *, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"token {token or self.token}"}
        return httpx.Client(base_url=self.url, timeout=30.0, headers=headers, **kwargs)

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)

    @property
    def emulator_token_file(self) -> Path:
        """The embedded emulator's token (written by the supervisor, 0600)."""
        return self.data_dir / "jupyter_sessions" / "emulator.token"

    def emulator(self, **kwargs: Any) -> httpx.Client:
        """A client straight to the embedded emulator, with the token only its server holds."""
        token = self.emulator_token_file.read_text().strip()
        return httpx.Client(
            base_url=self.config()["endpoint"],
            timeout=30.0,
            headers={"Authorization": f"Bearer {token}"},
            **kwargs,
        )

    def config(self) -> dict[str, Any]:
        with self.client() as c:
            r = c.get("jupyter-sessions/config")
            r.raise_for_status()
            return dict(r.json())

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGABRT first: faulthandler writes every thread's stack to the log.
            self.proc.send_signal(signal.SIGABRT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-60:])
            # A server that ignores SIGTERM keeps a user's terminal (and ports) hostage.
            raise AssertionError(
                f"jupyter server {self.proc.pid} was still running {timeout:.0f}s after "
                f"SIGTERM (stopped); the end of {self.log_path}:\n{tail}"
            ) from None


def read_sse(response: httpx.Response) -> Any:
    """Yield (event, data) pairs from a streaming text/event-stream response."""
    event, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


class SseRecorder:
    """Records a server's event stream in a background thread (tests set a short
    heartbeat, so the reader notices ``stop()`` within a second)."""

    def __init__(self, server: JupyterServerProcess, parent: str = PARENT) -> None:
        import threading

        self.events: list[tuple[float, str, Any]] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._server = server
        self._parent = parent
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with (
                self._server.client() as client,
                client.stream(
                    "GET", "jupyter-sessions/events", params={"parent": self._parent}
                ) as response,
            ):
                response.raise_for_status()
                for event, data in read_sse(response):
                    self.events.append((time.time(), event, data))
                    if self._stop.is_set():
                        return
        except BaseException as exc:  # surfaced by the test through .error
            if not self._stop.is_set():
                self.error = exc

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.events]

    def states_of(self, name: str) -> list[str]:
        """States seen for one session, consecutive duplicates folded."""
        seen: list[str] = []
        for _, kind, data in self.events:
            state = None
            if kind == "session" and data.get("name") == name:
                state = data.get("state")
            elif kind == "snapshot":
                state = next((s["state"] for s in data["sessions"] if s["name"] == name), None)
            if state and (not seen or seen[-1] != state):
                seen.append(state)
        return seen

    def wait(self, predicate: Callable[[SseRecorder], bool], timeout: float = 30.0) -> None:
        wait_for(lambda: self.error or predicate(self), timeout, what="events")
        if self.error:
            raise AssertionError(f"event stream failed: {self.error!r}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @staticmethod
    def stop_all(recorders: list[SseRecorder]) -> None:
        for rec in recorders:
            rec._stop.set()
        for rec in recorders:
            rec._thread.join(timeout=5)


def new_venv(root: Path) -> tuple[Path, Path]:
    """A bare virtual environment at ``root``: its python and its site-packages folder."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120
    )
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    return python, Path(site)
