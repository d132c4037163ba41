"""SessionsPanel in a real kernel (nbclient) against a real Jupyter server whose extension
runs a simulated emulator (1 s starts and stops, fast polling).

Nobody calls refresh: the panel's own threads follow the extension's event stream.
One server and one kernel serve the whole module; the test that kills the emulator runs
last because it restarts the backend.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from ..local_kernel import execute_notebook, kernel_env, notebook_kernel
from ..server.conftest import sessions_config
from ..support import PARENT, JupyterServerProcess

API = "jupyter-sessions/v1/"
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "panel.ipynb"

# Helpers defined once in the kernel: a bounded poll, and a JSON line for the test.
KERNEL_HELPERS = """
import json, threading, time
from jupyter_sessions.widgets import SessionsPanel

def until(predicate, timeout=20.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

def shown_live(panel):
    # The state is applied first and the widgets rendered from it a moment later.
    return panel.state.status.synced and 'status-live' in panel.status_html.value

def state_of(panel, sid):
    s = panel.sessions.get(f"{panel.parent}/sessions/{sid}")
    return s.state.name if s else None

def our_threads():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("jupyter-sessions"))

def report(**values):
    print("REPORT " + json.dumps(values))
"""


class Kernel:
    """Cells executed one at a time in one real kernel, as a notebook front end would."""

    def __init__(self, client: NotebookClient) -> None:
        self.client = client
        self.nb = client.nb

    def run(self, source: str) -> Any:
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)  # a cell error raises
        return cell

    def report(self, source: str) -> dict[str, Any]:
        """Run a cell that ends with ``report(...)`` and return what it reported."""
        cell = self.run(source)
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
        lines = [line for line in text.splitlines() if line.startswith("REPORT ")]
        assert lines, cell.outputs
        # The panel's threads never print: whatever they say goes to the panel's widgets.
        assert text.splitlines() == lines, cell.outputs
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], cell.outputs
        return dict(json.loads(lines[-1][len("REPORT ") :]))

    def widget_values(self) -> list[str]:
        """The HTML values of the widget models as the front end received them."""
        return [
            str(state.get("value"))
            for state in self.client.widget_state.values()
            if isinstance(state.get("value"), str)
        ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    proc = JupyterServerProcess(tmp_path_factory.mktemp("panel-server"), config=sessions_config())
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def kernel(
    server: JupyterServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kernel]:
    tmp = tmp_path_factory.mktemp("panel-kernel")
    with notebook_kernel(kernel_env(server, tmp), tmp, timeout=90) as client:
        k = Kernel(client)
        k.run(KERNEL_HELPERS)
        yield k


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_elsewhere(server: JupyterServerProcess, sid: str) -> None:
    with server.client() as c:
        r = c.post(f"{API}{PARENT}/sessions", params={"sessionId": sid})
        assert r.status_code == 200, r.text


def emulator_posts(endpoint: str) -> int:
    """POST requests the backend received (creates, terminates); watcher polls are GETs."""
    with httpx.Client(timeout=10.0) as c:
        stats = c.get(endpoint + "emulator/stats").json()
    return sum(n for route, n in stats["requests"].items() if route.startswith("POST"))


def test_panel_follows_sessions_another_client_creates_and_terminates(
    server: JupyterServerProcess, kernel: Kernel
) -> None:
    """Given a panel in a kernel, when another client (httpx through the server's proxy)
    creates and then terminates a session, then the panel's state and rendered row show
    it ACTIVE and then TERMINATED, with no refresh."""
    first = kernel.report(
        "panel = SessionsPanel()\n"
        "display(panel)\n"
        "until(lambda: shown_live(panel), what='the first snapshot shown')\n"
        "report(threads=our_threads(), status=panel.status_html.value, parent=panel.parent)"
    )
    assert first["parent"] == PARENT
    assert any(t.startswith("jupyter-sessions-events-") for t in first["threads"])
    assert any(t.startswith("jupyter-sessions-panel-") for t in first["threads"])
    assert "jp-sessions-live-status-live" in first["status"]

    sid = new_id("other")
    create_elsewhere(server, sid)
    active = kernel.report(
        f"until(lambda: state_of(panel, {sid!r}) == 'ACTIVE', what='ACTIVE')\n"
        "time.sleep(1.5)  # a tick: the row's ages move while this cell runs\n"
        f"report(row=panel.row_html({sid!r}), visible=panel.visible())"
    )
    assert "jp-sessions-live-state-active" in active["row"]
    assert f"{PARENT}/sessions/{sid}" in active["visible"]
    # The same update reached the front end over the widget protocol.
    assert any(
        f'/sessions/{sid}"' in v and "jp-sessions-live-state-active" in v
        for v in kernel.widget_values()
    )

    with server.client() as c:
        r = c.post(f"{API}{PARENT}/sessions/{sid}:terminate", json={})
        assert r.status_code == 200, r.text
    done = kernel.report(
        f"until(lambda: state_of(panel, {sid!r}) == 'TERMINATED', what='TERMINATED')\n"
        f"report(row=panel.row_html({sid!r}))"
    )
    assert "jp-sessions-live-state-terminated" in done["row"]


def test_form_validation_and_buttons_against_the_emulator(
    server: JupyterServerProcess, kernel: Kernel
) -> None:
    """Given the create form, a bad id shows its error at the field and sends nothing;
    a good one creates (ACTIVE shown); Terminate and Delete, confirmed, show TERMINATED
    and remove the row, each after the operation really finished."""
    endpoint = server.config()["endpoint"]
    kernel.run("panel = SessionsPanel()\nuntil(lambda: shown_live(panel), what='snapshot')")
    before = emulator_posts(endpoint)
    bad = kernel.report(
        "panel.new_button.value = True\n"
        "panel.form.session_id.value = 'Bad_Id'\n"
        "live_error = panel.form.errors['session_id'].value\n"
        "panel.form.max_idle.value = '5m'\n"
        "panel.form.create_button.click()\n"
        "report(live_error=live_error, id_error=panel.form.errors['session_id'].value,\n"
        "       idle_error=panel.form.errors['max_idle'].value, message=panel.message.value,\n"
        "       last=repr(panel.last_action), form_shown=panel.form.box.layout.display,\n"
        "       disabled=panel.form.create_button.disabled, why=panel.form.blocked.value)"
    )
    # The side panel's words, shown as typed; Create disabled with the reason.
    assert "Start with a lowercase letter." in bad["live_error"]
    assert "jp-sessions-live-field-error" in bad["id_error"]
    assert "Start with a lowercase letter." in bad["id_error"]
    assert "At least 10 minutes." in bad["idle_error"]
    assert bad["disabled"] is True and "Fix Session id, Max idle to create." in bad["why"]
    assert "Not created" in bad["message"] and bad["last"] == "None"
    assert bad["form_shown"] == ""
    time.sleep(0.3)
    assert emulator_posts(endpoint) == before  # no request reached the backend

    sid = new_id("form")
    created = kernel.report(
        f"panel.form.session_id.value = {sid!r}\n"
        "panel.form.max_idle.value = '30m'\n"
        "panel.form.labels.value = 'purpose=test'\n"
        "panel.form.create_button.click()\n"
        "action = panel.last_action\n"
        "accepted = action.message\n"
        "assert action.wait(30), action\n"
        "report(accepted=accepted, status=action.status, message=panel.message.value,\n"
        f"       state=state_of(panel, {sid!r}), row=panel.row_html({sid!r}),\n"
        "       selected=panel.selected, terminate=not panel.terminate_button.disabled,\n"
        "       details=panel.details_html.value, id_error=panel.form.errors['session_id'].value)"
    )
    assert created["accepted"].startswith("Creating")  # not "done" on acceptance
    assert created["status"] == "succeeded"
    assert f"Session {sid} is ACTIVE" in created["message"]
    assert created["state"] == "ACTIVE" and "jp-sessions-live-state-active" in created["row"]
    assert created["selected"] == f"{PARENT}/sessions/{sid}" and created["terminate"]
    assert "purpose=test" in created["details"] and "30m (1800s)" in created["details"]
    assert created["id_error"] == ""
    assert emulator_posts(endpoint) == before + 1

    terminated = kernel.report(
        "panel.terminate_button.click()\n"
        "question = panel.confirm_html.value\n"
        "panel.confirm_button.click()\n"
        "action = panel.last_action\n"
        "assert action.kind == 'terminate' and action.wait(30), action\n"
        "report(question=question, status=action.status, message=panel.message.value,\n"
        f"       row=panel.row_html({sid!r}), terminate=panel.terminate_button.disabled,\n"
        "       delete=panel.delete_button.disabled, tip=panel.terminate_button.tooltip)"
    )
    assert f"Terminate session {sid}?" in terminated["question"]
    assert terminated["status"] == "succeeded"
    assert f"Session {sid} is TERMINATED" in terminated["message"]
    assert "jp-sessions-live-state-terminated" in terminated["row"]
    assert terminated["terminate"] and not terminated["delete"]
    assert "already TERMINATED" in terminated["tip"]

    deleted = kernel.report(
        "panel.delete_button.click()\n"
        "panel.confirm_button.click()\n"
        "action = panel.last_action\n"
        "assert action.kind == 'delete' and action.wait(30), action\n"
        f"report(status=action.status, message=panel.message.value, row=panel.row_html({sid!r}),\n"
        f"       known=state_of(panel, {sid!r}), log=[o['text'] for o in panel.output.outputs])"
    )
    assert deleted["status"] == "succeeded" and f"Session {sid} was deleted" in deleted["message"]
    assert deleted["row"] is None and deleted["known"] is None
    assert any(f"Session {sid} was deleted" in line for line in deleted["log"])
    with server.client() as c:
        assert c.get(f"{API}{PARENT}/sessions/{sid}").status_code == 404


def test_templates_and_what_the_api_refuses(server: JupyterServerProcess, kernel: Kernel) -> None:
    """Given two templates, the form offers both (from the templates API); creating from
    one works and the session carries its labels; an id the table already holds is refused
    at the field without a request; a template deleted meanwhile fails with the API's
    NOT_FOUND, shown at the template field (that request was really sent)."""
    endpoint = server.config()["endpoint"]
    small, gone = new_id("small"), new_id("gone")
    with server.client() as c:
        for tid in (small, gone):
            body = {
                "name": f"{PARENT}/sessionTemplates/{tid}",
                "description": f"the {tid} template",
                "labels": {"tier": tid},
                "jupyterSession": {"kernel": "PYTHON"},
            }
            r = c.post(f"{API}{PARENT}/sessionTemplates", json=body)
            assert r.status_code == 200, r.text
    taken = new_id("taken")
    create_elsewhere(server, taken)
    listed = kernel.report(
        "panel = SessionsPanel()\n"
        "until(lambda: len(panel.form.template.options) >= 3, what='the templates')\n"
        f"until(lambda: state_of(panel, {taken!r}), what='the other session')\n"
        "report(options=[list(o) for o in panel.form.template.options])"
    )
    assert [f"{small}: the {small} template", f"{PARENT}/sessionTemplates/{small}"] in listed[
        "options"
    ]

    before = emulator_posts(endpoint)
    dup = kernel.report(
        f"panel.form.session_id.value = {taken!r}\n"
        "report(action=repr(panel.form.submit()), error=panel.form.errors['session_id'].value)"
    )
    assert dup["action"] == "None" and "already exists" in dup["error"]
    assert emulator_posts(endpoint) == before

    sid = new_id("tmpl")
    made = kernel.report(
        f"panel.form.session_id.value = {sid!r}\n"
        f"panel.form.template.value = {PARENT + '/sessionTemplates/' + small!r}\n"
        "kernel_choice = panel.form.kernel.value\n"
        "action = panel.form.submit()\n"
        "assert action is not None and action.wait(30), action\n"
        f"s = panel.sessions[{PARENT + '/sessions/' + sid!r}]\n"
        "report(status=action.status, kernel_choice=kernel_choice, labels=s.labels,\n"
        "       template=s.session_template)"
    )
    assert made["status"] == "succeeded" and made["kernel_choice"] == ""
    assert made["labels"]["tier"] == small and made["template"].endswith(small)

    with server.client() as c:
        assert c.delete(f"{API}{PARENT}/sessionTemplates/{gone}").status_code == 200
    refused = kernel.report(
        f"panel.form.session_id.value = {new_id('late')!r}\n"
        f"panel.form.template.value = {PARENT + '/sessionTemplates/' + gone!r}\n"
        "action = panel.form.submit()\n"
        "assert action is not None and action.wait(30), action\n"
        "report(status=action.status, message=panel.message.value,\n"
        "       template_error=panel.form.errors['template'].value)"
    )
    assert refused["status"] == "failed" and "NOT_FOUND" in refused["message"]
    assert gone in refused["template_error"]


def test_close_stops_the_threads_and_a_rerun_leaks_nothing(kernel: Kernel) -> None:
    """Given a panel, re-running its cell closes the old one (threads and widgets), and
    close() leaves no thread and no widget of the panel behind."""
    out = kernel.report(
        "from ipywidgets.widgets.widget import _instances\n"
        "SessionsPanel.close_all()\n"
        "baseline_threads, baseline_widgets = our_threads(), len(_instances)\n"
        "cell = 'p = SessionsPanel()\\nuntil(lambda: p.state.status.synced)'\n"
        "exec(cell)\n"
        "first, first_threads = p, our_threads()\n"
        "time.sleep(0.5)\n"
        "first_widgets = len(_instances)\n"
        "exec(cell)  # the same cell again\n"
        "time.sleep(0.5)\n"
        "rerun_threads, rerun_widgets = our_threads(), len(_instances)\n"
        "p.close()\n"
        "closed_threads, closed_widgets = our_threads(), len(_instances)\n"
        "other = SessionsPanel(parent='projects/another/locations/elsewhere')\n"
        "again = SessionsPanel()\n"
        "two = len([t for t in our_threads() if t.startswith('jupyter-sessions-panel')])\n"
        "SessionsPanel.close_all()\n"
        "report(baseline=baseline_threads, first=first_threads, first_closed=first.closed,\n"
        "       rerun=rerun_threads, closed=closed_threads, two=two, after_all=our_threads(),\n"
        "       widgets=[baseline_widgets, first_widgets, rerun_widgets, closed_widgets,\n"
        "                len(_instances)], alive=[t.name for t in p.threads()])"
    )
    assert out["baseline"] == []
    assert len(out["first"]) >= 2 and out["first_closed"]
    # The re-run replaced the first panel: as many threads and widgets as one panel has.
    assert len([t for t in out["rerun"] if t.startswith("jupyter-sessions-panel")]) == 1
    assert len([t for t in out["rerun"] if t.startswith("jupyter-sessions-events")]) == 1
    baseline, first, rerun, closed, final = out["widgets"]
    assert rerun == first and closed == baseline and final == baseline
    assert out["closed"] == [] and out["alive"] == []
    assert out["two"] == 2 and out["after_all"] == []


def test_the_session_panel_magic_shows_a_live_panel(kernel: Kernel) -> None:
    """``%session panel`` returns a live SessionsPanel on the magics' own client."""
    out = kernel.report(
        "%load_ext jupyter_sessions\n"
        "shown = %session panel\n"
        "until(lambda: shown.state.status.synced, what='the snapshot')\n"
        "kind = type(shown).__name__\n"
        "threads = [t.name for t in shown.threads()]\n"
        "shown.close()\n"
        "report(kind=kind, threads=threads, owns=shown._owns_client, after=our_threads())"
    )
    assert out["kind"] == "SessionsPanel" and not out["owns"]
    assert any(t.startswith("jupyter-sessions-events-") for t in out["threads"])
    assert out["after"] == []


def test_the_example_notebook_runs(server: JupyterServerProcess, tmp_path: Path) -> None:
    """notebooks/panel.ipynb runs top to bottom in a fresh kernel against the server."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    execute_notebook(nb, kernel_env(server, tmp_path), tmp_path)
    text = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
    assert "is ACTIVE" in text and "is TERMINATED" in text and "was deleted" in text


def test_unreachable_backend_is_shown_and_clears(
    server: JupyterServerProcess, kernel: Kernel
) -> None:
    """Given a live panel, when the embedded emulator dies (the extension restarts it),
    then the indicator shows the backend unreachable, and clears once it is back."""
    endpoint = server.config()["endpoint"]
    with httpx.Client(timeout=10.0) as c:
        pid = int(c.get(endpoint + "healthz").json()["pid"])
    kernel.run("panel = SessionsPanel()\nuntil(lambda: shown_live(panel))")
    killer = threading.Timer(1.0, os.kill, (pid, signal.SIGKILL))
    killer.start()
    try:
        out = kernel.report(
            "seen = []\n"
            "def kind():\n"
            "    html = panel.status_html.value\n"
            "    k = html.split('jp-sessions-live-status-', 2)[1].split('\"')[0]\n"
            "    if not seen or seen[-1] != k:\n"
            "        seen.append(k)\n"
            "    return k\n"
            "until(lambda: kind() == 'unreachable', 20, 'the unreachable indicator')\n"
            "down = panel.status_html.value\n"
            "until(lambda: kind() in ('live', 'recovered'), 60, 'the indicator to clear')\n"
            "report(seen=seen, down=down, log=[o['text'] for o in panel.output.outputs])"
        )
    finally:
        killer.cancel()
        killer.join()
    assert out["seen"][0] == "live" and "unreachable" in out["seen"]
    assert out["seen"][-1] in ("live", "recovered")
    assert "Backend unreachable" in out["down"]
    assert any("unreachable" in line for line in out["log"])
    assert any("reachable again" in line for line in out["log"])
