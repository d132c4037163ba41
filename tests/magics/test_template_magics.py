"""``%session template create / describe / edit / delete / from-session`` in this process's
IPython shell, against real emulator processes on loopback."""

from __future__ import annotations

import atexit
from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_sessions.notebook.cell_errors import SessionError
from jupyter_sessions.notebook.magics import SessionMagics
from jupyter_sessions.notebook.render import Notice
from jupyter_sessions.notebook.render_templates import TemplateChanges, TemplateView

from ..support import EmulatorProcess, wait_for

LOCAL = "projects/local-project/locations/local"


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


def make_magics(shell: InteractiveShell, url: str) -> SessionMagics:
    magics = SessionMagics(shell)
    atexit.unregister(magics.reaper.run)  # the tests clean up their sessions
    shell.register_magics(magics)
    magics.session(f"config --url {url}")
    return magics


@pytest.fixture
def m(shell: InteractiveShell, simulated_emulator: EmulatorProcess) -> Iterator[SessionMagics]:
    yield make_magics(shell, simulated_emulator.url)


def template_ids(emu: EmulatorProcess) -> list[str]:
    with emu.client() as c:
        body = c.get(f"/v1/{LOCAL}/sessionTemplates").json()
    return sorted(t["name"].rsplit("/", 1)[-1] for t in body.get("sessionTemplates", []))


def test_create_describe_edit_delete(m: SessionMagics, simulated_emulator: EmulatorProcess) -> None:
    """Given the flags of `%session create`, when a template is created, described,
    edited and deleted, then each step shows and returns what the API holds."""
    created = m.session(
        "template create team-py --display-name 'Team Python' --description 'for the team' "
        "--label team=data --property spark:spark.executor.cores=4 --version 2.2 "
        "--ttl 2h --max-idle 30m --service-account sa@example.iam.gserviceaccount.com"
    )
    assert isinstance(created, TemplateView)
    assert created.name == f"{LOCAL}/sessionTemplates/team-py"
    assert created.jupyter_session is not None
    assert created.jupyter_session.display_name == "Team Python"
    assert created.labels == {"team": "data"}
    assert created.runtime_config is not None
    assert created.runtime_config.properties == {"spark:spark.executor.cores": "4"}
    ec = created.environment_config.execution_config  # type: ignore[union-attr]
    assert ec is not None and ec.ttl is not None and ec.idle_ttl is not None
    assert (ec.ttl.total_seconds(), ec.idle_ttl.total_seconds()) == (7200, 1800)
    text = created._text()
    assert text.splitlines()[0] == "Created template team-py"
    rows = [line.split(None, 1) for line in text.splitlines() if line.startswith("  ")]
    assert ["kernelspec", "session-template-team-py"] in rows and ["ttl", "2h"] in rows
    assert "<code><b>team-py</b></code>" in created._repr_html_()

    described = m.session("template describe team-py")
    assert described.uuid == created.uuid and described._text().startswith("template team-py")

    edited = m.session(
        "template edit team-py --ttl 4h --label env=dev --remove-label team "
        "--remove-property spark:spark.executor.cores --kernel scala"
    )
    assert isinstance(edited, TemplateChanges)
    assert {(c.field, c.before, c.after) for c in edited} == {
        ("kind", "python", "scala"),
        ("ttl", "2h", "4h"),
        ("label team", "data", ""),
        ("label env", "", "dev"),
        ("property spark:spark.executor.cores", "4", ""),
    }
    assert edited.template.labels == {"env": "dev"}
    assert edited.template.jupyter_session is not None
    assert edited.template.jupyter_session.display_name == "Team Python"  # kept
    assert edited._text().startswith("Template team-py: 5 changes")
    assert "<s>2h</s>" in edited._repr_html_()

    same = m.session("template edit team-py --ttl 4h")
    assert isinstance(same, TemplateChanges) and list(same) == []
    assert same._text() == "No changes to template team-py"
    assert same.template.update_time == edited.template.update_time  # nothing was sent

    deleted = m.session("template delete team-py")
    assert isinstance(deleted, Notice) and deleted.text == "Deleted template team-py"
    assert "team-py" not in template_ids(simulated_emulator)
    with pytest.raises(SessionError) as gone:
        m.session("template describe team-py")
    assert str(gone.value).startswith("Not found: Session Template ")
    assert "(NOT_FOUND)" in str(gone.value) and "\n" not in str(gone.value)


def test_errors_are_one_line_and_write_nothing(
    m: SessionMagics, simulated_emulator: EmulatorProcess
) -> None:
    """Duplicate ids, bad labels, a TTL out of range and a bad id: one line each, and the
    templates are as they were."""
    m.session("template create dup-one")
    before = template_ids(simulated_emulator)
    with pytest.raises(SessionError) as dup:
        m.session("template create dup-one --ttl 1h")
    message = str(dup.value)
    assert "already exists (ALREADY_EXISTS)" in message
    assert "`%session template edit dup-one`" in message and "\n" not in message

    for line, expected in (
        ("template create bad-label --label Team=x", "(INVALID_ARGUMENT)"),
        ("template create long-ttl --ttl 15d", "(INVALID_ARGUMENT)"),
        ("template create Bad_Id", "template id"),
        ("template create spark-named --spark-connect --display-name X", "display name"),
        ("template edit dup-one --label Bad=1", "(INVALID_ARGUMENT)"),
    ):
        with pytest.raises(SessionError) as err:
            m.session(line)
        assert expected in str(err.value) and "\n" not in str(err.value), line
    assert template_ids(simulated_emulator) == before
    assert m.session("template describe dup-one").labels == {}  # the bad edit wrote nothing

    with pytest.raises(UsageError):
        m.session("template create x --ttl forever")
    with pytest.raises(UsageError):
        m.session("template frobnicate x")
    m.session("template delete dup-one")


def test_from_session_keeps_what_a_template_holds(
    m: SessionMagics, simulated_emulator: EmulatorProcess
) -> None:
    """Given a running session with labels, properties, TTLs and a service account, when it
    is saved as a template, then the template holds its whole configuration and none of
    its ids, state or system labels; a session created from the template matches."""
    session = m.session(
        "create cfg-source --kernel python --label team=data --label tier= "
        "--property spark:spark.executor.cores=4 --version 2.2 --ttl 3h --max-idle 20m "
        "--service-account sa@example.iam.gserviceaccount.com "
        "--subnet projects/p/regions/r/subnetworks/s --keep"
    )
    saved = m.session("template from-session cfg-source cfg-saved --display-name 'From cfg'")
    assert isinstance(saved, TemplateView)
    assert saved._note == "Saved session cfg-source as template cfg-saved"

    s, t = session.to_json(), saved.to_json()
    assert t["runtimeConfig"] == s["runtimeConfig"]  # version and every property
    assert t["environmentConfig"] == s["environmentConfig"]
    assert t["jupyterSession"] == {**s["jupyterSession"], "displayName": "From cfg"}
    user_labels = {k: v for k, v in s["labels"].items() if not k.startswith("goog-dataproc-")}
    assert user_labels == {"team": "data", "tier": ""}
    assert t["labels"] == user_labels
    assert any(k.startswith("goog-dataproc-") for k in s["labels"])
    assert t["description"] == "Saved from session cfg-source"
    assert t["uuid"] != s["uuid"] and t["name"] == f"{LOCAL}/sessionTemplates/cfg-saved"
    for dropped in ("state", "stateTime", "runtimeInfo", "stateHistory", "sessionTemplate"):
        assert dropped not in t

    again = m.session("create cfg-copy --template cfg-saved --keep")
    copy = again.to_json()
    assert copy["runtimeConfig"] == s["runtimeConfig"]
    assert copy["environmentConfig"] == s["environmentConfig"]
    assert {k: v for k, v in copy["labels"].items() if not k.startswith("goog-")} == user_labels

    with pytest.raises(SessionError) as dup:
        m.session("template from-session cfg-source cfg-saved")
    assert "(ALREADY_EXISTS)" in str(dup.value)
    with pytest.raises(SessionError) as missing:
        m.session("template from-session no-such-session cfg-other")
    assert "(NOT_FOUND)" in str(missing.value)
    assert "cfg-other" not in template_ids(simulated_emulator)
    for sid in ("cfg-source", "cfg-copy"):
        m.session(f"delete {sid}")
    m.session("template delete cfg-saved")


def test_deleting_a_template_a_starting_session_uses(
    shell: InteractiveShell, slow_emulator: EmulatorProcess
) -> None:
    """Given a session still CREATING from a template, deleting the template fails with one
    line saying why and what to do, and the template stays; once ACTIVE it can go."""
    m = make_magics(shell, slow_emulator.url)
    m.session("template create in-use --ttl 1h")
    m.session("create user-of-it --template in-use --async --keep")
    with pytest.raises(SessionError) as err:
        m.session("template delete in-use")
    message = str(err.value)
    assert "used by session user-of-it, which is still starting" in message
    assert "(FAILED_PRECONDITION)" in message and "\n" not in message
    assert "in-use" in template_ids(slow_emulator)
    m.session("wait user-of-it")
    assert m.session("template delete in-use").text == "Deleted template in-use"
    # The session keeps its copy of the configuration.
    kept = m.session("describe user-of-it")
    ec = kept.environment_config.execution_config  # type: ignore[union-attr]
    assert ec is not None and ec.ttl is not None and ec.ttl.total_seconds() == 3600
    m.session("delete user-of-it")
    wait_for(lambda: "user-of-it" not in str(m.session("list --all").ids), what="deleted")
