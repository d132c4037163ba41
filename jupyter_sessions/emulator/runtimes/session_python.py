"""Which Python runs the emulator's session kernels, and whether they get local Spark.

``--session-python`` takes an interpreter path or the name of an installed kernelspec
(its ``argv[0]``), optionally per runtime version (``2.3=/opt/py/bin/python``), so the
packages a notebook sees in a session are chosen, as on Dataproc where the runtime
version fixes them. ``--spark auto|off`` (default from ``JUPYTER_SESSIONS_SPARK``, else
auto) turns local Spark on where PySpark and Java are present: Java on this machine,
PySpark in the interpreter of the session's kernel (each one probed once, when first used).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

from .spark import SparkSupport, probe

log = logging.getLogger(__name__)

SPARK_ENV = "JUPYTER_SESSIONS_SPARK"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--session-python",
        action="append",
        default=[],
        metavar="[VERSION=]PATH|KERNELSPEC",
        help="Python of session kernels: an interpreter or a kernelspec name; with VERSION= "
        "(e.g. 2.3=/opt/py/bin/python) only for sessions of that runtime version (repeatable)",
    )
    p.add_argument(
        "--spark",
        choices=["auto", "off"],
        default="off" if os.environ.get(SPARK_ENV) == "off" else "auto",
        help="auto: session kernels start with a local SparkSession `spark` when PySpark and "
        f"Java are present; off: plain kernels (default: ${SPARK_ENV} or auto)",
    )


def resolve_python(value: str) -> str:
    """An interpreter path, or a kernelspec's interpreter; ValueError when neither."""
    value = value.strip()
    if os.sep in value:
        path = Path(value).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.absolute())
        raise ValueError(f"{value} is not an executable Python interpreter")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(value)
    except NoSuchKernel:
        found = shutil.which(value)
        if found:
            return found
        raise ValueError(
            f"{value!r} is neither a Python interpreter nor an installed kernelspec "
            "(see `jupyter kernelspec list`)"
        ) from None
    program = spec.argv[0] if spec.argv else ""
    if program in ("python", "python3", "{python}"):
        return sys.executable
    if not program or shutil.which(program) is None:
        raise ValueError(f"kernelspec {value!r} does not start a Python interpreter")
    return str(shutil.which(program))


def parse_pythons(values: list[str]) -> tuple[str, dict[str, str]]:
    """The default interpreter and the per-version ones, from ``--session-python`` values."""
    default = sys.executable
    per_version: dict[str, str] = {}
    for raw in values:
        version, sep, rest = raw.partition("=")
        if sep and version.replace(".", "").isdigit():
            per_version[version] = resolve_python(rest)
        else:
            default = resolve_python(raw)
    return default, per_version


def spark_support(mode: str, python: str) -> SparkSupport | None:
    """Local Spark for session kernels, or None when turned off."""
    if mode == "off":
        return None
    support = SparkSupport(probe(python), python)
    if support.available:
        log.info(
            "Session kernels in %s start with a local SparkSession (Java %s)",
            python,
            support.probed.java,
        )
    else:
        log.info("No local Spark in session kernels of %s: %s", python, support.probed.reason)
    return support
