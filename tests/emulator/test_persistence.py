"""A restarted emulator loses nothing: kill -9 and a graceful stop, then a new process on
the same database."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from ..support import EmulatorProcess, wait_operation, wait_state
from .calls import (
    create_active,
    create_ok,
    fresh_parent,
    history_states,
    list_all,
    terminate_ok,
)

SLOW = ("--runtime", "simulated", "--start-delay", "2", "--stop-delay", "2")
QUICK = ("--ttl-floor", "1", "--tick", "0.2")


def operations_of(client: httpx.Client, parent: str) -> dict[str, dict[str, Any]]:
    project, location = parent.split("/")[1], parent.split("/")[3]
    ops = list_all(client, f"projects/{project}/regions/{location}/operations", "operations")
    return {op["name"]: op for op in ops}


def test_kill9_and_restart_loses_nothing(workdir: Path) -> None:
    """Given an emulator (simulated runtime, 2 s start and stop delays) holding sessions in
    every state (CREATING, ACTIVE, TERMINATING, TERMINATED, FAILED, and one being deleted),
    a template, operations and requestIds
    When it is killed with SIGKILL and a new emulator starts on the same database
    Then every session, template, operation and requestId answers as before; the CREATING
    session becomes ACTIVE, the TERMINATING ones finish, final states stay unchanged, and
    every pending operation completes."""
    parent = fresh_parent()
    first = EmulatorProcess(workdir, *SLOW, *QUICK).start()
    try:
        with first.client() as api:
            template = api.post(
                f"/v1/{parent}/sessionTemplates",
                json={"name": f"{parent}/sessionTemplates/kept", "labels": {"t": "1"}},
            ).json()
            for sid in ("active", "ended", "ending", "deleting"):
                create_ok(api, parent, sid, {"labels": {"role": sid}})
            create_ok(api, parent, "failed", {"labels": {"emulator-fail-start": ""}})
            for sid in ("active", "ended", "ending", "deleting"):
                wait_state(api, f"{parent}/sessions/{sid}", {"ACTIVE"})
            terminate_ok(api, f"{parent}/sessions/ended", {"requestId": "term-ended"})
            wait_state(api, f"{parent}/sessions/ended", {"TERMINATED"})

            # Now put sessions into transitional states and crash right away.
            ending = terminate_ok(api, f"{parent}/sessions/ending", {"requestId": "term-ending"})
            deleting = api.delete(
                f"/v1/{parent}/sessions/deleting", params={"requestId": "del-1"}
            ).json()
            creating = create_ok(api, parent, "creating", request_id="create-1")

            before = {s["name"]: s for s in list_all(api, f"{parent}/sessions", "sessions")}
            ops_before = operations_of(api, parent)
            states = {n.rsplit("/", 1)[-1]: s["state"] for n, s in before.items()}
            assert states == {
                "active": "ACTIVE",
                "ended": "TERMINATED",
                "failed": "FAILED",
                "ending": "TERMINATING",
                "deleting": "TERMINATING",
                "creating": "CREATING",
            }
        first.kill9()
    finally:
        first.stop()

    second = EmulatorProcess(workdir, *SLOW, *QUICK).start()
    try:
        with second.client() as api:
            # Immediately: everything is there and final states are untouched.
            assert api.get(f"/v1/{parent}/sessionTemplates/kept").json() == template
            for sid in ("ended", "failed"):
                name = f"{parent}/sessions/{sid}"
                assert api.get(f"/v1/{name}").json() == before[name]
            active = api.get(f"/v1/{parent}/sessions/active").json()
            assert active["state"] == "ACTIVE"
            assert active["uuid"] == before[f"{parent}/sessions/active"]["uuid"]
            assert active["stateHistory"] == before[f"{parent}/sessions/active"]["stateHistory"]
            ops_after = operations_of(api, parent)
            assert set(ops_after) == set(ops_before)
            for name, op in ops_before.items():
                if op.get("done"):
                    assert ops_after[name] == op

            # requestIds still answer with their operations.
            again = create_ok(api, parent, "other-id", request_id="create-1")
            assert again["name"] == creating["name"]
            assert api.get(f"/v1/{parent}/sessions/other-id").status_code == 404
            r = api.post(
                f"/v1/{parent}/sessions/ending:terminate", json={"requestId": "term-ending"}
            )
            assert r.status_code == 200 and r.json()["name"] == ending["name"]

            # Then: in-flight work finishes.
            c = wait_state(api, f"{parent}/sessions/creating", {"ACTIVE", "FAILED"}, 20)
            assert c["state"] == "ACTIVE", c
            assert history_states(c) == ["CREATING"]
            assert c["uuid"] == creating["metadata"]["sessionUuid"]
            e = wait_state(api, f"{parent}/sessions/ending", {"TERMINATED", "FAILED"}, 20)
            assert e["state"] == "TERMINATED", e
            assert history_states(e) == ["CREATING", "ACTIVE", "TERMINATING"]
            for op in (creating, ending, deleting):
                done = wait_operation(api, op["name"], 20)
                assert "error" not in done, done
            assert wait_operation(api, creating["name"])["response"]["state"] == "ACTIVE"
            assert wait_operation(api, ending["name"])["response"]["state"] == "TERMINATED"
            gone = wait_operation(api, deleting["name"])["response"]
            assert gone["state"] == "TERMINATED"
            assert api.get(f"/v1/{parent}/sessions/deleting").status_code == 404
            r = api.delete(f"/v1/{parent}/sessions/deleting", params={"requestId": "del-1"})
            assert r.status_code == 200 and r.json()["name"] == deleting["name"]
            names = {
                s["name"].rsplit("/", 1)[-1]
                for s in list_all(api, f"{parent}/sessions", "sessions")
            }
            assert names == {"active", "ended", "failed", "ending", "creating"}
    finally:
        second.stop()


def test_graceful_stop_terminates_active_sessions(workdir: Path) -> None:
    """Given an emulator with two ACTIVE sessions and one already TERMINATED
    When it is stopped with SIGTERM and started again on the same database
    Then the ACTIVE ones are TERMINATED with a stateMessage saying the emulator shut down,
    and the TERMINATED one is unchanged."""
    parent = fresh_parent()
    first = EmulatorProcess(workdir, "--runtime", "simulated", *QUICK).start()
    try:
        with first.client() as api:
            live = [create_active(api, parent, sid) for sid in ("live-one", "live-two")]
            old = create_active(api, parent, "old-one")
            wait_operation(api, terminate_ok(api, old["name"])["name"])
            old = api.get(f"/v1/{old['name']}").json()
        first.stop()
        assert first.proc is not None and first.proc.returncode == 0
    finally:
        first.stop()

    second = EmulatorProcess(workdir, "--runtime", "simulated", *QUICK).start()
    try:
        with second.client() as api:
            for s in live:
                now = api.get(f"/v1/{s['name']}").json()
                assert now["state"] == "TERMINATED", now
                assert "emulator shut down" in now["stateMessage"]
                assert now["uuid"] == s["uuid"]
                assert history_states(now)[:2] == ["CREATING", "ACTIVE"]
            assert api.get(f"/v1/{old['name']}").json() == old
            # They stay that way: a few clock ticks later nothing has restarted them.
            time.sleep(0.6)
            assert api.get(f"/v1/{live[0]['name']}").json()["state"] == "TERMINATED"
    finally:
        second.stop()
