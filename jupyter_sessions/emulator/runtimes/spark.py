"""Local Spark for the emulator's session kernels.

When PySpark (in the Python the session's kernel runs in) and Java are present, each
session kernel starts with ``spark`` bound to a local SparkSession: master ``local[N]``,
the app name from the session id, and the session's ``runtimeConfig.properties`` that
local Spark honours. The JVM is a child of the kernel, in its process group, so the kernel
runtime's usage, stop and clean-up cover it with nothing more. Each interpreter is probed
for PySpark once; only sessions whose interpreter has it get ``spark`` and a ``Spark UI``
endpoint, the others say why Spark is not available and what to install.

Cost: a cold JVM with its first SparkSession takes seconds. Warm-pool kernels therefore
start the JVM at once and run a tiny job in it; when a session claims one, only the
session's own SparkSession is built (a fraction of a second), in the background, and the
first cell waits for it if it comes early. Sessions asking for other JVM options (driver
memory, extra Java options or class path) get a fresh JVM.
"""

from __future__ import annotations

import asyncio
import json
import logging
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
#: Handle data of a session kernel without local Spark: the ``Spark`` endpoint's note.
UNAVAILABLE_KEY = "spark_unavailable"
INSTALL_HINT = (
    "pip install 'jupyter-sessions[spark]' in the session's Python and install Java 17 "
    "(e.g. apt-get install openjdk-17-jre-headless), then restart the emulator"
)
PYSPARK_HINT = "pip install 'jupyter-sessions[spark]' in that Python, then restart the emulator"
# Whether an interpreter has PySpark: exit code 0 yes, 1 no (anything else: it failed).
_HAS_PYSPARK = "import importlib.util,sys; sys.exit(importlib.util.find_spec('pyspark') is None)"
PROBE_TIMEOUT = 30.0
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

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparkProbe:
    """Whether local Spark can run in one interpreter, and if not why and what to install."""

    available: bool
    reason: str = ""
    java: str = ""
    hint: str = INSTALL_HINT
    #: False when the answer may change without a restart (the interpreter timed out).
    definite: bool = True

    def note(self) -> str:
        """The ``Spark`` endpoint of a session without local Spark."""
        return f"not available locally: {self.reason}; {self.hint}"


def find_java() -> str:
    """The java executable (JAVA_HOME's, else the one on PATH), or ""."""
    java_home = os.environ.get("JAVA_HOME", "")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java") or ""
    return java if java and os.access(java, os.X_OK) else ""


def probe(python: str, timeout: float = PROBE_TIMEOUT) -> SparkProbe:
    """Look for Java, and for PySpark in ``python`` (a sessions' interpreter)."""
    java = find_java()
    if not java:
        return SparkProbe(False, "no Java runtime found (java on PATH or JAVA_HOME)")
    try:
        found = subprocess.run(
            [python, "-c", _HAS_PYSPARK],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        reason = f"the session's Python {python} did not answer within {timeout:g} s"
        return SparkProbe(False, reason, definite=False)
    except OSError as exc:
        return SparkProbe(False, f"cannot run the session's Python {python}: {exc}")
    if found.returncode == 1:
        reason = f"PySpark is not installed in the session's Python ({python})"
        return SparkProbe(False, reason, hint=PYSPARK_HINT)
    if found.returncode != 0:
        reason = f"the session's Python {python} failed to look for PySpark"
        return SparkProbe(False, f"{reason} (exit code {found.returncode})", hint=PYSPARK_HINT)
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
    """What the kernel runtime asks about Spark: which interpreters have it, kernel
    arguments, environment, the code that hands a warm kernel its session's configuration,
    and endpoints."""

    def __init__(self, probed: SparkProbe, python: str) -> None:
        #: The default interpreter (the warm pool's) and what its probe found.
        self.probed = probed
        self.python = python
        self._probes: dict[str, SparkProbe] = {python: probed}
        self._probing = asyncio.Lock()

    @property
    def available(self) -> bool:
        """Whether kernels in the default interpreter get local Spark."""
        return self.probed.available

    async def probe_for(self, python: str) -> SparkProbe:
        """Whether kernels in ``python`` get local Spark: probed once per interpreter (in a
        thread, bounded by a timeout), then remembered until the emulator restarts."""
        known = self._probes.get(python)
        if known is not None:
            return known
        async with self._probing:
            known = self._probes.get(python)
            if known is None:
                known = await asyncio.to_thread(probe, python)
                if known.definite:
                    self._probes[python] = known
                if known.available:
                    log.info("Session kernels in %s start with a local SparkSession", python)
                else:
                    log.info("No local Spark in session kernels of %s: %s", python, known.reason)
            return known

    def kernel_args(self) -> list[str]:
        """Arguments of a kernel that gets local Spark: it runs the init script at start-up."""
        line = (
            f"import runpy as _r; _r.run_path({str(INIT_SCRIPT)!r}, "
            "run_name='jupyter_sessions_spark'); del _r"
        )
        return [f"--IPKernelApp.exec_lines={line}"]

    def kernel_env(self, conf: dict[str, str] | None, python: str) -> dict[str, str]:
        """Environment of a new kernel in ``python``: its session's conf, or (pool) the JVM to
        pre-start."""
        env = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": python}
        java = (self._probes.get(python) or self.probed).java or find_java()
        if java and "JAVA_HOME" not in os.environ:
            env["JAVA_HOME"] = str(Path(os.path.realpath(java)).parent.parent)
        if conf is not None:
            env["JUPYTER_SESSIONS_SPARK_CONF"] = json.dumps(conf)
        else:
            env["JUPYTER_SESSIONS_SPARK_PREWARM"] = json.dumps(DEFAULT_LAUNCH)
        return env

    def claim_code(self, conf: dict[str, str]) -> str:
        """Silent code that makes a warm-pool kernel build its session's SparkSession."""
        return f"__jupyter_sessions_spark__.start(__import__('json').loads({json.dumps(conf)!r}))"

    def conf_for(self, session_name: str, config: dict[str, Any]) -> dict[str, str]:
        """The SparkSession configuration of a session whose interpreter has local Spark."""
        return local_conf(session_name, config)

    def endpoints(self, data: dict[str, Any]) -> dict[str, str]:
        """``Spark UI`` when the kernel got local Spark, else why not and what to install.

        ``data`` is the kernel's handle data: ``spark`` (its SparkSession configuration) or
        ``spark_unavailable`` (the note), set when the session got the kernel."""
        conf = data.get("spark")
        if isinstance(conf, dict) and conf.get("spark.ui.port"):
            return {SPARK_UI: f"http://127.0.0.1:{conf['spark.ui.port']}/"}
        if data.get(UNAVAILABLE_KEY):
            return {SPARK_UNAVAILABLE: str(data[UNAVAILABLE_KEY])}
        if not data.get("python") and not self.available:  # a handle from an older emulator
            return {SPARK_UNAVAILABLE: self.probed.note()}
        return {}
