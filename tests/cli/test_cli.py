"""``jupyter-sessions`` (and ``jupyter sessions``) as scripts use it: real subprocesses
against a real Jupyter server and its emulator, JSON output, and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..server.conftest import sessions_config
from ..support import PARENT, JupyterServerProcess

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    """A Jupyter server whose emulator simulates sessions taking 5 s to start (long enough
    to outlast a command's own start on a busy machine) and 1 s to stop."""
    config = sessions_config(
        emulator_args=["--start-delay", "5", "--stop-delay", "1", "--ttl-floor", "1"]
    )
    proc = JupyterServerProcess(tmp_path_factory.mktemp("cli-server"), config=config)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No discovery hints, and a runtime dir without running servers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SESSIONS_")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("no-servers"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


class Result:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"exit {self.code}\nstdout: {self.out}\nstderr: {self.err}"


def cli(env: dict[str, str], *args: str, server: JupyterServerProcess | None = None) -> Result:
    conn = ["--url", server.url, "--token", server.token] if server else []
    argv = [str(BIN / "jupyter-sessions"), *args[:1], *conn, *args[1:]]
    return Result(subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60))


def test_round_trip_with_json(server: JupyterServerProcess, clean_env: dict[str, str]) -> None:
    """Given a server, when a script creates, lists, describes, terminates and deletes a
    session with --json, then every step exits 0 and prints the API's JSON."""
    created = cli(clean_env, "create", "cli-one", "--label", "team=ops", "--json", server=server)
    assert created.code == 0, created
    session = created.json()
    assert session["name"] == f"{PARENT}/sessions/cli-one" and session["state"] == "ACTIVE"
    assert session["labels"]["team"] == "ops" and created.err == ""

    listed = cli(clean_env, "list", "--label", "team=ops", "--json", server=server)
    assert listed.code == 0, listed
    assert [s["name"] for s in listed.json()["sessions"]] == [session["name"]]

    described = cli(clean_env, "describe", "cli-one", "--json", server=server)
    assert described.code == 0 and described.json()["uuid"] == session["uuid"]

    terminated = cli(clean_env, "terminate", "cli-one", "--json", server=server)
    assert terminated.code == 0, terminated
    assert terminated.json()["state"] == "TERMINATED"

    deleted = cli(clean_env, "delete", "cli-one", "--json", server=server)
    assert deleted.code == 0, deleted
    op = deleted.json()
    assert op["done"] is True and op["response"]["state"] == "TERMINATED"

    gone = cli(clean_env, "describe", "cli-one", "--json", server=server)
    assert gone.code == 1 and gone.out == ""
    assert gone.err == f"error: Not found: Session {PARENT}/sessions/cli-one (NOT_FOUND)\n"


def test_api_errors_exit_1_with_one_line(
    server: JupyterServerProcess, clean_env: dict[str, str]
) -> None:
    """Duplicates, a second terminate and bad ids are API errors: exit 1, one line."""
    assert cli(clean_env, "create", "cli-dup", server=server).code == 0
    dup = cli(clean_env, "create", "cli-dup", server=server)
    assert dup.code == 1 and "ALREADY_EXISTS" in dup.err and dup.err.count("\n") == 1, dup
    assert cli(clean_env, "terminate", "cli-dup", "--async", server=server).code == 0
    twice = cli(clean_env, "terminate", "cli-dup", server=server)
    assert twice.code == 1 and "FAILED_PRECONDITION" in twice.err, twice
    bad = cli(clean_env, "create", "Bad_Id", server=server)
    assert bad.code == 1 and "INVALID_ARGUMENT" in bad.err, bad
    assert cli(clean_env, "delete", "cli-dup", server=server).code == 0


def test_wait_timeout_exits_3(server: JupyterServerProcess, clean_env: dict[str, str]) -> None:
    """Given a session still starting, when `wait` gives up first, then it exits 3; waiting
    long enough exits 0 with the ACTIVE session."""
    started = cli(clean_env, "create", "cli-wait", "--async", "--json", server=server)
    assert started.code == 0 and started.json()["state"] == "CREATING", started
    short = cli(clean_env, "wait", "cli-wait", "--timeout", "0.2s", server=server)
    assert short.code == 3, short
    assert "still CREATING" in short.err and short.err.count("\n") == 1
    done = cli(clean_env, "wait", "cli-wait", "--json", server=server)
    assert done.code == 0 and done.json()["state"] == "ACTIVE", done
    assert cli(clean_env, "delete", "cli-wait", "--async", server=server).code == 0


def test_unreachable_server_exits_4(clean_env: dict[str, str]) -> None:
    """Nothing listening at --url, or no server to discover: exit 4, one line."""
    for args in (["list", "--url", "http://127.0.0.1:9"], ["list"]):
        r = cli(clean_env, *args)
        assert r.code == 4, r
        assert r.err.startswith("error: ") and r.err.count("\n") == 1


def test_usage_errors_exit_2(clean_env: dict[str, str]) -> None:
    for args in (["create", "--ttl", "forever"], ["frobnicate"], ["describe"], []):
        r = cli(clean_env, *args)
        assert r.code == 2, r


def test_discovery_from_the_environment_and_text_output(
    server: JupyterServerProcess, clean_env: dict[str, str]
) -> None:
    """Given $JUPYTER_SESSIONS_URL/_TOKEN (as kernels of the server get them), when no
    --url is given, then the server is found; without --json the output is a table."""
    env = {**clean_env, "JUPYTER_SESSIONS_URL": server.url, "JUPYTER_SESSIONS_TOKEN": server.token}
    assert cli(env, "create", "cli-env", "--label", "via=env").code == 0
    listed = cli(env, "list", "--label", "via=env")
    assert listed.code == 0, listed
    header, row, caption = listed.out.splitlines()
    assert header.split() == ["session", "state", "age", "creator", "labels", "usage"]
    assert row.split()[:2] == ["cli-env", "ACTIVE"] and "via=env" in row
    assert caption == f"1 session in {PARENT}"
    config = cli(env, "config", "--json")
    assert config.json()["server"] == server.url and config.json()["backend"] == "local"
    described = cli(env, "describe", "cli-env")
    assert described.out.startswith("cli-env  ACTIVE") and "timeline" in described.out
    assert cli(env, "templates", "--json").json() == {"sessionTemplates": []}
    assert cli(env, "delete", "cli-env").out == "Deleted session cli-env\n"


def test_jupyter_sessions_is_a_jupyter_subcommand(
    server: JupyterServerProcess, clean_env: dict[str, str]
) -> None:
    """`jupyter sessions ...` runs the same command (Jupyter finds jupyter-sessions on
    PATH), exit codes included."""
    argv = [str(BIN / "jupyter"), "sessions", "list", "--url", server.url, "--token"]
    ok = subprocess.run(
        [*argv, server.token, "--json"], env=clean_env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert "sessions" in json.loads(ok.stdout)
    missing = subprocess.run(
        [
            str(BIN / "jupyter"),
            "sessions",
            "describe",
            "nope-nope",
            "--url",
            server.url,
            "--token",
            server.token,
        ],
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


def test_discovery_from_the_running_server_list(
    server: JupyterServerProcess, clean_env: dict[str, str]
) -> None:
    """Without --url or $JUPYTER_SESSIONS_URL, the newest running Jupyter server (from the
    runtime dir) is used, with its token."""
    env = {**clean_env, "JUPYTER_RUNTIME_DIR": str(server.runtime_dir)}
    r = cli(env, "config", "--json")
    assert r.code == 0, r
    assert r.json()["server"] == server.url and r.json()["project"] == "test-project"


def test_a_session_that_fails_to_start_exits_1(
    server: JupyterServerProcess, clean_env: dict[str, str]
) -> None:
    r = cli(clean_env, "create", "cli-spark", "--spark-connect", server=server)
    assert r.code == 1 and r.err.startswith("error: Session cli-spark is FAILED: "), r
    assert cli(clean_env, "delete", "cli-spark", server=server).code == 0
