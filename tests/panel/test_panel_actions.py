"""Panel actions against a real emulator whose starts and stops take 1 s: an action is
done only when its operation is, its wait is bounded, and closing the panel ends it."""

from __future__ import annotations

import threading
import time
import uuid

from jupyter_sessions.api.model import Session
from jupyter_sessions.client import SessionsClient
from jupyter_sessions.notebook.panel.actions import (
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    TIMED_OUT,
    Action,
    ActionRunner,
)

from ..support import EmulatorProcess


def runner_for(
    emulator: EmulatorProcess,
) -> tuple[ActionRunner, list[tuple[str, str]], SessionsClient]:
    client = SessionsClient(emulator.url, project="proj", location="loc")
    seen: list[tuple[str, str]] = []
    runner = ActionRunner(client, threading.Event(), lambda a: seen.append((a.status, a.message)))
    return runner, seen, client


def sid() -> str:
    return "act-" + uuid.uuid4().hex[:8]


def test_create_is_done_only_when_active_and_reports_progress(
    slow_emulator: EmulatorProcess,
) -> None:
    runner, seen, client = runner_for(slow_emulator)
    with client:
        action = runner.create(sid(), Session())
        assert not action.done and action.status == RUNNING
        assert action.wait(30) and action.status == SUCCEEDED, action
        assert action.elapsed >= 0.9  # the emulator takes 1 s to start it
        assert action.session is not None and action.session.state.name == "ACTIVE"
        statuses = [s for s, _ in seen]
        assert statuses[0] == RUNNING and statuses[-1] == SUCCEEDED
        assert statuses.count(SUCCEEDED) == 1
        assert any("accepted" in m for _, m in seen) and any("waiting" in m for _, m in seen)
        assert runner.join(5) == []


def test_a_wait_that_runs_out_says_so(slow_emulator: EmulatorProcess) -> None:
    runner, _, client = runner_for(slow_emulator)
    with client:
        action = runner.create(sid(), Session(), timeout=0.3)
        assert action.wait(10) and action.status == TIMED_OUT, action
        assert "did not finish within 0.3s" in action.message and "ACTIVE" not in action.message


def test_closing_ends_a_wait_promptly(slow_emulator: EmulatorProcess) -> None:
    runner, _, client = runner_for(slow_emulator)
    with client:
        action = runner.create(sid(), Session())
        time.sleep(0.3)
        runner.stop.set()
        started = time.monotonic()
        assert runner.join(5) == []
        assert time.monotonic() - started < 2.5
        assert action.status == CANCELLED and "the panel was closed" in action.message


def test_refusals_carry_the_api_error(slow_emulator: EmulatorProcess) -> None:
    """Terminating a session that is still CREATING: the API refuses (ABORTED)."""
    runner, _, client = runner_for(slow_emulator)
    with client:
        create = runner.create(sid(), Session())
        time.sleep(0.1)
        refused: Action = runner.terminate(create.name)
        assert refused.wait(10) and refused.status == FAILED
        assert refused.error is not None and refused.error.code.name == "ABORTED"
        assert refused.message.startswith(f"Could not terminate {create.session_id}:")
        assert create.wait(30) and create.ok
        gone = runner.delete(create.name)
        assert gone.wait(30) and gone.ok and "was deleted" in gone.message
