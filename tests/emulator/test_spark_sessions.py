"""Local Spark in the emulator's sessions, with real JVMs: a Jupyter session's kernel with
`spark` ready, a Spark Connect session queried by PySpark's client, `%session spark`.

Each JVM start costs seconds of CPU, so one emulator serves the module and the tests are few.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jupyter_client.blocking import BlockingKernelClient

from jupyter_sessions.api.model import Session
from jupyter_sessions.notebook.render import SessionView

from ..local_kernel import execute_notebook, local_kernel_env
from ..support import EmulatorProcess, new_venv, pid_alive, wait_for, wait_state

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="needs pyspark"),
    pytest.mark.skipif(shutil.which("java") is None, reason="needs java"),
    pytest.mark.timeout(600),
    pytest.mark.spark,
]

PARENT = "projects/spark-project/locations/local"
JVM_START = 240.0  # a bound, not an expectation: a JVM on a busy 2-core machine


# What a cell sees of `spark`, as one JSON line (no names left in the user's namespace).
SPARK_FACTS = (
    "print(__import__('json').dumps({'count': spark.range(1000).count(),"
    " 'app': spark.sparkContext.appName,"
    " 'partitions': spark.conf.get('spark.sql.shuffle.partitions'),"
    " 'pid': __import__('os').getpid()}))"
)


def new_id() -> str:
    return "s-" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def spark_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("spark-emu"),
        "--runtime",
        "kernel",
        "--spark",
        "auto",
        "--warm-pool",
        "1",
        "--usage-interval",
        "1",
        "--tick",
        "0.5",
    ).start()
    yield emu
    emu.stop(timeout=60)


@pytest.fixture(scope="module")
def python_without_pyspark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with this one's packages (for ipykernel), PySpark left out."""
    python, site = new_venv(tmp_path_factory.mktemp("no-pyspark") / "venv")
    shared = tmp_path_factory.mktemp("packages-but-pyspark")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(("pyspark", "py4j")):
            (shared / entry.name).symlink_to(entry)
    Path(site, "shared.pth").write_text(f"{shared}\n")
    return python


@pytest.fixture(scope="module")
def light_emulator(
    tmp_path_factory: pytest.TempPathFactory, python_without_pyspark: Path
) -> Iterator[EmulatorProcess]:
    """An emulator that starts no JVM of its own: no warm pool; runtime version 2.2 runs in
    a Python without PySpark."""
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("light-emu"),
        "--runtime",
        "kernel",
        "--spark",
        "auto",
        "--warm-pool",
        "0",
        "--session-python",
        f"2.2={python_without_pyspark}",
    ).start()
    yield emu
    emu.stop(timeout=60)


def create(client: httpx.Client, sid: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/v1/{PARENT}/sessions", params={"sessionId": sid}, json=body)
    assert r.status_code == 200, r.text
    got = wait_state(client, f"{PARENT}/sessions/{sid}", {"ACTIVE", "FAILED"}, timeout=JVM_START)
    assert got["state"] == "ACTIVE", got.get("stateMessage")
    return got


def execute(connection_file: str, code: str, timeout: float = JVM_START) -> str:
    """Run code in a kernel; its stdout (a cell error fails the test with its traceback)."""
    kc = BlockingKernelClient(connection_file=connection_file)
    kc.load_connection_file()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])

        reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        assert reply["content"]["status"] == "ok", reply["content"].get("traceback")
        return "".join(out)
    finally:
        kc.stop_channels()


def jvm_of(kernel_pid: int) -> int:
    """The java process in the kernel's process group."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == kernel_pid and "java" in stat[: stat.rfind(")")]:
            return int(entry)
    raise AssertionError(f"no JVM in the process group of kernel {kernel_pid}")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_session_kernel_starts_with_spark(spark_emulator: EmulatorProcess) -> None:
    """Given an emulator with local Spark and a session with a Spark property
    When code runs in the session's kernel
    Then `spark` is a SparkSession named after the session, with that property, that
    counts 1000 rows; its UI answers at the `Spark UI` endpoint; and the session's usage
    counts the JVM's memory beside the kernel's; a kernel restart brings a new kernel and JVM
    with the same `spark` setup; terminating stops the JVM."""
    sid = new_id()
    with spark_emulator.client() as client:
        session = create(
            client,
            sid,
            {"runtimeConfig": {"properties": {"spark:spark.sql.shuffle.partitions": "7"}}},
        )
        endpoints = session["runtimeInfo"]["endpoints"]
        conn = endpoints["Jupyter Kernel Connection File"]
        got = json.loads(execute(conn, SPARK_FACTS).strip().splitlines()[-1])
        assert got["count"] == 1000
        assert got["app"] == sid
        assert got["partitions"] == "7"

        ui = httpx.get(endpoints["Spark UI"], follow_redirects=True, timeout=30)
        assert ui.status_code == 200
        assert "Spark" in ui.text

        jvm = jvm_of(got["pid"])
        jvm_gib = rss_bytes(jvm) / 1024**3
        # milliDcu = 1000 * (0.6 * cpu share + 0.1 * GiB resident): the JVM's memory alone
        # weighs 100 * its GiB; the kernel alone never reaches it.
        floor = int(0.9 * 100 * jvm_gib)

        def counted() -> dict[str, Any] | None:
            s = client.get(f"/v1/{PARENT}/sessions/{sid}").json()
            milli = int(s["runtimeInfo"].get("currentUsage", {}).get("milliDcu", 0))
            return s if milli >= floor else None

        wait_for(counted, 30, what=f"currentUsage.milliDcu >= {floor}")

        # A restart gives a fresh kernel, and a fresh JVM, with the same SparkSession setup.
        restarted = client.post(f"/gateway/{PARENT}/api/kernels/{session['uuid']}/restart", json={})
        assert restarted.status_code == 200, restarted.text
        wait_for(lambda: not pid_alive(jvm), 30, what="the old JVM to stop with its kernel")
        again = json.loads(execute(conn, SPARK_FACTS).strip().splitlines()[-1])
        assert again["count"] == 1000 and again["app"] == sid and again["partitions"] == "7"
        assert again["pid"] != got["pid"]
        new_jvm = jvm_of(again["pid"])

        client.post(f"/v1/{PARENT}/sessions/{sid}:terminate", json={})
        wait_state(client, f"{PARENT}/sessions/{sid}", {"TERMINATED"}, timeout=60)
        wait_for(lambda: not pid_alive(new_jvm), 30, what="the JVM to stop with its session")


def test_spark_connect_session_and_readoption(spark_emulator: EmulatorProcess) -> None:
    """Given a Spark Connect session on the emulator
    When PySpark's Connect client queries its endpoint, the emulator is killed -9 and
    started again, and the session is terminated
    Then the query counts 1000 rows; the restarted emulator re-adopts the same server
    (still ACTIVE, same endpoint, still answering); terminating stops the server."""
    sid = new_id()
    with spark_emulator.client() as client:
        session = create(client, sid, {"sparkConnectSession": {}})
    url = session["runtimeInfo"]["endpoints"]["Spark Connect Server"]
    assert url.startswith("sc://localhost:")
    query = (
        "import sys\nfrom pyspark.sql import SparkSession\n"
        "s = SparkSession.builder.remote(sys.argv[1]).create()\n"
        "print(s.range(1000).count())\n"
    )

    def count() -> str:
        done = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", query, url],
            capture_output=True,
            text=True,
            timeout=JVM_START,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip().splitlines()[-1]

    assert count() == "1000"
    port = int(url.split(":")[2].split("/")[0])
    server_pid = next(
        int(p) for p in os.listdir("/proc") if p.isdigit() and _cmdline_has_port(int(p), port)
    )

    spark_emulator.kill9()
    spark_emulator.start(timeout=60)
    with spark_emulator.client() as client:
        again = client.get(f"/v1/{PARENT}/sessions/{sid}").json()
        assert again["state"] == "ACTIVE"
        assert again["runtimeInfo"]["endpoints"]["Spark Connect Server"] == url
        assert pid_alive(server_pid)
        assert count() == "1000"
        client.post(f"/v1/{PARENT}/sessions/{sid}:terminate", json={})
        wait_state(client, f"{PARENT}/sessions/{sid}", {"TERMINATED"}, timeout=60)
    assert not pid_alive(server_pid)


def _cmdline_has_port(pid: int, port: int) -> bool:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"spark.connect.grpc.binding.port={port}".encode() in args


def test_session_spark_magic_binds_a_connect_session(
    spark_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Given a Spark Connect session and a notebook whose magics point at the emulator
    When the notebook runs `%session spark ID` and then uses `spark`
    Then `spark` is a Spark Connect session of that server whose queries run there; on a
    Jupyter session the command is a cell error saying why it does not apply."""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    sid = new_id()
    with spark_emulator.client() as client:
        create(client, sid, {"sparkConnectSession": {}})
        plain = new_id()
        create(client, plain, {})
    url = spark_emulator.url
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_sessions"),
        nbformat.v4.new_code_cell(
            f"%session config --url {url} --project spark-project --location local"
        ),
        nbformat.v4.new_code_cell(f"shown = %session spark {sid}\nprint(shown)"),
        nbformat.v4.new_code_cell(
            "print(type(spark).__module__, spark.range(1000).count(), flush=True)"
        ),
        nbformat.v4.new_code_cell(f"%session spark {plain}"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SESSIONS_")}
    with pytest.raises(CellExecutionError) as refused:
        execute_notebook(nb, local_kernel_env(env, tmp_path), tmp_path, timeout=JVM_START)
    texts = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells]
    assert sid in texts[2] and "sc://localhost:" in texts[2]
    assert "token" not in texts[2]  # the summary never shows the server's token
    assert texts[3].strip() == "pyspark.sql.connect.session 1000"
    assert "is a Jupyter session, not a Spark Connect session" in str(refused.value)
    with spark_emulator.client() as client:
        for s in (sid, plain):
            client.post(f"/v1/{PARENT}/sessions/{s}:terminate", json={})


@pytest.mark.skipif(
    importlib.util.find_spec("google.cloud.dataproc_spark_connect") is not None,
    reason="dataproc-spark-connect is installed here",
)
def test_on_dataproc_the_magic_says_what_to_install() -> None:
    """Given no dataproc-spark-connect in the kernel
    When `%session spark` is asked for a Dataproc session
    Then the error says to install Google's client."""
    from jupyter_sessions.notebook.cell_errors import SessionError
    from jupyter_sessions.notebook.spark_magic import connect_dataproc

    with pytest.raises(SessionError, match=r"pip install dataproc-spark-connect"):
        connect_dataproc("projects/p/locations/us-central1/sessions/s1")


def test_session_in_a_python_without_pyspark_has_no_spark_ui(
    light_emulator: EmulatorProcess, python_without_pyspark: Path
) -> None:
    """Given an emulator with Java whose runtime version 2.2 runs in a Python without PySpark
    When a 2.2 session is created
    Then its endpoints have no Spark UI but say Spark is not available locally, why (that
    Python has no PySpark) and what to install, as `%session describe` does; its kernel runs
    in that Python without `spark` and without trying to start Spark."""
    sid = new_id()
    with light_emulator.client() as client:
        s = create(client, sid, {"runtimeConfig": {"version": "2.2"}})
        endpoints = s["runtimeInfo"]["endpoints"]
        assert "Spark UI" not in endpoints
        note = endpoints["Spark"]
        assert note.startswith(
            f"not available locally: PySpark is not installed in the session's Python "
            f"({python_without_pyspark})"
        )
        assert "pip install 'jupyter-sessions[spark]' in that Python" in note
        described = SessionView.of(Session.from_json(s))._text()  # `%session describe`
        assert "Spark: not available locally: PySpark is not installed" in described
        got = json.loads(
            execute(
                endpoints["Jupyter Kernel Connection File"],
                "import sys, json, importlib.util\n"
                "print(json.dumps({'prefix': sys.prefix,"
                " 'pyspark': importlib.util.find_spec('pyspark') is not None,"
                " 'spark': 'spark' in globals() or '__jupyter_sessions_spark__' in globals()}))",
                timeout=60,
            )
        )
        assert os.path.realpath(got["prefix"]) == os.path.realpath(
            python_without_pyspark.parent.parent
        )
        assert got["pyspark"] is False and got["spark"] is False
        client.post(f"/v1/{PARENT}/sessions/{sid}:terminate", json={})
        wait_state(client, f"{PARENT}/sessions/{sid}", {"TERMINATED"}, timeout=60)


def _server_records(emu: EmulatorProcess, session: str) -> list[dict[str, Any]]:
    """The emulator's records of the Spark Connect servers it started for a session."""
    found = []
    for path in (emu.workdir / f"{emu.db.stem}-runtime" / "connect").glob("connect-*.json"):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            if data.get("session") == session:
                found.append(data)
    return found


def _marked(rid: str) -> list[int]:
    """Running processes that carry a runtime id in their environment (the server and what
    it started)."""
    marker = f"JUPYTER_SESSIONS_RUNTIME={rid}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in env and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_spark_connect_start_interrupted_by_a_crash(light_emulator: EmulatorProcess) -> None:
    """Given a Spark Connect session whose server is still starting (session CREATING)
    When the emulator is killed -9 and started again on the same database
    Then the server started for it is either serving the session, ACTIVE, or gone with
    everything it started; the session ends ACTIVE on a listening server, or FAILED with a
    stateMessage; terminating it leaves none of its processes running."""
    sid = new_id()
    name = f"{PARENT}/sessions/{sid}"
    started: list[str] = []  # runtime ids of the servers started for this session
    try:
        with light_emulator.client() as client:
            r = client.post(
                f"/v1/{PARENT}/sessions",
                params={"sessionId": sid},
                json={"sparkConnectSession": {}},
            )
            assert r.status_code == 200, r.text
            first = wait_for(
                lambda: [d for d in _server_records(light_emulator, name) if d.get("pid")],
                60,
                what="the session's Spark Connect server to be started",
            )[0]
            started.append(first["id"])
            assert client.get(f"/v1/{name}").json()["state"] == "CREATING"
            assert not _listening(int(first["port"]))  # still starting
        light_emulator.kill9()
        assert pid_alive(int(first["pid"]))  # the crash does not take the server with it

        light_emulator.start(timeout=60)
        with light_emulator.client() as client:
            got = wait_state(client, name, {"ACTIVE", "FAILED"}, timeout=JVM_START)
            started += [d["id"] for d in _server_records(light_emulator, name)]
            url = (
                (got.get("runtimeInfo") or {}).get("endpoints", {}).get("Spark Connect Server", "")
            )
            if got["state"] == "ACTIVE" and f"localhost:{first['port']}/" in url:
                assert pid_alive(int(first["pid"]))  # re-adopted
            else:
                wait_for(
                    lambda: not _marked(first["id"]),
                    30,
                    what="the interrupted server and its children to be stopped",
                )
            if got["state"] == "FAILED":
                assert got.get("stateMessage")
            else:
                port = int(url.split(":")[2].split("/")[0])
                assert _listening(port)
                client.post(f"/v1/{name}:terminate", json={})
                wait_state(client, name, {"TERMINATED"}, timeout=60)
        wait_for(
            lambda: not any(_marked(rid) for rid in started),
            30,
            what="every server started for the session to be stopped",
        )
    finally:
        for rid in set(started):  # only what this test's emulator started for its session
            for pid in _marked(rid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
