"""Create, terminate and delete from the panel: each in a worker thread that waits for the
operation's real outcome (bounded), never reporting "done" when the request was only
accepted. Widget-free: the panel renders what ``on_update`` tells it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...api.backoff import Backoff
from ...api.errors import ApiError, DeadlineExceeded
from ...api.model import Operation, Session, State

if TYPE_CHECKING:
    from ...client import SessionsClient

CREATE_TIMEOUT = 600.0
TERMINATE_TIMEOUT = 300.0
DELETE_TIMEOUT = 300.0
# Operation polls: quick at first (the emulator is fast), at most every 2 s after.
_POLL = Backoff(first=0.2, cap=2.0, factor=1.5, jitter=0.0)

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
TIMED_OUT = "timed out"
CANCELLED = "cancelled"

VERBS = {"create": "Creating", "terminate": "Terminating", "delete": "Deleting"}


class _Stopped(Exception):
    """The panel closed while an action waited."""


@dataclass
class Action:
    """One create, terminate or delete started from the panel."""

    kind: str
    session_id: str
    name: str
    status: str = PENDING
    message: str = ""
    operation: str = ""
    session: Session | None = None
    error: ApiError | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the action has an outcome; False if ``timeout`` passed first."""
        return self._done.wait(timeout)

    def __repr__(self) -> str:
        return f"<Action {self.kind} {self.session_id}: {self.status}: {self.message}>"


class ActionRunner:
    """Runs actions in daemon threads; ``stop`` (the panel's) ends every wait promptly."""

    def __init__(
        self,
        client: SessionsClient,
        stop: threading.Event,
        on_update: Callable[[Action], None],
    ) -> None:
        self.client = client
        self.stop = stop
        self.on_update = on_update
        self.actions: list[Action] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._count = 0

    # --- public -------------------------------------------------------------------------

    def create(self, session_id: str, session: Session, timeout: float = CREATE_TIMEOUT) -> Action:
        name = self.client.parent.session(session_id)
        action = Action("create", session_id, name)
        return self._start(action, lambda: self._create(action, session, timeout))

    def terminate(self, name: str, timeout: float = TERMINATE_TIMEOUT) -> Action:
        action = Action("terminate", name.rsplit("/", 1)[-1], name)
        return self._start(action, lambda: self._terminate(action, timeout))

    def delete(self, name: str, timeout: float = DELETE_TIMEOUT) -> Action:
        action = Action("delete", name.rsplit("/", 1)[-1], name)
        return self._start(action, lambda: self._delete(action, timeout))

    def in_flight(self, name: str) -> Action | None:
        """The unfinished action on a session, if any."""
        with self._lock:
            # By status, not by done: outcomes are drawn just before done is set.
            return next((a for a in self.actions if a.name == name and a.status == RUNNING), None)

    def threads(self) -> list[threading.Thread]:
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return list(self._threads)

    def join(self, timeout: float) -> list[threading.Thread]:
        """Wait (bounded) for the workers to end; returns those still alive."""
        deadline = time.monotonic() + timeout
        for thread in self.threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.threads()

    # --- workers ------------------------------------------------------------------------

    def _start(self, action: Action, work: Callable[[], None]) -> Action:
        with self._lock:
            self._count += 1
            self.actions.append(action)
            del self.actions[:-100]  # keep the recent ones only
            thread = threading.Thread(
                target=self._main,
                args=(action, work),
                name=f"jupyter-sessions-action-{self._count}",
                daemon=True,
            )
            self._threads.append(thread)
        action.status = RUNNING
        action.message = f"{VERBS[action.kind]} {action.session_id}…"
        self._notify(action)  # before the worker runs, so no outcome can come first
        thread.start()
        return action

    def _main(self, action: Action, work: Callable[[], None]) -> None:
        try:
            work()
        except _Stopped:
            self._finish(
                action,
                CANCELLED,
                f"Stopped waiting for {action.kind} of {action.session_id}: the panel was "
                "closed (the operation goes on in the backend)",
            )
        except DeadlineExceeded as exc:
            action.error = exc
            self._finish(action, TIMED_OUT, f"{exc}; the table keeps showing its state")
        except ApiError as exc:
            action.error = exc
            self._finish(action, FAILED, self._failure(action, exc))
        except Exception as exc:  # report, never lose an outcome
            self._finish(action, FAILED, f"Could not {action.kind} {action.session_id}: {exc!r}")
        finally:
            if not action.done:  # belt and braces: every action ends
                self._finish(action, FAILED, f"{action.kind} of {action.session_id} stopped")

    @staticmethod
    def _failure(action: Action, exc: ApiError) -> str:
        if action.operation:  # accepted, then the operation itself failed
            what = {
                "create": "failed to start",
                "terminate": "failed to terminate",
                "delete": "could not be deleted",
            }[action.kind]
            return f"Session {action.session_id} {what}: {exc.message}"
        return f"Could not {action.kind} {action.session_id}: {exc.message} ({exc.code.name})"

    def _create(self, action: Action, session: Session, timeout: float) -> None:
        op = self.client.create_session(action.session_id, session)
        self._accepted(action, op, "accepted, starting")
        done = self._wait(action, op, timeout)
        result = done.response
        action.session = result
        state = result.state if result is not None else None
        if state is None or state == State.ACTIVE:
            self._finish(
                action, SUCCEEDED, f"Session {action.session_id} is ACTIVE ({action.elapsed:.1f}s)"
            )
        else:  # a finished create whose session did not become ACTIVE
            detail = f": {result.state_message}" if result and result.state_message else ""
            self._finish(action, FAILED, f"Session {action.session_id} is {state.name}{detail}")

    def _terminate(self, action: Action, timeout: float) -> None:
        op = self.client.terminate_session(action.name)
        self._accepted(action, op, "accepted, stopping")
        done = self._wait(action, op, timeout)
        action.session = done.response
        state = done.response.state if done.response is not None else State.TERMINATED
        self._finish(
            action,
            SUCCEEDED if state == State.TERMINATED else FAILED,
            f"Session {action.session_id} is {state.name} ({action.elapsed:.1f}s)",
        )

    def _delete(self, action: Action, timeout: float) -> None:
        op = self.client.delete_session(action.name)
        self._accepted(action, op, "accepted, deleting")
        done = self._wait(action, op, timeout)
        action.session = done.response
        self._finish(
            action, SUCCEEDED, f"Session {action.session_id} was deleted ({action.elapsed:.1f}s)"
        )

    def _accepted(self, action: Action, op: Operation, what: str) -> None:
        action.operation = op.name
        action.message = f"{VERBS[action.kind]} {action.session_id}: {what}…"
        self._notify(action)

    def _wait(self, action: Action, op: Operation, timeout: float) -> Operation:
        """Poll the operation until done (its error raised), within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        polls = 0
        current = op
        while not current.done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(
                    f"{action.kind.capitalize()} of {action.session_id} did not finish within "
                    f"{timeout:g}s"
                )
            if self.stop.wait(min(_POLL.step(polls), remaining)):
                raise _Stopped()
            polls += 1
            current = self.client.get_operation(op.name)
            action.message = (
                f"{VERBS[action.kind]} {action.session_id}: waiting for the operation "
                f"({action.elapsed:.0f}s)…"
            )
            self._notify(action)
        if current.error is not None:
            raise ApiError.from_status(current.error.to_json())
        return current

    def _finish(self, action: Action, status: str, message: str) -> None:
        if action.done:
            return
        action.status = status
        action.message = message
        action.finished = time.monotonic()
        # Shown first, then done: whoever waits on the action finds the panel up to date.
        self._notify(action)
        action._done.set()

    def _notify(self, action: Action) -> None:
        try:
            self.on_update(action)
        except Exception:  # the panel may be closing; the action's outcome stays readable
            pass
