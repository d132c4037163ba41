"""One emulator per database: an exclusive lock on a file beside it, held for the
emulator's life.

Two emulators writing one SQLite file each keep their own picture in memory and overwrite
each other's acknowledged changes. The lock is an ``flock`` on ``<db>.lock``: the kernel
releases it when the holder exits, however it exits (kill -9 included), so a stale lock
cannot exist. The file also says who holds it (pid, URL, the Jupyter server that started
it), for the error message of a second emulator and for the supervisor.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path
from typing import Any


class DatabaseLocked(Exception):
    """Another process holds the database."""

    def __init__(self, db: Path, holder: dict[str, Any]) -> None:
        self.db = db
        self.holder = holder
        pid = holder.get("pid")
        url = holder.get("url")
        who = f"pid {pid}" if pid else "a process that has not said its pid yet"
        super().__init__(
            f"the database {db} is in use by another emulator ({who}"
            + (f", serving {url}" if url else "")
            + "): stop that one, or give this one its own --db"
        )


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


class DatabaseLock:
    """The held lock of one database; ``update`` records who holds it."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.path = lock_path(db)
        self._fd: int | None = None
        self._info: dict[str, Any] = {}

    def acquire(self) -> DatabaseLock:
        """Take the lock now or raise DatabaseLocked (never waits)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Not inherited by kernels, which may outlive this process: they must not hold it.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DatabaseLocked(self.db, read_holder(self.path)) from None
            raise
        self._fd = fd
        self._info = {}
        self.update(pid=os.getpid())  # replaces what an earlier holder wrote
        return self

    def update(self, **info: Any) -> None:
        """Write who holds the lock (read by a second emulator and by the supervisor)."""
        if self._fd is None:
            return
        self._info.update(info)
        data = json.dumps(self._info).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def holder_of(db: Path) -> dict[str, Any] | None:
    """Who holds the database's lock now (``{}`` if it has not said), or None if free."""
    path = lock_path(db)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return read_holder(path)
        raise
    finally:
        os.close(fd)  # a shared lock taken here is dropped at once
    return None


def process_alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed server its parent has not reaped)."""
    if pid <= 0:
        return False
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(") ", 1)[1][:1] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False
        except (OSError, IndexError):
            pass  # unreadable: ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
