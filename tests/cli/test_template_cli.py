"""``jupyter-sessions template create / describe / edit / delete / from-session`` as real
subprocesses against a real Jupyter server and its emulator: JSON output, exit codes,
the kernelspec each template is, and the event stream's ``template`` events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..server.conftest import sessions_config
from ..support import PARENT, JupyterServerProcess, SseRecorder

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    """A Jupyter server whose emulator simulates sessions taking 5 s to start (long enough
    to outlast a command's own start on a busy machine) and 1 s to stop."""
    config = sessions_config(
        emulator_args=["--start-delay", "5", "--stop-delay", "1", "--ttl-floor", "1"]
    )
    proc = JupyterServerProcess(tmp_path_factory.mktemp("tpl-server"), config=config)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SESSIONS_")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("no-servers"))
    return env


class Result:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"exit {self.code}\nstdout: {self.out}\nstderr: {self.err}"


def cli(env: dict[str, str], server: JupyterServerProcess, *args: str) -> Result:
    argv = [str(BIN / "jupyter-sessions"), *args, "--url", server.url, "--token", server.token]
    return Result(subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60))


def kernelspecs(server: JupyterServerProcess) -> dict[str, Any]:
    with server.client() as c:
        specs: dict[str, Any] = c.get("api/kernelspecs").json()["kernelspecs"]
    return specs


def test_every_verb_with_json(server: JupyterServerProcess, env: dict[str, str]) -> None:
    """Given a server, when a script creates, describes, edits and deletes a template with
    --json, then each prints the API's JSON (an edit: what changed), and the template's
    kernelspec appears, is renamed and goes at once."""
    created = cli(
        env,
        server,
        "template",
        "create",
        "cli-tpl",
        "--display-name",
        "CLI Python",
        "--label",
        "team=ops",
        "--ttl",
        "2h",
        "--json",
    )
    assert created.code == 0 and created.err == "", created
    body = created.json()
    assert body["name"] == f"{PARENT}/sessionTemplates/cli-tpl"
    assert body["jupyterSession"] == {"kernel": "PYTHON", "displayName": "CLI Python"}
    assert body["labels"] == {"team": "ops"}
    assert body["environmentConfig"]["executionConfig"]["ttl"] == "7200s"
    spec = kernelspecs(server)["session-template-cli-tpl"]
    assert spec["spec"]["display_name"] == "CLI Python"

    described = cli(env, server, "template", "describe", "cli-tpl", "--json")
    assert described.code == 0 and described.json()["uuid"] == body["uuid"], described

    edited = cli(
        env, server, "template", "edit", "cli-tpl", "--display-name", "Ops Python", "--json"
    )
    assert edited.code == 0, edited
    out = edited.json()
    assert out["changes"] == [
        {"field": "display name", "before": "CLI Python", "after": "Ops Python"}
    ]
    assert out["sessionTemplate"]["updateTime"] >= body["updateTime"]
    assert kernelspecs(server)["session-template-cli-tpl"]["spec"]["display_name"] == "Ops Python"

    deleted = cli(env, server, "template", "delete", "cli-tpl", "--json")
    assert deleted.code == 0 and deleted.json() == {"deleted": body["name"]}, deleted
    assert "session-template-cli-tpl" not in kernelspecs(server)

    gone = cli(env, server, "template", "describe", "cli-tpl")
    assert gone.code == 1 and gone.out == "", gone
    assert gone.err == (
        f"error: Not found: Session Template {PARENT}/sessionTemplates/cli-tpl (NOT_FOUND); "
        "`jupyter-sessions templates` lists the templates\n"
    )


def test_text_output(server: JupyterServerProcess, env: dict[str, str]) -> None:
    created = cli(env, server, "template", "create", "cli-text", "--kernel", "scala")
    assert created.code == 0, created
    lines = created.out.splitlines()
    assert lines[:2] == ["Created template cli-text", "template cli-text"]
    assert ["kind", "scala"] in [line.split(None, 1) for line in lines]
    edited = cli(env, server, "template", "edit", "cli-text", "--max-idle", "45m")
    assert edited.code == 0, edited
    assert edited.out.splitlines()[0] == "Template cli-text: 1 change"
    assert edited.out.splitlines()[2].split() == ["max", "idle", "(not", "set)", "45m"]
    assert cli(env, server, "template", "delete", "cli-text").out == "Deleted template cli-text\n"


def test_errors_exit_1_with_one_line_and_write_nothing(
    server: JupyterServerProcess, env: dict[str, str]
) -> None:
    """A duplicate id, invalid fields and a template a starting session uses: exit 1, one
    line on stderr, and the templates unchanged."""
    assert cli(env, server, "template", "create", "cli-dup").code == 0
    dup = cli(env, server, "template", "create", "cli-dup", "--ttl", "1h")
    assert dup.code == 1 and dup.err.count("\n") == 1, dup
    assert "(ALREADY_EXISTS); pick another id, or change it with" in dup.err
    for args in (
        ["create", "cli-bad", "--label", "Bad=1"],
        ["create", "cli-long", "--ttl", "15d"],
        ["create", "Bad_Id"],
        ["edit", "cli-dup", "--label", "Bad=1"],
        ["from-session", "no-such-session", "cli-new"],
    ):
        r = cli(env, server, "template", *args)
        assert r.code == 1 and r.err.startswith("error: ") and r.err.count("\n") == 1, r
    listed = cli(env, server, "templates", "--json").json()["sessionTemplates"]
    assert [t["name"].rsplit("/", 1)[-1] for t in listed] == ["cli-dup"]
    assert "labels" not in listed[0]

    started = cli(env, server, "create", "cli-user", "--template", "cli-dup", "--async", "--json")
    assert started.code == 0 and started.json()["state"] == "CREATING", started
    refused = cli(env, server, "template", "delete", "cli-dup")
    assert refused.code == 1 and refused.err.count("\n") == 1, refused
    assert "used by session cli-user, which is still starting" in refused.err
    assert cli(env, server, "template", "describe", "cli-dup").code == 0
    assert cli(env, server, "wait", "cli-user").code == 0
    assert cli(env, server, "template", "delete", "cli-dup").code == 0
    assert cli(env, server, "delete", "cli-user").code == 0


def test_usage_errors_exit_2(server: JupyterServerProcess, env: dict[str, str]) -> None:
    for args in (["template"], ["template", "create"], ["template", "edit", "x", "--ttl", "no"]):
        r = cli(env, server, *args)
        assert r.code == 2, r


def test_from_session_json_matches_the_session(
    server: JupyterServerProcess, env: dict[str, str]
) -> None:
    """The template saved from a session holds the session's configuration, without its
    ids, state or system labels."""
    made = cli(
        env,
        server,
        "create",
        "cli-src",
        "--label",
        "team=ops",
        "--property",
        "spark:spark.driver.cores=2",
        "--ttl",
        "90m",
        "--json",
    )
    assert made.code == 0, made
    session = made.json()
    saved = cli(env, server, "template", "from-session", "cli-src", "cli-saved", "--json")
    assert saved.code == 0, saved
    t = saved.json()
    for key in ("runtimeConfig", "environmentConfig", "jupyterSession"):
        assert t[key] == session[key], key
    assert t["labels"] == {"team": "ops"}
    assert t["description"] == "Saved from session cli-src"
    assert not {"state", "runtimeInfo", "stateHistory", "user"} & set(t)
    assert "session-template-cli-saved" in kernelspecs(server)
    assert cli(env, server, "template", "delete", "cli-saved").code == 0
    assert cli(env, server, "delete", "cli-src").code == 0


def test_template_writes_reach_the_event_stream(
    server: JupyterServerProcess, env: dict[str, str]
) -> None:
    """Given a subscriber of the event stream, when templates are created, edited and
    deleted through the server, then it gets one `template` event per write, in order."""
    rec = SseRecorder(server)
    try:
        rec.wait(lambda r: "snapshot" in r.kinds())
        assert cli(env, server, "template", "create", "cli-live").code == 0
        assert cli(env, server, "template", "edit", "cli-live", "--ttl", "1h").code == 0
        assert cli(env, server, "template", "create", "cli-live").code == 1  # no event
        assert cli(env, server, "template", "delete", "cli-live").code == 0
        rec.wait(lambda r: r.kinds().count("template") >= 3)
        events = [data for _, kind, data in rec.events if kind == "template"]
    finally:
        rec.stop()
    name = f"{PARENT}/sessionTemplates/cli-live"
    assert [e["name"] for e in events] == [name] * 3
    assert "ttl" not in json.dumps(events[0]["template"])
    assert events[1]["template"]["environmentConfig"]["executionConfig"]["ttl"] == "3600s"
    assert events[2] == {"name": name, "deleted": True}


def test_a_template_event_is_not_sent_for_reads(server: JupyterServerProcess) -> None:
    """Reads through the proxy announce nothing."""
    rec = SseRecorder(server)
    try:
        rec.wait(lambda r: "snapshot" in r.kinds())
        with server.client() as c:
            assert c.get(f"jupyter-sessions/v1/{PARENT}/sessionTemplates").status_code == 200
            assert (
                c.post(f"jupyter-sessions/v1/{PARENT}/sessionTemplates", json={}).status_code == 400
            )
        beats = rec.kinds().count("heartbeat")
        rec.wait(lambda r: r.kinds().count("heartbeat") > beats)  # sent after the requests
    finally:
        rec.stop()
    assert "template" not in rec.kinds()
