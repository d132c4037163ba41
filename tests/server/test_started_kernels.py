"""The session kernels a server started, kept on disk across its restarts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from jupyter_sessions.server import started_kernels
from jupyter_sessions.server.started_kernels import StartedKernels, server_file


def test_what_one_server_kept_the_next_one_reads(tmp_path: Path) -> None:
    path = server_file(tmp_path, str(tmp_path / "root"), "http://127.0.0.1:8888/")
    first = StartedKernels()
    first.load(path)
    first.add("k1")
    first.add("k2")
    first.discard("k1")
    first.discard("never-there")
    assert json.loads(path.read_text()) == ["k2"]
    assert path.stat().st_mode & 0o777 == 0o600
    again = StartedKernels()
    again.load(path)
    assert "k2" in again and "k1" not in again and list(again) == ["k2"]


def test_each_server_has_its_own_file(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    here = server_file(tmp_path, root, "http://127.0.0.1:8888/")
    assert here == server_file(tmp_path, root, "http://127.0.0.1:8888/")
    assert here != server_file(tmp_path, root, "http://127.0.0.1:8889/")
    assert here != server_file(tmp_path, str(tmp_path / "other"), "http://127.0.0.1:8888/")


def test_an_unreadable_file_counts_as_none_and_is_written_anew(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "started.json"
    path.write_text("{half")
    kept = StartedKernels()
    with caplog.at_level(logging.WARNING):
        kept.load(path)
    assert len(kept) == 0
    assert "Ignored the list of started session kernels" in caplog.text
    kept.add("k1")
    assert json.loads(path.read_text()) == ["k1"]


def test_the_oldest_ids_go_past_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(started_kernels, "MAX_KEPT", 3)
    kept = StartedKernels()
    kept.load(tmp_path / "started.json")
    for kid in ("a", "b", "c", "d"):
        kept.add(kid)
    assert list(kept) == ["b", "c", "d"]


def test_a_file_that_cannot_be_written_leaves_the_kernels_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")  # its "directory" cannot be made, even by root
    kept = StartedKernels()
    kept.load(blocker / "started.json")
    with caplog.at_level(logging.WARNING):
        kept.add("k1")
    assert "k1" in kept
    assert "Could not keep the list" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-directory"]  # no stray temp file
