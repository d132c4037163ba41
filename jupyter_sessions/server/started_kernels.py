"""The session kernels this Jupyter server started, kept on disk.

Shutting down a kernel this server started ends its session; one it only attached to is let
go and its session runs on. A restarted server (after a crash, or a plain restart) must
still know which were its own, or their sessions would run on to their TTL. Each server
keeps its own file, named after its root directory and address, so two servers that share a
data directory never write the same file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from .private_files import write_private

log = logging.getLogger(__name__)

MAX_KEPT = 1000  # kernel ids are never reused: the oldest can go


def server_file(data_dir: Path, root_dir: str, address: str) -> Path:
    """This server's file: the same root directory and address give the same file."""
    digest = hashlib.sha256(f"{os.path.realpath(root_dir)}\n{address}".encode()).hexdigest()
    return data_dir / "started-kernels" / f"{digest[:16]}.json"


class StartedKernels:
    """A set of kernel ids, written through to a file once ``load`` has named one."""

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}  # insertion ordered: the oldest first
        self._path: Path | None = None

    def load(self, path: Path) -> None:
        """Take the ids kept in ``path`` (an unreadable file counts as none) and keep
        writing there."""
        self._path = path
        try:
            kept = json.loads(path.read_text())
        except FileNotFoundError:
            kept = []
        except (OSError, ValueError) as exc:
            log.warning("Ignored the list of started session kernels in %s: %s", path, exc)
            kept = []
        if isinstance(kept, list):
            for kid in kept:
                if isinstance(kid, str):
                    self._ids.setdefault(kid)

    def add(self, kernel_id: str) -> None:
        self._ids[kernel_id] = None
        while len(self._ids) > MAX_KEPT:
            del self._ids[next(iter(self._ids))]
        self._save()

    def discard(self, kernel_id: str) -> None:
        if self._ids.pop(kernel_id, 0) is None:
            self._save()

    def __contains__(self, kernel_id: object) -> bool:
        return kernel_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._ids))

    def __len__(self) -> int:
        return len(self._ids)

    def _save(self) -> None:
        """Write the whole list atomically (a crash leaves the old one or the new one)."""
        if self._path is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            write_private(self._path, json.dumps(list(self._ids)))
        except OSError as exc:
            # Kernels work on without it; only a restart would forget which were ours.
            log.warning("Could not keep the list of started session kernels: %s", exc)
