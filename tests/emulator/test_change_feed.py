"""The emulator's change feed (``sessions:watch``, beyond the Dataproc API): every committed
change in order, deletions included, resumable across reconnects and restarts."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from ..support import EmulatorProcess, wait_for, wait_state
from .calls import assert_envelope, fresh_parent, new_id

FEED = "/v1/{parent}/sessions:watch"


def read_feed(client: httpx.Client, parent: str, **params: Any) -> list[dict[str, Any]]:
    """Every line of one (bounded) feed response."""
    r = client.get(FEED.format(parent=parent), params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in r.text.splitlines() if line]


class Follower:
    """Follows the feed in a thread, as a Watcher would, recording every line."""

    def __init__(self, emu: EmulatorProcess, parent: str, since: str | None = None) -> None:
        self.lines: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        params: dict[str, Any] = {"wait": 60, "heartbeat": 0.2}
        if since:
            params["since"] = since
        self._args = (emu.url + FEED.format(parent=parent), params)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        url, params = self._args
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10.0)) as c,
                c.stream("GET", url, params=params) as r,
            ):
                for line in r.iter_lines():
                    if line:
                        self.lines.append(json.loads(line))
                    if self._stop.is_set():
                        return
        except BaseException as exc:
            if not self._stop.is_set():
                self.error = exc

    def states(self, name: str) -> list[str]:
        return [
            ln["session"]["state"] for ln in self.lines if ln.get("session", {}).get("name") == name
        ]

    def deleted(self, name: str) -> bool:
        return any(ln.get("deleted") == name for ln in self.lines)

    def wait(self, predicate: Any, timeout: float = 30.0) -> None:
        wait_for(lambda: self.error or predicate(self), timeout, what="feed lines")
        assert self.error is None, repr(self.error)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _drive_lifecycle(c: httpx.Client, parent: str, sid: str) -> str:
    name = f"{parent}/sessions/{sid}"
    assert c.post(f"/v1/{parent}/sessions", params={"sessionId": sid}, json={}).status_code == 200
    wait_state(c, name, {"ACTIVE"})
    assert c.post(f"/v1/{name}:terminate", json={}).status_code == 200
    wait_state(c, name, {"TERMINATED"})
    assert c.delete(f"/v1/{name}").status_code == 200
    wait_for(lambda: c.get(f"/v1/{name}").status_code == 404, 30, what="deleted")
    return name


def test_feed_starts_with_a_reset_then_streams_every_state_and_the_deletion(
    slow_emulator: EmulatorProcess,
) -> None:
    """Given a follower of an empty parent, when another client creates, terminates and
    deletes a session, then the follower reads a reset (no sessions), then CREATING,
    ACTIVE, TERMINATING, TERMINATED, then the deletion, with increasing positions."""
    parent = fresh_parent()
    follower = Follower(slow_emulator, parent)
    try:
        follower.wait(lambda f: f.lines)
        first = follower.lines[0]
        assert first["reset"] is True and first["sessions"] == []
        with slow_emulator.client() as c:
            name = _drive_lifecycle(c, parent, new_id("feed"))
        follower.wait(lambda f: f.deleted(name))
    finally:
        follower.stop()
    assert follower.states(name) == ["CREATING", "ACTIVE", "TERMINATING", "TERMINATED"]
    changes = [ln for ln in follower.lines if "session" in ln or "deleted" in ln]
    seqs = [int(ln["position"].rsplit("-", 1)[1]) for ln in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert changes[-1]["deleted"] == name
    assert any(ln.get("heartbeat") for ln in follower.lines)  # idle between changes


def test_a_follower_that_reconnects_with_its_position_misses_nothing(
    slow_emulator: EmulatorProcess,
) -> None:
    """Given a position read from the feed, when a whole lifecycle happens while nobody
    follows, then reading from that position gives each of its changes exactly once, in
    order; reading again from the last position gives nothing new."""
    parent = fresh_parent()
    with slow_emulator.client() as c:
        position = read_feed(c, parent)[-1]["position"]
        other = _drive_lifecycle(c, fresh_parent(), new_id("noise"))  # another parent
        name = _drive_lifecycle(c, parent, new_id("gap"))
        lines = read_feed(c, parent, since=position)
        again = read_feed(c, parent, since=lines[-1]["position"])
    assert not any(other in json.dumps(ln) for ln in lines)
    states = [ln["session"]["state"] for ln in lines if "session" in ln]
    assert states == ["CREATING", "ACTIVE", "TERMINATING", "TERMINATED"]
    assert lines[-1] == {"position": lines[-1]["position"], "deleted": name}
    assert [ln.get("heartbeat") for ln in again] == [True]


def test_unknown_positions_reset_and_bad_arguments_are_400s(api: httpx.Client) -> None:
    """Given a position of another database or garbage, the feed answers with a reset
    holding every current session; a bad wait or parent is a 400 envelope."""
    parent = fresh_parent()
    sid = new_id("r")
    assert api.post(f"/v1/{parent}/sessions", params={"sessionId": sid}, json={}).status_code == 200
    for since in ("ffff-3", "garbage", "", "0-999999999"):
        lines = read_feed(api, parent, since=since)
        assert lines[0]["reset"] is True, since
        assert [s["name"] for s in lines[0]["sessions"]] == [f"{parent}/sessions/{sid}"]
    for params in ({"wait": "soon"}, {"wait": "-1"}, {"heartbeat": "0"}):
        assert_envelope(api.get(FEED.format(parent=parent), params=params))
    r = api.get("/v1/projects/p/locations/l/sessions:watch", params={"wait": "x"})
    assert r.status_code == 400
    r = api.post(FEED.format(parent=parent), json={})
    assert r.status_code == 404


def test_positions_survive_a_kill9_and_the_restart_changes_are_in_the_feed(
    workdir: Path,
) -> None:
    """Given a position and a session TERMINATING when the emulator is killed (-9), when a
    new emulator opens the same database, then resuming from the position gives the
    recovered TERMINATED state (the log is in the database, not in memory)."""
    emu = EmulatorProcess(
        workdir, "--runtime", "simulated", "--stop-delay", "3", "--tick", "0.2"
    ).start()
    parent = fresh_parent()
    name = f"{parent}/sessions/{new_id('k')}"
    try:
        with emu.client() as c:
            sid = name.rsplit("/", 1)[1]
            c.post(f"/v1/{parent}/sessions", params={"sessionId": sid}, json={})
            wait_state(c, name, {"ACTIVE"})
            c.post(f"/v1/{name}:terminate", json={})
            wait_state(c, name, {"TERMINATING"})
            position = read_feed(c, parent)[0]["position"]
        emu.kill9()
        emu.start()
        with emu.client() as c:
            wait_state(c, name, {"TERMINATED"}, timeout=60)
            lines = read_feed(c, parent, since=position)
    finally:
        emu.stop()
    assert not lines[0].get("reset"), lines[0]
    assert [ln["session"]["state"] for ln in lines if "session" in ln] == ["TERMINATED"]


def test_the_feed_needs_the_token_when_the_emulator_requires_one(workdir: Path) -> None:
    """Given --require-token, the feed without the bearer token is a 401 envelope, and
    with it a reset line."""
    emu = EmulatorProcess(workdir, "--runtime", "simulated", "--require-token", "s3cret").start()
    try:
        with emu.client() as c:
            r = c.get(FEED.format(parent=fresh_parent()))
            assert r.status_code == 401
            assert_envelope(r)
            ok = c.get(
                FEED.format(parent=fresh_parent()), headers={"Authorization": "Bearer s3cret"}
            )
        assert ok.status_code == 200 and json.loads(ok.text.splitlines()[0])["reset"] is True
    finally:
        emu.stop()


def test_a_long_wait_ends_on_time_and_streams_changes_at_once(
    simulated_emulator: EmulatorProcess,
) -> None:
    """Given wait=1 and nothing happening, the stream stays open about a second and sends
    a heartbeat line every 0.25 s, then ends."""
    parent = fresh_parent()
    with simulated_emulator.client() as c:
        position = read_feed(c, parent)[-1]["position"]
        started = time.monotonic()
        lines = read_feed(c, parent, since=position, wait=1, heartbeat=0.25)
        took = time.monotonic() - started
    assert took >= 0.9  # it waited (an upper bound would be a wall-clock assertion)
    assert all(ln.get("heartbeat") for ln in lines) and len(lines) >= 3
