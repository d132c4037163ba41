"""``%session spark [ID]``: bind ``spark`` in the notebook to a Spark Connect session.

On the emulator the session's ``runtimeInfo.endpoints["Spark Connect Server"]`` is a local
``sc://`` address that PySpark's own Spark Connect client takes as is. On Dataproc the
connection needs Google's client (``dataproc-spark-connect``), which adds the credentials
and the session's routing; without it the command says what to install.
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any
from urllib.parse import urlparse

from .cell_errors import SessionError

ENDPOINT = "Spark Connect Server"
HELP = "bind `spark` in this notebook to a Spark Connect session (PySpark's Connect client)"


def add_spark_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``spark`` subcommand to the ``%session`` parser; returns its parser."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    p: argparse.ArgumentParser = action.add_parser("spark", help=HELP, description=HELP)
    p.add_argument("session", metavar="ID", nargs="?", help="session id (default: current)")
    p.add_argument(
        "--name", default="spark", metavar="VAR", help="the variable to bind (default: spark)"
    )
    return p


def _local(url: str) -> bool:
    host = (urlparse(url.replace("sc://", "http://", 1)).hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1")


def connect_local(url: str) -> Any:
    """A PySpark Spark Connect session on a local ``sc://`` endpoint."""
    if importlib.util.find_spec("pyspark") is None:
        raise SessionError(
            "Binding `spark` to a Spark Connect session needs PySpark's Connect client in this "
            "kernel: pip install 'pyspark[connect]'"
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SessionError(f"PySpark cannot be loaded here: {exc}") from None
    try:
        return SparkSession.builder.remote(url).create()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SessionError(
            f"Cannot connect to the session's Spark Connect server: {first}"
        ) from None


def connect_dataproc(name: str) -> Any:
    """Google's client, attached to the Dataproc session ``name``."""
    if importlib.util.find_spec("google.cloud.dataproc_spark_connect") is None:
        raise SessionError(
            "Spark Connect sessions on Dataproc need Google's client in this kernel: "
            "pip install dataproc-spark-connect (then run `%session spark` again)"
        )
    from google.cloud.dataproc_spark_connect import (  # type: ignore[import-not-found,unused-ignore]
        DataprocSparkSession,
    )

    parts = name.split("/")  # projects/P/locations/L/sessions/ID
    builder = DataprocSparkSession.builder
    if not hasattr(builder, "dataprocSessionId"):
        raise SessionError(
            "The installed dataproc-spark-connect cannot attach to an existing session: "
            "pip install -U dataproc-spark-connect"
        )
    try:
        return (
            builder.projectId(parts[1]).location(parts[3]).dataprocSessionId(parts[5]).getOrCreate()
        )
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SessionError(f"Cannot connect to Dataproc session {parts[5]}: {first}") from None


def bind_spark(magics: Any, args: argparse.Namespace) -> Any:
    """Connect to the session and bind the variable in the notebook's namespace."""
    from ..api.model import State
    from .render import KeyValues

    client = magics.client
    name = magics._name(args.session)
    session = client.get_session(name)
    sid = name.rsplit("/", 1)[-1]
    if session.spark_connect_session is None:
        raise SessionError(
            f"Session {sid} is a Jupyter session, not a Spark Connect session: its kernel has "
            "its own `spark` (run code there with %%session), or create one with "
            "`%session create --spark-connect`"
        )
    if session.state != State.ACTIVE:
        raise SessionError(f"Session {sid} is {session.state.name}, not ACTIVE")
    endpoints = session.runtime_info.endpoints if session.runtime_info else {}
    url = (endpoints or {}).get(ENDPOINT, "")
    cfg = client.server_config
    if url and _local(url) and (cfg is None or cfg.backend != "dataproc"):
        spark = connect_local(url)
        where = url.split("/;", 1)[0]
    else:
        spark = connect_dataproc(name)
        where = f"Dataproc session {sid}"
    if magics.shell is not None:
        magics.shell.user_ns[args.name] = spark
    return KeyValues(
        f"`{args.name}` is a Spark Connect session",
        [("session", sid), ("server", where), ("Spark", str(getattr(spark, "version", "")))],
    )
