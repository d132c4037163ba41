"""Run inside a session kernel at start-up (``runpy`` from ``IPKernelApp.exec_lines``): local Spark.

Self-contained on purpose: the kernel may run in another Python environment than the
emulator (``--session-python``), where jupyter_sessions is not installed. It leaves one
hidden name in the user namespace, ``__jupyter_sessions_spark__``.

- ``JUPYTER_SESSIONS_SPARK_CONF`` (JSON): build the SparkSession with that configuration
  at once, in a background thread (a kernel started for a session).
- ``JUPYTER_SESSIONS_SPARK_PREWARM`` (JSON of JVM launch properties): start the JVM and a
  throw-away SparkSession now (a warm-pool kernel), so that the session's own SparkSession
  later takes a fraction of a second; the emulator calls ``start(conf)`` once a session
  claims the kernel.

Until the SparkSession is ready, each cell (not silent requests) waits for it first, so
``spark`` is a real, usable SparkSession in the first cell as in every later one.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

_LAUNCH_KEYS = (
    "spark.driver.memory",
    "spark.driver.extraJavaOptions",
    "spark.driver.extraClassPath",
    "spark.driver.extraLibraryPath",
)


class _LocalSpark:
    """Builds the kernel's SparkSession in the background and binds it as ``spark``."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.thread: threading.Thread | None = None
        self.error = ""
        self.session: Any = None
        self.launch: dict[str, str] = {}
        self._told = False
        shell.events.register("pre_run_cell", self._before_cell)

    # --- the emulator's calls ---------------------------------------------------------

    def prewarm(self, launch: dict[str, str]) -> None:
        """Start the JVM with these launch properties and warm it with a tiny job."""
        self.launch = dict(launch)
        self._run(self._prewarm)

    def start(self, conf: dict[str, str]) -> None:
        """Build the session's SparkSession (in the background)."""
        previous = self.thread
        self._run(lambda: self._build(conf, previous))

    # --- work -------------------------------------------------------------------------

    def _run(self, target: Any) -> None:
        self.thread = threading.Thread(target=self._guard, args=(target,), daemon=True)
        self.thread.start()

    def _guard(self, target: Any) -> None:
        try:
            target()
        except Exception as exc:  # shown once, in the next cell
            text = str(exc).strip().splitlines()
            self.error = f"{type(exc).__name__}: {text[0] if text else ''}"

    def _prewarm(self) -> None:
        from pyspark import SparkConf, SparkContext
        from pyspark.sql import SparkSession

        conf = SparkConf().setAll(list(self.launch.items()))
        SparkContext._ensure_initialized(conf=conf)
        warm = (
            SparkSession.builder.master("local[1]")
            .appName("jupyter-sessions-warm-pool")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        warm.range(10).count()
        warm.stop()

    def _build(self, conf: dict[str, str], previous: threading.Thread | None) -> None:
        if previous is not None:
            previous.join()
        self.error = ""
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        launch = {k: v for k, v in conf.items() if k in _LAUNCH_KEYS}
        gateway = SparkContext._gateway
        if gateway is not None and launch != self.launch:
            # JVM options only apply to a new JVM: replace the pre-started one.
            gateway.shutdown()
            SparkContext._gateway = None
            SparkContext._jvm = None
        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        self.session = builder.getOrCreate()
        self.shell.user_ns["spark"] = self.session
        self.shell.user_ns["sc"] = self.session.sparkContext

    # --- before each cell -------------------------------------------------------------

    def _before_cell(self, *_: Any) -> None:
        thread = self.thread
        if thread is not None and thread.is_alive():
            sys.stderr.write("Waiting for Spark to start...\n")
            sys.stderr.flush()
            started = time.monotonic()
            thread.join()
            sys.stderr.write(f"Spark is ready ({time.monotonic() - started:.1f} s)\n")
            sys.stderr.flush()
        if self.error and not self._told:
            self._told = True
            sys.stderr.write(f"Spark did not start in this session: {self.error}\n")
            sys.stderr.flush()


def _install() -> None:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    local = _LocalSpark(shell)
    shell.user_ns["__jupyter_sessions_spark__"] = local
    conf = os.environ.pop("JUPYTER_SESSIONS_SPARK_CONF", "")
    prewarm = os.environ.pop("JUPYTER_SESSIONS_SPARK_PREWARM", "")
    if conf:
        local.start(json.loads(conf))
    elif prewarm:
        local.prewarm(json.loads(prewarm))


_install()
del _install
