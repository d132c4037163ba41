"""The example notebooks, executed by a real kernel (nbclient) against a real Jupyter
server and its embedded emulator, which runs a real kernel per session. Each notebook
asserts on what the magics return; these tests check what a user sees: the rendered
outputs, the one-line errors, and the sessions left behind after the kernel shut down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat

from ..local_kernel import execute_notebook
from ..support import PARENT, JupyterServerProcess, wait_for
from .conftest import NOTEBOOKS, kernel_env, output_text, plain

API = "jupyter-sessions/v1/"


def run_notebook(name: str, server: JupyterServerProcess, tmp: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    execute_notebook(nb, kernel_env(server, tmp), tmp)
    return nb


def cell(nb: nbformat.NotebookNode, cid: str) -> Any:
    return next(c for c in nb.cells if c.get("id") == cid)


def bundles(c: Any, kind: str = "") -> list[dict[str, Any]]:
    return [
        o["data"]
        for o in c.outputs
        if o["output_type"] in ("display_data", "execute_result")
        and (not kind or o["output_type"] == kind)
    ]


def check_expected_errors(nb: nbformat.NotebookNode) -> int:
    """Every cell tagged raises-exception failed the way its metadata says: one line for
    SessionError, the remote traceback for remote errors, a usage line for bad flags."""
    checked = 0
    for c in nb.cells:
        if "raises-exception" not in c.metadata.get("tags", []):
            continue
        expected = c.metadata["expected_error"]
        errors = [o for o in c.outputs if o["output_type"] == "error"]
        if expected["ename"] == "UsageError":
            # IPython prints usage errors on stderr; the cell still fails (no traceback).
            text = output_text(c.outputs, "stderr")
            assert text.startswith("UsageError: "), (c.id, c.outputs)
            assert expected["contains"] in text and text.count("\n") == 1, (c.id, text)
        elif c.id == "panel" and not errors:
            assert bundles(c), "the panel rendered nothing"  # the widgets are installed
        else:
            assert len(errors) == 1, (c.id, c.outputs)
            err = errors[0]
            assert err["ename"] == expected["ename"], (c.id, err)
            shown = plain("\n".join(err["traceback"]))
            assert expected["contains"] in shown, (c.id, shown)
            if err["ename"] == "SessionError":
                assert len(err["traceback"]) == 1 and "\n" not in err["traceback"][0], err
                assert shown == f"SessionError: {err['evalue']}"
        checked += 1
    return checked


def test_session_magics_tour(kernel_server: JupyterServerProcess, tmp_path: Path) -> None:
    """Given a notebook that creates, lists, describes, uses, runs code in, terminates and
    deletes sessions, when it runs, then its assertions hold and its outputs are tables."""
    nb = run_notebook("01-session-magics", kernel_server, tmp_path)
    assert check_expected_errors(nb) == 1

    create = cell(nb, "create")
    progress = bundles(create, "display_data")
    assert len(progress) == 1, "progress is one display, updated in place"
    assert "tour-demo" in progress[0]["text/plain"] and "ACTIVE" in progress[0]["text/plain"]
    (result,) = bundles(create, "execute_result")
    assert "jp-sessions-state-active" in result["text/html"]
    assert result["text/plain"].startswith("tour-demo  ACTIVE")

    (listing,) = bundles(cell(nb, "list"), "execute_result")
    html = listing["text/html"]
    assert 'class="jp-sessions-list"' in html and "team=data" in html
    assert "tour-demo" in listing["text/plain"] and "creator" in listing["text/plain"]

    (card,) = bundles(cell(nb, "describe"), "execute_result")
    for part in ("Timeline", "Endpoints", "Jupyter Kernel Connection File", "Configuration"):
        assert part in card["text/html"], part
    assert "timeline" in card["text/plain"] and "endpoints" in card["text/plain"]

    (help_table,) = bundles(cell(nb, "help"), "execute_result")
    for sub in ("list", "create", "describe", "terminate", "delete", "wait", "use", "panel"):
        assert f"%session {sub}" in help_table["text/plain"], sub
    assert "--max-idle" in help_table["text/html"] and "10m" in help_table["text/html"]

    ran = output_text(cell(nb, "run").outputs)
    assert ran == f"running in {PARENT}/sessions/tour-demo\n"
    assert "tour-small" in bundles(cell(nb, "templates"), "execute_result")[0]["text/plain"]
    terminated = bundles(cell(nb, "terminate"), "execute_result")[0]["text/plain"]
    assert terminated.startswith("tour-from-template  TERMINATED")
    assert bundles(cell(nb, "delete"), "execute_result")[0]["text/plain"] == (
        "Deleted session tour-from-template"
    )
    with kernel_server.client() as api:
        left = api.get(f"{API}{PARENT}/sessions").json().get("sessions", [])
        assert not [s["name"] for s in left if "tour" in s["name"]]


def test_run_code_in_a_session(kernel_server: JupyterServerProcess, tmp_path: Path) -> None:
    """Given a notebook of %%session cells, when it runs, then their output comes back
    (stdout, stderr, rich displays, updated displays, results) and a remote exception
    fails its cell with the remote traceback."""
    nb = run_notebook("02-run-code-in-a-session", kernel_server, tmp_path)
    assert check_expected_errors(nb) == 2

    whoami = output_text(cell(nb, "whoami").outputs)
    assert f"session: {PARENT}/sessions/code-demo" in whoami
    remote_pid = int(whoami.split("pid: ")[1])
    local_pid = int(bundles(cell(nb, "local-pid"))[0]["text/plain"])
    assert remote_pid != local_pid
    assert output_text(cell(nb, "use-var").outputs) == "42\n"
    assert output_text(cell(nb, "stream").outputs) == "first\nsecond\n"

    rich = cell(nb, "rich")
    assert output_text(rich.outputs, "stderr") == "a warning\n"
    shown = bundles(rich)
    assert shown[0]["text/html"] == "<b>rich output from the session</b>"
    assert shown[1]["text/plain"] == "'progress: 100%'", "update_display reached the display"
    assert shown[2]["text/plain"] == "{'rows': 3}"

    (err,) = [o for o in cell(nb, "remote-error").outputs if o["output_type"] == "error"]
    assert (err["ename"], err["evalue"]) == ("ZeroDivisionError", "division by zero")
    tb = plain("\n".join(err["traceback"]))
    assert "Remote error in session code-demo" in tb and "1 / 0" in tb
    assert output_text(cell(nb, "after-error").outputs) == "still here, answer = 21\n"
    assert output_text(cell(nb, "explicit").outputs) == "explicit id\n"


def test_errors_are_one_line_cell_errors(
    kernel_server: JupyterServerProcess, tmp_path: Path
) -> None:
    """Given a notebook of mistakes (bad id, duplicate, unknown session, terminate twice,
    ended session, bad flags, unreachable server), when it runs, then each fails its cell
    with one readable line and the notebook goes on."""
    nb = run_notebook("03-errors", kernel_server, tmp_path)
    assert check_expected_errors(nb) == 9
    unreachable = cell(nb, "unreachable").outputs[-1]
    assert "127.0.0.1:9" in unreachable["evalue"]
    assert bundles(cell(nb, "catch"))[0]["text/plain"].startswith("'Not found: Session")


def test_kernel_shutdown_terminates_sessions_not_kept(
    kernel_server: JupyterServerProcess, tmp_path: Path
) -> None:
    """Given a notebook that created one session with --keep and one without, when
    nbclient shuts its kernel down, then the one without --keep is terminating or
    terminated and the kept one is still ACTIVE."""
    nb = run_notebook("04-cleanup-on-shutdown", kernel_server, tmp_path)
    assert "shutdown-temp" in bundles(cell(nb, "config"))[0]["text/plain"]
    with kernel_server.client() as api:

        def state(sid: str) -> str:
            return str(api.get(f"{API}{PARENT}/sessions/{sid}").json()["state"])

        # The kernel has exited when execute() returns: the terminate call was already made.
        assert state("shutdown-temp") in ("TERMINATING", "TERMINATED")
        wait_for(lambda: state("shutdown-temp") == "TERMINATED", 30, what="terminated")
        assert state("shutdown-keep") == "ACTIVE"
        api.delete(f"{API}{PARENT}/sessions/shutdown-keep").raise_for_status()


def test_notebooks_are_saved_without_outputs() -> None:
    """The examples are committed clean: no outputs, no execution counts."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for c in nb["cells"]:
            if c["cell_type"] == "code":
                assert c["outputs"] == [] and c["execution_count"] is None, path.name
