"""The emulator on its own: one per database, nothing a web page can send is served, names
cannot forge log lines, and a full database still terminates and deletes."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ..support import EmulatorProcess, wait_for, wait_state
from .conftest import QUICK
from .harness import RawClient, Reply, assert_envelope, integrity_check, record_figures

EMULATOR = (sys.executable, "-m", "jupyter_sessions.cli", "emulator")


def envelope(r: httpx.Response) -> dict[str, Any]:
    return assert_envelope(Reply(r.status_code, dict(r.headers), r.content))


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Any:
    emu = EmulatorProcess(
        tmp_path_factory.mktemp("guard"), *QUICK, "--allowed-host", "notebook.test"
    ).start()
    yield emu
    emu.stop()


# --- one emulator per database ------------------------------------------------------------


def test_second_emulator_on_a_locked_database_refuses_to_start(tmp_path: Path) -> None:
    """Given an emulator serving a database, a second one on the same file exits with
    status 3 and names the first one's pid and URL, without touching anything; once the
    first stops, the database is free again."""
    first = EmulatorProcess(tmp_path, *QUICK).start()
    try:
        with first.client() as api:
            r = api.post("/v1/projects/p/locations/l/sessions", params={"sessionId": "kept"})
            assert r.status_code == 200
        second = subprocess.run(
            [*EMULATOR, "--port", "0", "--db", str(first.db), *QUICK],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 3, (second.stdout, second.stderr)
        assert f"in use by another emulator (pid {first.pid}, serving {first.url})" in (
            second.stderr
        )
        assert "--db" in second.stderr  # says what to do
        with first.client() as api:  # the first one carries on, its data intact
            assert api.get("/v1/projects/p/locations/l/sessions/kept").status_code == 200
    finally:
        first.stop()
    again = EmulatorProcess(tmp_path, *QUICK).start()  # the lock went with the process
    try:
        with again.client() as api:
            assert api.get("/v1/projects/p/locations/l/sessions/kept").status_code == 200
    finally:
        again.stop()


# --- what a web page could send -------------------------------------------------------------


def test_emulator_refuses_what_a_web_page_could_send(emulator: EmulatorProcess) -> None:
    """Given requests as a browser would send them for a foreign page (a foreign Origin,
    a rebound Host name, a text/plain or form body), each is refused with the envelope
    (403 or 415) and creates nothing; loopback names, --allowed-host names, a same-origin
    Origin and JSON bodies are served, and /healthz answers."""
    parent = f"projects/g-{uuid.uuid4().hex[:6]}/locations/l"
    port = emulator.url.rsplit(":", 1)[1]
    refused = [
        ({"Host": "evil.example"}, None, 403),
        ({"Host": f"evil.example:{port}"}, None, 403),
        ({"Host": f"127.0.0.1.nip.io:{port}"}, None, 403),
        ({"Origin": "http://evil.example"}, None, 403),
        ({"Origin": f"http://localhost:{port}"}, None, 403),  # another origin than Host's
        ({"Origin": "null"}, None, 403),
        ({"Content-Type": "text/plain"}, b"{}", 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"{}", 415),
        # (tornado itself refuses a malformed multipart body with 400, before the guard)
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"{}", 400),
        ({}, b"{}", 415),
    ]
    with httpx.Client(base_url=emulator.url, timeout=10.0) as c:
        for n, (headers, body, status) in enumerate(refused):
            sid = f"refused-{n}"
            r = c.post(
                f"/v1/{parent}/sessions", params={"sessionId": sid}, headers=headers, content=body
            )
            assert r.status_code == status, (headers, r.text)
            err = envelope(r)
            assert err["status"] == ("PERMISSION_DENIED" if status == 403 else "INVALID_ARGUMENT")
            if status == 415:
                assert "application/json" in err["message"], err
            assert c.get(f"/v1/{parent}/sessions/{sid}").status_code == 404
        assert c.get("/healthz", headers={"Host": "evil.example"}).status_code == 403
        served = [
            {"Host": f"localhost:{port}"},
            {"Host": f"127.0.0.2:{port}"},
            {"Host": f"[::1]:{port}"},
            {"Host": f"notebook.test:{port}"},
            {"Origin": f"http://127.0.0.1:{port}"},
            {"Content-Type": "application/json; charset=utf-8"},
        ]
        for n, headers in enumerate(served):
            sid = f"served-{n}"
            r = c.post(
                f"/v1/{parent}/sessions",
                params={"sessionId": sid},
                headers={"Content-Type": "application/json", **headers},
                content=b"{}",
            )
            assert r.status_code == 200, (headers, r.text)
        assert c.get("/healthz").json()["status"] == "ok"
    record_figures("browser-requests-refused", {"refused": len(refused) + 1, "served": 6})


def hostile_requests(emulator: EmulatorProcess, examples: int, stress: bool) -> None:
    port = emulator.url.rsplit(":", 1)[1]
    parent = f"projects/h-{uuid.uuid4().hex[:6]}/locations/l"
    hosts = ["127.0.0.1", "localhost", "notebook.test", "[::1]", "evil.example", "10.0.0.1"]
    counts = {"served": 0, "refused": 0}

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=not stress,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        host=st.sampled_from(hosts),
        with_port=st.booleans(),
        origin=st.sampled_from([None, "same", "http://evil.example", "null", "https://x"]),
        content_type=st.sampled_from(
            [None, "application/json", "text/plain", "application/JSON; charset=utf-8"]
        ),
        body=st.sampled_from([None, b"{}", b'{"labels": {"a": "b"}}']),
    )
    @example(host="evil.example", with_port=True, origin="same", content_type=None, body=None)
    def answers(
        host: str, with_port: bool, origin: str | None, content_type: str | None, body: bytes | None
    ) -> None:
        host_header = f"{host}:{port}" if with_port else host
        headers = {"Host": host_header}
        if origin is not None:
            headers["Origin"] = f"http://{host_header}" if origin == "same" else origin
        if content_type is not None:
            headers["Content-Type"] = content_type
        sid = "h" + uuid.uuid4().hex[:10]
        with RawClient(emulator.url) as client:
            reply = client.request("POST", f"/v1/{parent}/sessions?sessionId={sid}", body, headers)
        host_ok = host not in ("evil.example", "10.0.0.1")
        origin_ok = origin in (None, "same")
        body_ok = not body or (content_type or "").lower().startswith("application/json")
        context = (headers, body, reply.status, reply.body[:200])
        if host_ok and origin_ok and body_ok:
            counts["served"] += 1
            assert reply.status == 200, context
        else:
            counts["refused"] += 1
            assert reply.status in (403, 415), context
            assert_envelope(reply, context)
            with emulator.client() as api:  # nothing was created
                assert api.get(f"/v1/{parent}/sessions/{sid}").status_code == 404, context

    answers()
    assert counts["served"] and counts["refused"], counts
    record_figures(f"hostile-requests-{examples}", counts, write=stress)


def test_header_combinations_are_served_only_when_no_page_could_send_them(
    emulator: EmulatorProcess,
) -> None:
    """Given random Host, Origin and Content-Type headers on a create, it is served exactly
    when the Host is loopback or allowed, the Origin absent or the same, and a body is
    JSON; otherwise 403/415 in the envelope and nothing is created."""
    hostile_requests(emulator, 120, stress=False)


@pytest.mark.stress
def test_header_combinations_long(emulator: EmulatorProcess) -> None:
    hostile_requests(emulator, 1500, stress=True)


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "project",
    ["p%0Aforged", "p%0D%0A%5B2026-01-01%20WARNING%5D%20x", "P", "p%20q", "p%09", "-p", "p_q"],
)
def test_names_outside_dataproc_rules_are_refused_and_never_logged(
    emulator: EmulatorProcess, project: str
) -> None:
    """Given a project id Dataproc would refuse (control characters, spaces, capitals,
    underscores), create, list and get answer 400 INVALID_ARGUMENT, nothing is stored,
    and the emulator's log holds no line the request could have forged."""
    with RawClient(emulator.url) as client:
        for method, target in (
            ("POST", f"/v1/projects/{project}/locations/l/sessions?sessionId=abcd"),
            ("GET", f"/v1/projects/{project}/locations/l/sessions"),
            ("GET", f"/v1/projects/{project}/locations/l/sessions/abcd"),
            ("GET", "/v1/projects/p/locations/l/sessions/ab%0Acd"),
            ("POST", "/v1/projects/p/locations/l/sessions?sessionId=abcd%0A"),
            ("GET", "/v1/projects/p/locations/l%0A/sessions"),
        ):
            reply = client.request(
                method,
                target,
                b"{}" if method == "POST" else None,
                {"Content-Type": "application/json"},
            )
            err = assert_envelope(reply, target)
            assert reply.status == 400 and err["status"] == "INVALID_ARGUMENT", (target, err)
            assert "\n" not in err["message"] and "\r" not in err["message"]
    log = emulator.log_path.read_text()
    assert "forged" not in log.replace("p%0Aforged", "")
    assert "WARNING] x" not in log


# --- a full database ----------------------------------------------------------------------


def test_terminate_and_delete_work_on_a_full_database(tmp_path: Path) -> None:
    """Given a capped database filled until creates are refused, the refusal says how
    much room is left and where the file is; then every ACTIVE session can still be
    terminated (to TERMINATED) and deleted (404), and the file stays intact."""
    parent = f"projects/full-{uuid.uuid4().hex[:6]}/locations/us-central1"
    emu = EmulatorProcess(tmp_path, *QUICK, "--db-max-pages", "60").start()
    created: list[str] = []
    try:
        with emu.client() as api:
            for i in range(400):
                r = api.post(
                    f"/v1/{parent}/sessions",
                    params={"sessionId": f"fill-{i:03d}"},
                    json={"labels": {"n": str(i)}, "user": "x" * 600},
                )
                if r.status_code == 503:
                    break
                assert r.status_code == 200, r.text
                created.append(f"{parent}/sessions/fill-{i:03d}")
            else:
                raise AssertionError("the capped database never filled up")
            message = envelope(r)["message"]
            assert str(emu.db) in message and "KiB left" in message, message
            assert "--db-max-pages" in message and "Terminating and deleting" in message
            assert len(created) >= 3, created
            for name in created:
                wait_state(api, name, {"ACTIVE"})
            for name in created:
                r = api.post(f"/v1/{name}:terminate", json={})
                assert r.status_code == 200, (name, r.text)
            for name in created:
                wait_state(api, name, {"TERMINATED"})
            for name in created:
                r = api.delete(f"/v1/{name}")
                assert r.status_code == 200, (name, r.text)
            for name in created:
                wait_for(lambda n=name: api.get(f"/v1/{n}").status_code == 404, 10, what=name)
        emu.stop()
        assert emu.proc is not None and emu.proc.returncode == 0
    finally:
        emu.stop()
    assert integrity_check(emu.db) == "ok"
    record_figures("full-database-terminate-delete", {"sessions_ended": len(created)})
