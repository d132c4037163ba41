"""The magics in this process's IPython shell, against standalone emulators on loopback:
argument handling, Ctrl-C during create, the shutdown cleanup of CREATING sessions,
sessions without a reachable kernel, and how results and progress render."""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_sessions.api.model import RuntimeInfo, Session, State
from jupyter_sessions.notebook.cell_errors import RemoteExecutionError, SessionError, remote_error
from jupyter_sessions.notebook.commands import generate_session_id
from jupyter_sessions.notebook.magics import SessionMagics
from jupyter_sessions.notebook.remote import connection_file

from ..support import EmulatorProcess, wait_for

LOCAL = "projects/local-project/locations/local"
ID_RULE = re.compile(r"^[a-z][a-z0-9-]{2,61}[a-z0-9]$")


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


def make_magics(shell: InteractiveShell, url: str | None) -> SessionMagics:
    magics = SessionMagics(shell)
    # Sessions of these tests are cleaned up by the tests, not at pytest's exit.
    atexit.unregister(magics.reaper.run)
    shell.register_magics(magics)
    if url:
        magics.session(f"config --url {url}")
    return magics


@pytest.fixture
def fast(shell: InteractiveShell, simulated_emulator: EmulatorProcess) -> SessionMagics:
    """Magics talking straight to a simulated emulator (no delays)."""
    return make_magics(shell, simulated_emulator.url)


@pytest.fixture
def slow(shell: InteractiveShell, slow_start: EmulatorProcess) -> SessionMagics:
    return make_magics(shell, slow_start.url)


@pytest.fixture(scope="module")
def slow_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """A simulated emulator whose sessions stay CREATING for 2.5 s."""
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("emu-slow-start"),
        "--runtime",
        "simulated",
        "--start-delay",
        "2.5",
        "--stop-delay",
        "0.2",
        "--tick",
        "0.2",
    ).start()
    yield emu
    emu.stop()


def state(emu: EmulatorProcess, sid: str) -> str:
    with emu.client() as c:
        return str(c.get(f"/v1/{LOCAL}/sessions/{sid}").json()["state"])


def interrupt_after(seconds: float) -> threading.Timer:
    """Press Ctrl-C (a real SIGINT to this process) after ``seconds``."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


# --- Ctrl-C and shutdown -------------------------------------------------------------------


def test_ctrl_c_during_create_terminates_the_session(
    slow: SessionMagics, slow_start: EmulatorProcess
) -> None:
    """Given a create still waiting for ACTIVE, when Ctrl-C is pressed, then the magic
    waits for the session to become terminable (terminate answers ABORTED while CREATING)
    and terminates it instead of leaving it running, and the cell fails saying so."""
    timer = interrupt_after(0.5)
    with pytest.raises(SessionError) as err:
        slow.session("create ctrl-c-one")
    timer.join()
    assert str(err.value) == "Interrupted: Session ctrl-c-one is being terminated"
    wait_for(lambda: state(slow_start, "ctrl-c-one") == "TERMINATED", 15, what="terminated")
    assert slow.reaper.owned == [] and slow.current is None


def test_ctrl_c_explains_when_the_session_cannot_be_terminated_yet(
    slow: SessionMagics, slow_start: EmulatorProcess
) -> None:
    """Given a short bound on how long an interrupted create waits, when Ctrl-C comes while
    the session is far from ACTIVE, then one line explains why and what to run later, and
    the session stays on the shutdown list."""
    slow.abort_wait = 0.3
    timer = interrupt_after(0.3)
    with pytest.raises(SessionError) as err:
        slow.session("create ctrl-c-two")
    timer.join()
    message = str(err.value)
    assert message.startswith("Interrupted: Session ctrl-c-two is still being created")
    assert "cannot be terminated until it is ACTIVE" in message
    assert "`%session terminate ctrl-c-two`" in message and "\n" not in message
    assert slow.reaper.owned == [f"{LOCAL}/sessions/ctrl-c-two"]
    slow.session("wait ctrl-c-two --timeout 30s")
    slow.session("terminate ctrl-c-two")


def test_shutdown_hands_creating_sessions_to_a_helper(
    slow: SessionMagics, slow_start: EmulatorProcess
) -> None:
    """Given a session still CREATING when the kernel shuts down, when the shutdown
    cleanup runs, then it returns within its budget and a detached helper terminates the
    session as soon as it is ACTIVE."""
    slow.session("create exit-creating --async")
    assert state(slow_start, "exit-creating") == "CREATING"
    start = time.monotonic()
    slow.reaper.run()
    assert time.monotonic() - start < slow.reaper.budget + 0.5
    wait_for(lambda: state(slow_start, "exit-creating") == "TERMINATED", 20, what="terminated")
    slow.reaper.run()  # a second call (atexit after do_shutdown) does nothing


def test_keep_and_use_keep_leave_sessions_alone(fast: SessionMagics) -> None:
    """Given sessions created with and without --keep, then only the latter are on the
    shutdown list, and `use ID --keep` takes one off it."""
    fast.session("create keep-a --keep")
    fast.session("create keep-b")
    assert fast.reaper.owned == [f"{LOCAL}/sessions/keep-b"]
    used = fast.session("use keep-b --keep")
    assert used.session_id == "keep-b" and fast.reaper.owned == []
    fast.session("delete keep-a")
    fast.session("delete keep-b")


# --- sessions without a reachable kernel ------------------------------------------------------


def test_cell_magic_explains_a_session_without_kernel_endpoint(fast: SessionMagics) -> None:
    """Given an ACTIVE session of a runtime without kernels (simulated, or Dataproc), when
    a %%session cell runs, then it fails with one line saying why."""
    fast.session("create no-kernel")
    with pytest.raises(SessionError) as err:
        fast.session("", "print('hi')")
    assert "offers no Jupyter kernel this notebook can reach" in str(err.value)
    fast.session("delete no-kernel")


def test_connection_file_on_another_machine_is_explained(tmp_path: Path) -> None:
    """Given a session whose connection file is not on this machine, then %%session
    refuses with the reason; a file that exists is returned."""
    endpoint = {"Jupyter Kernel Connection File": str(tmp_path / "missing.json")}
    s = Session(
        name=f"{LOCAL}/sessions/far-away",
        state=State.ACTIVE,
        runtime_info=RuntimeInfo(endpoints=endpoint),
    )
    with pytest.raises(SessionError, match="is not on this machine"):
        connection_file(s)
    (tmp_path / "missing.json").write_text("{}")
    assert connection_file(s) == tmp_path / "missing.json"
    s.state = State.CREATING
    with pytest.raises(SessionError, match="CREATING, not ACTIVE: wait for it"):
        connection_file(s)


def test_remote_errors_read_like_local_ones() -> None:
    """A remote exception is raised as a class named after it, rendering the remote
    traceback under a one-line header."""
    err = remote_error("ValueError", "bad value", ["Traceback...", "ValueError: bad value"], "s1")
    assert isinstance(err, RemoteExecutionError) and type(err).__name__ == "ValueError"
    assert str(err) == "bad value"
    assert err._render_traceback_()[0].endswith("Remote error in session s1\x1b[0m")
    assert remote_error("not an identifier!", "x").__class__ is RemoteExecutionError


# --- arguments, ids, errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        ("frobnicate", "invalid choice: 'frobnicate'"),
        ("create --ttl forever", "'forever': Write a duration such as 90s, 30m, 2h or 1d."),
        ("create --max-idle 0s", "'0s': At least 10 minutes."),
        ("create --ttl 5m", "argument --ttl: '5m': At least 10 minutes."),
        ("create --kernel ruby", "invalid choice: 'ruby'"),
        ("create --kernel python --spark-connect", "not allowed with argument"),
        ("create --label novalue", "expected KEY=VALUE"),
        ("list --state RUNNING", "unknown state RUNNING"),
        ("list --limit 0", "must be at least 1"),
        ("use", "the following arguments are required: ID"),
        ("describe a b", "unrecognized arguments: b"),
        ('list --filter "unbalanced', "No closing quotation"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    shell: InteractiveShell, line: str, expected: str
) -> None:
    """Given bad flags, then argparse's complaint is a UsageError (never SystemExit)."""
    magics = make_magics(shell, None)
    with pytest.raises(UsageError) as err:
        magics.session(line)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_subcommand_help_prints_and_returns(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    magics = make_magics(shell, None)
    assert magics.session("create --help") is None
    out = capsys.readouterr().out
    assert out.startswith("usage: %session create") and "--max-idle DURATION" in out
    table = magics.session("help")
    text = repr(table)
    assert "--limit N (default 50)" in text and "%%session [--timeout DURATION] [ID]" in text
    assert "[-h]" not in text and "jp-sessions-help" in table._repr_html_()


def test_help_reads_at_80_columns_and_has_headers_in_html(shell: InteractiveShell) -> None:
    """Given %session help, then no text line is longer than 80 characters, usage lines
    break between options (never inside one), and every HTML column has a header."""
    table = make_magics(shell, None).session("help")
    lines = repr(table).splitlines()
    assert max(len(line) for line in lines) <= 80
    for line in lines:
        assert line.count("[") == line.count("]"), line  # "[--ttl DURATION]" stays whole
        assert not line.rstrip().endswith("-"), line  # no "--max-" / "idle" split
    assert "[--max-idle DURATION]" in repr(table)
    html = table._repr_html_()
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert re.findall(r"<th[^>]*>([^<]*)</th>", head) == [
        "command",
        "flag",
        "default",
        "description",
    ]


@pytest.mark.parametrize("user", ["ana", "Root", "123", "", "x" * 100, "élodie.d", "-a-"])
def test_generated_ids_are_valid_and_readable(user: str) -> None:
    sid = generate_session_id(user)
    assert ID_RULE.match(sid), sid
    assert re.search(r"-\d{8}-[a-z0-9]{4}$", sid)
    assert generate_session_id(user) != sid


def test_commands_without_id_need_a_current_session(fast: SessionMagics) -> None:
    for line in ("describe", "terminate", "wait", "delete"):
        with pytest.raises(SessionError, match="No current session"):
            fast.session(line)


def test_unreachable_server_is_one_line(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Given no reachable server (nothing at $JUPYTER_SESSIONS_URL, no running server),
    when a command runs, then it fails with one line that says how to fix it."""
    monkeypatch.setenv("JUPYTER_SESSIONS_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    magics = make_magics(shell, None)
    with pytest.raises(SessionError) as err:
        magics.session("list")
    message = str(err.value)
    assert message.startswith("Cannot reach the sessions server")
    assert "%session config --url URL" in message and "\n" not in message


def test_panel_is_explained_when_widgets_are_missing(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given an installation without the panel's widget module, then %session panel fails
    with one line (the notebooks cover the panel itself)."""
    monkeypatch.setitem(sys.modules, "jupyter_sessions.notebook.panel.widget", None)
    magics = make_magics(shell, None)
    with pytest.raises(SessionError) as err:
        magics.session("panel")
    assert str(err.value).startswith("The sessions panel is not available")


# --- results -----------------------------------------------------------------------------------


def test_list_filters_limits_and_renders(
    fast: SessionMagics, simulated_emulator: EmulatorProcess
) -> None:
    """Given sessions made elsewhere (the REST API), then list finds them, filters by state
    and label, marks the current one, limits rows, and renders a table either way."""
    with simulated_emulator.client() as api:
        for i, team in enumerate(("red", "red", "blue")):
            r = api.post(
                f"/v1/{LOCAL}/sessions",
                params={"sessionId": f"listed-{i}"},
                json={"labels": {"team": team}},
            )
            r.raise_for_status()
        wait_for(
            lambda: all(state(simulated_emulator, f"listed-{i}") == "ACTIVE" for i in range(3)),
            10,
        )
    fast.session("use listed-1")
    everything = fast.session("list --all")
    assert {"listed-0", "listed-1", "listed-2"} <= set(everything.ids)
    assert everything.truncated is False
    red = fast.session("list --label team=red")
    assert sorted(red.ids) == ["listed-0", "listed-1"]
    two = fast.session("list --limit 2 --state ACTIVE,CREATING")
    assert len(two) == 2 and two.truncated and two.ids[0] == "listed-2"
    blue = fast.session("list --filter 'labels.team = blue' --state active")
    assert blue.ids == ["listed-2"]
    assert fast.session("list --state FAILED") == []
    text = repr(red)
    assert re.search(r"^\*\s+listed-1\s+ACTIVE", text, re.M), text
    assert "2 sessions in projects/local-project/locations/local" in text
    html = red._repr_html_()
    assert html.count("jp-sessions-state-active") == 2 and "team=red" in html
    for i in range(3):
        fast.session(f"delete listed-{i} --async")


def test_terminal_progress_is_one_rewritten_line(
    fast: SessionMagics, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside a notebook, a wait shows one line rewritten in place, ended by a newline."""
    fast.session("create progress-line")
    out = capsys.readouterr().out
    assert out.startswith("\rCreating progress-line: ") and out.endswith("\n")
    assert out.count("\n") == 1 and "ACTIVE" in out
    described = fast.session("describe")
    text = described._text()  # what a terminal shows
    assert text.startswith("progress-line  ACTIVE") and "timeline" in text
    assert "<b>progress-line</b>" in described._repr_html_()
    fast.session("delete")
    assert fast.current is None


def test_loading_the_extension_stays_light() -> None:
    """%load_ext imports neither the server, the emulator, the widgets, httpx nor the
    resource model: the first command does."""
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'jupyter_sessions')\n"
        "heavy = ('jupyter_sessions.server', 'jupyter_sessions.emulator', "
        "'jupyter_sessions.widgets', 'jupyter_sessions.notebook.panel', "
        "'jupyter_sessions.client', 'httpx', 'jupyter_server', "
        "'ipywidgets', 'jupyter_client', 'jupyter_sessions.api')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_create_flags_reach_the_api(fast: SessionMagics) -> None:
    """Given gcloud-style flags, then the created session carries them, and a retry with
    the same --request-id returns the same session instead of failing."""
    line = (
        "create flags-one --property spark:spark.executor.cores=8 --version 2.2 "
        "--service-account sa@example.iam.gserviceaccount.com --ttl 1h30m --max-idle 45m "
        "--subnet projects/p/regions/r/subnetworks/s --label a=1 --label b= --request-id r-1"
    )
    s = fast.session(line)
    assert s.runtime_config.properties["spark:spark.executor.cores"] == "8"
    assert s.runtime_config.version.startswith("2.2")
    ec = s.environment_config.execution_config
    assert ec.service_account == "sa@example.iam.gserviceaccount.com"
    assert ec.subnetwork_uri == "projects/p/regions/r/subnetworks/s"
    assert (ec.ttl.total_seconds(), ec.idle_ttl.total_seconds()) == (5400, 2700)
    assert {k: s.labels[k] for k in ("a", "b")} == {"a": "1", "b": ""}
    again = fast.session(line)
    assert again.uuid == s.uuid
    fast.session("delete flags-one")


def test_a_session_that_fails_to_start_fails_the_cell(fast: SessionMagics) -> None:
    """Given a session the backend cannot start (Spark Connect in the emulator), then
    create fails with the session's state message in one line."""
    with pytest.raises(SessionError) as err:
        fast.session("create spark-one --spark-connect")
    assert str(err.value).startswith("Session spark-one is FAILED: ")
    assert fast.current is None
    fast.session("delete spark-one")


def test_terminate_while_creating_says_what_to_do(
    slow: SessionMagics, slow_start: EmulatorProcess
) -> None:
    """Terminate answers ABORTED (409) while a session is CREATING: one line with a hint."""
    slow.session("create early-stop --async")
    with pytest.raises(SessionError) as err:
        slow.session("terminate early-stop")
    message = str(err.value)
    assert "(ABORTED)" in message and "`%session wait early-stop`" in message
    slow.session("wait early-stop")
    slow.session("delete early-stop")


@pytest.mark.parametrize(
    ("session_id", "message"),
    [
        ("Bad_Id", "Start with a lowercase letter."),
        ("abc", "Use at least 4 characters."),
        ("ends-", "Do not end with a hyphen."),
    ],
)
def test_a_bad_session_id_gets_the_panels_message_and_nothing_is_sent(
    shell: InteractiveShell, session_id: str, message: str
) -> None:
    """Given a bad id, when %session create runs, then the cell fails with the side panel's
    words for it, before any request (there is no server to send one to)."""
    magics = make_magics(shell, None)  # no server at all: the check comes first
    with pytest.raises(SessionError) as err:
        magics.session(f"create {session_id}")
    assert str(err.value) == f"Invalid session ID {session_id!r}: {message} (INVALID_ARGUMENT)"
