"""Local Spark in the emulator's sessions, with real JVMs: a Jupyter session's kernel with
`spark` ready, a Spark Connect session queried by PySpark's client, `%session spark`.

Each JVM start costs seconds of CPU, so one emulator serves the module and the tests are few.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jupyter_client.blocking import BlockingKernelClient

from ..support import EmulatorProcess, pid_alive, wait_for, wait_state

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
    from nbclient import NotebookClient
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
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    runner = NotebookClient(nb, kernel_name="python3", timeout=int(JVM_START), startup_timeout=60)
    with pytest.raises(CellExecutionError) as refused:
        runner.execute(env=env, cwd=str(tmp_path))
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
