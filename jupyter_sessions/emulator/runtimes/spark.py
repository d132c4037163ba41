"""Local Spark for the emulator's session kernels.

When PySpark (in the session's Python) and Java are present, each session kernel starts
with ``spark`` bound to a local SparkSession: master ``local[N]``, the app name from the
session id, and the session's ``runtimeConfig.properties`` that local Spark honours. The
JVM is a child of the kernel, in its process group, so the kernel runtime's usage, stop
and clean-up cover it with nothing more.

Cost: a cold JVM with its first SparkSession takes seconds. Warm-pool kernels therefore
start the JVM at once and run a tiny job in it; when a session claims one, only the
session's own SparkSession is built (a fraction of a second), in the background, and the
first cell waits for it if it comes early. Sessions asking for other JVM options (driver
memory, extra Java options or class path) get a fresh JVM.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INIT_SCRIPT = Path(__file__).with_name("spark_kernel_init.py")
SPARK_UI = "Spark UI"
SPARK_UNAVAILABLE = "Spark"
INSTALL_HINT = (
    "pip install 'jupyter-sessions[spark]' in the session's Python and install Java 17 "
    "(e.g. apt-get install openjdk-17-jre-headless), then restart the emulator"
)
# Properties that are about Dataproc's machines, not about Spark in one local JVM.
_IGNORED_PREFIXES = (
    "spark.dataproc.",
    "spark.executor.",
    "spark.dynamicAllocation.",
    "spark.master",
    "spark.submit.",
    "spark.driver.host",
    "spark.driver.bindAddress",
    "spark.ui.port",
    "spark.app.name",
)
LAUNCH_KEYS = (
    "spark.driver.memory",
    "spark.driver.extraJavaOptions",
    "spark.driver.extraClassPath",
    "spark.driver.extraLibraryPath",
)
# The JVM options of Dataproc's default properties: warm-pool JVMs start with them, so
# sessions with default properties use the pre-started JVM.
DEFAULT_LAUNCH = {"spark.driver.memory": "9600m"}


@dataclass(frozen=True)
class SparkProbe:
    """Whether local Spark can run, and if not why."""

    available: bool
    reason: str = ""
    java: str = ""


def probe(python: str) -> SparkProbe:
    """Look for Java and for PySpark in ``python`` (the sessions' interpreter)."""
    java_home = os.environ.get("JAVA_HOME", "")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java") or ""
    if not java or not os.access(java, os.X_OK):
        return SparkProbe(False, "no Java runtime found (java on PATH or JAVA_HOME)")
    try:
        found = subprocess.run(
            [python, "-c", "import importlib.util as u; print(u.find_spec('pyspark') is not None)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SparkProbe(False, f"cannot run the sessions' Python {python}: {exc}")
    if found.stdout.strip() != "True":
        return SparkProbe(False, f"PySpark is not installed in the sessions' Python ({python})")
    return SparkProbe(True, java=java)


def local_conf(
    session_name: str, config: dict[str, Any], cpus: int | None = None
) -> dict[str, str]:
    """The SparkSession configuration of a session: its ``spark:`` properties that local
    Spark honours, ``local[N]`` (N = spark.driver.cores, at most the CPUs here), the session
    id as app name, loopback addresses and a free port for the UI."""
    runtime = config.get("runtimeConfig") or {}
    properties = runtime.get("properties") or {}
    conf: dict[str, str] = {}
    for key, value in properties.items():
        if not str(key).startswith("spark:"):
            continue
        name = str(key)[len("spark:") :]
        if name.startswith(_IGNORED_PREFIXES) or name == "spark.driver.cores":
            continue
        conf[name] = str(value)
    available = cpus or os.cpu_count() or 1
    try:
        wanted = int(str(properties.get("spark:spark.driver.cores", available)))
    except ValueError:
        wanted = available
    conf["spark.master"] = f"local[{max(1, min(wanted, available))}]"
    conf["spark.app.name"] = session_name.rsplit("/", 1)[-1]
    conf["spark.driver.host"] = "127.0.0.1"
    conf["spark.driver.bindAddress"] = "127.0.0.1"
    conf["spark.ui.port"] = str(free_port())
    return conf


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SparkSupport:
    """What the kernel runtime asks about Spark: kernel arguments, environment, the code
    that hands a warm kernel its session's configuration, and endpoints."""

    def __init__(self, probed: SparkProbe, python: str) -> None:
        self.probed = probed
        self.python = python

    @property
    def available(self) -> bool:
        return self.probed.available

    def kernel_args(self) -> list[str]:
        if not self.available:
            return []
        line = (
            f"import runpy as _r; _r.run_path({str(INIT_SCRIPT)!r}, "
            "run_name='jupyter_sessions_spark'); del _r"
        )
        return [f"--IPKernelApp.exec_lines={line}"]

    def kernel_env(self, conf: dict[str, str] | None) -> dict[str, str]:
        """Environment of a new kernel: its session's conf, or (pool) the JVM to pre-start."""
        if not self.available:
            return {}
        env = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": self.python}
        if self.probed.java and "JAVA_HOME" not in os.environ:
            env["JAVA_HOME"] = str(Path(os.path.realpath(self.probed.java)).parent.parent)
        if conf is not None:
            env["JUPYTER_SESSIONS_SPARK_CONF"] = json.dumps(conf)
        else:
            env["JUPYTER_SESSIONS_SPARK_PREWARM"] = json.dumps(DEFAULT_LAUNCH)
        return env

    def claim_code(self, conf: dict[str, str]) -> str:
        """Silent code that makes a warm-pool kernel build its session's SparkSession."""
        if not self.available:
            return ""
        return f"__jupyter_sessions_spark__.start(__import__('json').loads({json.dumps(conf)!r}))"

    def conf_for(self, session_name: str, config: dict[str, Any]) -> dict[str, str] | None:
        if not self.available:
            return None
        return local_conf(session_name, config)

    def endpoints(self, data: dict[str, Any]) -> dict[str, str]:
        conf = data.get("spark")
        if isinstance(conf, dict) and conf.get("spark.ui.port"):
            return {SPARK_UI: f"http://127.0.0.1:{conf['spark.ui.port']}/"}
        if not self.available:
            reason = f"not available locally: {self.probed.reason}; {INSTALL_HINT}"
            return {SPARK_UNAVAILABLE: reason}
        return {}
