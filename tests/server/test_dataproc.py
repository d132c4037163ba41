"""The Dataproc backend: real Google credentials (issued by a fake token endpoint on
127.0.0.1), the extension proxying to the emulator in its bearer-token mode, clear errors,
retries; and unit tests of endpoint selection, configuration order and error messages.

Nothing here contacts Google: every URL is 127.0.0.1, and the processes run with proxy
settings that make any other HTTPS request fail at once.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_sessions.api import errors
from jupyter_sessions.api.model import Operation, OperationType, Session, State
from jupyter_sessions.client.gcp_auth import INSTALL_HINT, GoogleAuth
from jupyter_sessions.client.retry import retry_after
from jupyter_sessions.emulator.auth import fingerprint
from jupyter_sessions.emulator.faults import FailNext
from jupyter_sessions.server.backend import RetryPolicy
from jupyter_sessions.server.dataproc import (
    GLOBAL_ENDPOINT,
    DataprocBackend,
    endpoint_url,
    permission_for,
)

from ..fake_oauth import GOOGLE_ENV_VARS, FakeTokenServer, isolated_google_env
from ..support import EmulatorProcess, JupyterServerProcess, wait_for

PROJECT = "dp-project"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
LOGIN_HINT = "gcloud auth application-default login"


# --- the stack: token endpoint, emulator with auth, Jupyter server in dataproc mode -------


@dataclass
class Stack:
    tokens: FakeTokenServer
    emulator: EmulatorProcess
    server: JupyterServerProcess
    record: Path
    bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to the extension; every response body is kept for the leak check."""
        with self.server.client() as client:
            response = client.request(method, f"jupyter-sessions/{path}", **kwargs)
        with self.lock:
            self.bodies.append(response.content)
        return response

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.call(method, f"v1/{path}", **kwargs)

    def records(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line]

    def stop(self) -> None:
        self.server.stop()
        self.emulator.stop()
        self.tokens.stop()


def start_stack(
    workdir: Path,
    *emulator_args: str,
    quota_project: str = "",
    credentials_quota: str = "quota-from-adc",
    **settings: Any,
) -> Stack:
    tokens = FakeTokenServer(workdir).start()
    creds = tokens.write_credentials(workdir / "adc.json", credentials_quota)
    record = workdir / "requests.jsonl"
    emulator = EmulatorProcess(
        workdir,
        "--runtime",
        "simulated",
        "--ttl-floor",
        "1",
        "--start-delay",
        "0.3",
        "--stop-delay",
        "0.3",
        "--require-token",
        f"@{tokens.token_file}",
        "--record-requests",
        str(record),
        *emulator_args,
    ).start()
    config = {
        "SessionsExtensionApp": {
            "backend": "dataproc",
            "dataproc_endpoint": emulator.url,
            "project": PROJECT,
            "location": LOCATION,
            "quota_project": quota_project,
            **settings,
        }
    }
    server = JupyterServerProcess(workdir / "jupyter", config=config)
    for var in GOOGLE_ENV_VARS:
        server.env.pop(var, None)
    server.env.update(isolated_google_env(creds))
    server.start()
    return Stack(tokens, emulator, server, record)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("dataproc"))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Denies template creation; fails two creates with 503 and a delete with 429."""
    stack = start_stack(
        tmp_path_factory.mktemp("dataproc-faults"),
        "--deny",
        "sessionTemplates.create",
        "--fail-next",
        "2:503:sessions.create",
        "--fail-next",
        "1:429:sessions.delete:1",
        quota_project="quota-from-traitlet",
    )
    yield stack
    stack.stop()


def wait_state(stack: Stack, name: str, state: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        r = stack.api("GET", name)
        assert r.status_code == 200, r.text
        return dict(r.json()) if r.json()["state"] == state else None

    return wait_for(check, 30, 0.1, what=f"{name} {state}")


# --- end to end -----------------------------------------------------------------------------


def test_config_shows_the_dataproc_backend(healthy: Stack) -> None:
    """Given the extension in dataproc mode, its config names the endpoint, project,
    location and quota project, reports no error, and carries no credential."""
    config = healthy.call("GET", "config").json()
    assert config["backend"] == "dataproc"
    assert config["endpoint"] == healthy.emulator.url + "/"
    assert (config["project"], config["location"]) == (PROJECT, LOCATION)
    assert config["parent"] == PARENT
    assert config["error"] == ""
    assert config["quotaProject"] == "quota-from-adc"
    assert "external_account_authorized_user" in config["credentials"]


def test_sessions_round_trip_through_the_proxy(healthy: Stack) -> None:
    """Create, get, list, terminate and delete go through the extension to the
    token-checking emulator, each with the bearer token, quota project and user agent."""
    before = len(healthy.records())
    sid = f"dp-{uuid.uuid4().hex[:8]}"
    name = f"{PARENT}/sessions/{sid}"

    r = healthy.api(
        "POST", f"{PARENT}/sessions", params={"sessionId": sid, "requestId": "rt-create"}, json={}
    )
    assert r.status_code == 200, r.text
    assert Operation.from_json(r.json(), strict=False).metadata is not None
    wait_state(healthy, name, "ACTIVE")

    # What a Google client library asks for: enums as integers; still decodes.
    r = healthy.api("GET", name, params={"$alt": "json;enum-encoding=int"})
    assert r.json()["state"] == int(State.ACTIVE)
    assert Session.from_json(r.json(), strict=False).state == State.ACTIVE

    listed = healthy.api("GET", f"{PARENT}/sessions").json()
    assert name in [s["name"] for s in listed["sessions"]]

    r = healthy.api("POST", f"{name}:terminate", json={"requestId": "rt-terminate"})
    assert r.status_code == 200, r.text
    wait_state(healthy, name, "TERMINATED")
    r = healthy.api("DELETE", name, params={"requestId": "rt-delete"})
    assert r.status_code == 200, r.text

    def gone() -> httpx.Response | None:
        r = healthy.api("GET", name)
        return r if r.status_code == 404 else None

    missing = wait_for(gone, 30, 0.1, what="deleted").json()["error"]
    assert missing["status"] == "NOT_FOUND"
    assert PROJECT in missing["message"] and LOCATION in missing["message"]

    seen = healthy.records()[before:]
    methods = {(e["method"], e["path"].rsplit("/", 1)[-1]) for e in seen}
    assert ("POST", "sessions") in methods and ("DELETE", sid) in methods
    assert ("POST", f"{sid}:terminate") in methods
    issued = {f"Bearer {fingerprint(t)}" for t in healthy.tokens.issued}
    for entry in seen:
        assert entry["accepted"], entry
        assert entry["authorization"] in issued
        assert entry["x-goog-user-project"] == "quota-from-adc"
        assert entry["user-agent"].startswith("jupyter-sessions/")
        assert entry["x-goog-api-client"].startswith("jupyter-sessions/")


def test_an_expired_token_is_refreshed_once_for_concurrent_requests(healthy: Stack) -> None:
    """Given a token the API no longer accepts, concurrent requests all succeed, and the
    token endpoint is asked for exactly one new token."""
    assert healthy.api("GET", f"{PARENT}/sessions").status_code == 200
    refreshes = healthy.tokens.refreshes
    healthy.tokens.expire()
    before = len(healthy.records())

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: healthy.api("GET", f"{PARENT}/sessions"), range(6)))

    assert [r.status_code for r in statuses] == [200] * 6
    assert healthy.tokens.refreshes == refreshes + 1
    seen = healthy.records()[before:]
    new = f"Bearer {fingerprint(healthy.tokens.issued[-1])}"
    assert any(not e["accepted"] for e in seen)  # the old token was really refused
    assert [e for e in seen if e["accepted"]] and all(
        e["authorization"] == new for e in seen if e["accepted"]
    )


def test_a_token_close_to_expiry_is_refreshed_before_it_is_sent(healthy: Stack) -> None:
    """Given tokens that live 2 minutes (inside the 5-minute margin), each request gets a
    new token first, so none is ever refused."""
    healthy.tokens.expires_in = 120
    try:
        healthy.tokens.expire()
        assert healthy.api("GET", f"{PARENT}/sessions").status_code == 200  # 401, refresh
        refreshes = healthy.tokens.refreshes
        before = len(healthy.records())
        assert healthy.api("GET", f"{PARENT}/sessions").status_code == 200
        assert healthy.tokens.refreshes == refreshes + 1
        assert [e["accepted"] for e in healthy.records()[before:]] == [True]
    finally:
        healthy.tokens.expires_in = 3600
        healthy.tokens.expire()
        assert healthy.api("GET", f"{PARENT}/sessions").status_code == 200


def test_refused_credentials_answer_401_with_the_login_hint(healthy: Stack) -> None:
    """Given new tokens the API still refuses, the 401 relayed keeps its code and status
    and says how to log in."""
    healthy.tokens.publish_tokens = False
    try:
        healthy.tokens.expire()
        r = healthy.api("GET", f"{PARENT}/sessions")
        assert r.status_code == 401
        error = r.json()["error"]
        assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
        assert LOGIN_HINT in error["message"]
    finally:
        healthy.tokens.publish_tokens = True
    assert healthy.api("GET", f"{PARENT}/sessions").status_code == 200


def test_a_revoked_login_answers_401_with_the_login_hint(healthy: Stack) -> None:
    """Given a login the token endpoint no longer honours (invalid_grant), the request
    fails with 401 and the login command instead of a server error."""
    healthy.tokens.refuse_grant = True
    try:
        healthy.tokens.expire()
        r = healthy.api("GET", f"{PARENT}/sessions")
        assert r.status_code == 401, r.text
        error = r.json()["error"]
        assert error["status"] == "UNAUTHENTICATED"
        assert LOGIN_HINT in error["message"]
        assert "invalid_grant" in error["message"]
    finally:
        healthy.tokens.refuse_grant = False
    assert healthy.api("GET", f"{PARENT}/sessions").status_code == 200


def test_no_credential_reaches_a_response_or_a_log(healthy: Stack) -> None:
    """No access token, refresh token or client secret in any response body the tests
    saw, in the extension's config, in the server log, the emulator log or its record."""
    healthy.call("GET", "config")
    healthy.api("GET", f"{PARENT}/sessions")
    secrets = healthy.tokens.secrets()
    assert len(secrets) >= 3
    texts = {
        "responses": b"\n".join(healthy.bodies).decode("utf-8", "replace"),
        "server log": healthy.server.log_path.read_text(errors="replace"),
        "emulator log": healthy.emulator.log_path.read_text(errors="replace"),
        "request record": healthy.record.read_text(),
    }
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a credential leaked into the {where}"
    assert "Dataproc sessions backend: project dp-project" in texts["server log"]


def test_429_and_503_are_retried_with_the_same_request_id(faulty: Stack) -> None:
    """Given an API that answers 503 twice to a create and 429 (Retry-After: 1) to a
    delete, the extension retries and succeeds, re-sending the same requestId, and waits
    as long as asked."""
    sid = f"dp-{uuid.uuid4().hex[:8]}"
    name = f"{PARENT}/sessions/{sid}"
    r = faulty.api(
        "POST", f"{PARENT}/sessions", params={"sessionId": sid, "requestId": "retry-c"}, json={}
    )
    assert r.status_code == 200, r.text
    wait_state(faulty, name, "ACTIVE")

    started = time.monotonic()
    r = faulty.api("DELETE", name, params={"requestId": "retry-d"})
    assert r.status_code == 200, r.text
    assert time.monotonic() - started >= 1.0

    records = faulty.records()
    creates = [e for e in records if e["method"] == "POST" and e["path"].endswith("/sessions")]
    deletes = [e for e in records if e["method"] == "DELETE"]
    assert [e["requestId"] for e in creates] == ["retry-c"] * 3
    assert [e["requestId"] for e in deletes] == ["retry-d"] * 2
    stats = faulty.emulator.stats()
    assert stats["POST sessions.create"] == 3 and stats["DELETE sessions.delete"] == 2


def test_403_names_the_missing_permission(faulty: Stack) -> None:
    """Given credentials without dataproc.sessionTemplates.create, the 403 keeps its code
    and status and names the permission and a role that has it."""
    r = faulty.api(
        "POST",
        f"{PARENT}/sessionTemplates",
        json={"name": f"{PARENT}/sessionTemplates/t1"},
    )
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert (error["code"], error["status"]) == (403, "PERMISSION_DENIED")
    assert "dataproc.sessionTemplates.create" in error["message"]
    assert "roles/dataproc.editor" in error["message"]
    assert error["details"][0]["reason"] == "IAM_PERMISSION_DENIED"


def test_the_quota_project_setting_wins_over_the_credentials(faulty: Stack) -> None:
    """Given SessionsExtensionApp.quota_project, every request bills that project."""
    assert faulty.api("GET", f"{PARENT}/sessions").status_code == 200
    assert {e["x-goog-user-project"] for e in faulty.records()} == {"quota-from-traitlet"}
    assert faulty.call("GET", "config").json()["quotaProject"] == "quota-from-traitlet"


def test_missing_configuration_is_reported_not_fatal(tmp_path: Path) -> None:
    """Given the dataproc backend with no project, no region and no credentials, the
    server runs; config and every request explain what to set."""
    config = {"SessionsExtensionApp": {"backend": "dataproc"}}
    server = JupyterServerProcess(tmp_path, config=config)
    for var in GOOGLE_ENV_VARS:
        server.env.pop(var, None)
    server.env.update(isolated_google_env(tmp_path / "no-such-credentials.json"))
    server.start()
    try:
        info = server.config()
        assert info["backend"] == "dataproc" and info["project"] == ""
        assert "SessionsExtensionApp.project" in info["error"]
        assert "SessionsExtensionApp.location" in info["error"]
        assert LOGIN_HINT in info["error"]
        with server.client() as client:
            r = client.get("jupyter-sessions/v1/projects/p/locations/us-central1/sessions")
        assert r.status_code == 401
        assert LOGIN_HINT in r.json()["error"]["message"]
        assert server.proc is not None and server.proc.poll() is None
        assert "The Dataproc sessions backend is not ready" in server.log_path.read_text()
    finally:
        server.stop()


# --- unit: endpoints, configuration order, messages ------------------------------------


@pytest.mark.parametrize(
    ("location", "endpoint", "expected"),
    [
        ("us-central1", "", "https://us-central1-dataproc.googleapis.com/"),
        ("europe-west4", "regional", "https://europe-west4-dataproc.googleapis.com/"),
        ("us-central1", "global", GLOBAL_ENDPOINT),
        ("", "", GLOBAL_ENDPOINT),
        ("us-central1", "rep", "https://dataproc.us-central1.rep.googleapis.com/"),
        ("us-central1", "http://127.0.0.1:8765", "http://127.0.0.1:8765/"),
        ("us-central1", "http://[::1]:8765/v1/", "http://[::1]:8765/"),
        ("x", "https://gateway.example.com/dataproc/v1", "https://gateway.example.com/dataproc/"),
    ],
)
def test_endpoint_selection(location: str, endpoint: str, expected: str) -> None:
    assert endpoint_url(location, endpoint) == expected


@pytest.mark.parametrize(
    ("location", "endpoint"),
    [
        ("us-central1", "http://dataproc.example.com/"),  # a token in clear text
        ("us-central1", "ftp://127.0.0.1/"),
        ("us-central1", "https://u:p@example.com/"),
        ("evil.com/x", ""),  # a location is part of the host name
        ("US_CENTRAL1", "regional"),
        ("", "rep"),
    ],
)
def test_endpoint_selection_refuses_unsafe_values(location: str, endpoint: str) -> None:
    with pytest.raises(ValueError):
        endpoint_url(location, endpoint)


class _StaticAuth(GoogleAuth):
    """Credentials already loaded, naming ``adc_project`` (no file, no network)."""

    def __init__(self, adc_project: str = "") -> None:
        super().__init__(credentials=object())
        self._project = adc_project


async def test_project_and_location_come_from_settings_then_environment() -> None:
    env = {
        "GOOGLE_CLOUD_PROJECT": "p-google",
        "CLOUDSDK_CORE_PROJECT": "p-sdk",
        "GOOGLE_CLOUD_REGION": "europe-west1",
        "CLOUDSDK_DATAPROC_REGION": "asia-east1",
    }
    backend = DataprocBackend("p-trait", "us-east1", environ=env, auth=_StaticAuth("p-adc"))
    await backend.ready(5)
    assert (backend.project, backend.location) == ("p-trait", "us-east1")
    assert backend.api_root == "https://us-east1-dataproc.googleapis.com/"

    backend = DataprocBackend(environ=env, auth=_StaticAuth("p-adc"))
    await backend.ready(5)
    assert (backend.project, backend.location) == ("p-google", "europe-west1")
    assert backend.project_source == "GOOGLE_CLOUD_PROJECT"

    env = {"CLOUDSDK_CORE_PROJECT": "p-sdk", "CLOUDSDK_DATAPROC_REGION": "asia-east1"}
    backend = DataprocBackend(environ=env, auth=_StaticAuth("p-adc"))
    await backend.ready(5)
    assert (backend.project, backend.location) == ("p-sdk", "asia-east1")

    backend = DataprocBackend(environ={}, auth=_StaticAuth("p-adc"))
    await backend.ready(5)
    assert backend.project == "p-adc"
    assert backend.project_source == "Application Default Credentials"
    assert backend.location == "" and backend.api_root == GLOBAL_ENDPOINT
    assert "SessionsExtensionApp.location" in backend.config_error

    backend = DataprocBackend(environ={}, auth=_StaticAuth(""))
    await backend.ready(5)
    assert "SessionsExtensionApp.project" in backend.config_error


async def test_the_project_of_a_service_account_key_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given only a service account key (GOOGLE_APPLICATION_CREDENTIALS), its project_id
    is the default project."""
    tokens = FakeTokenServer(tmp_path).start()
    try:
        key = tokens.write_service_account_key(tmp_path / "sa.json", "p-from-key")
        for var in GOOGLE_ENV_VARS:
            monkeypatch.delenv(var, raising=False)
        for name, value in isolated_google_env(key).items():
            monkeypatch.setenv(name, value)
        backend = DataprocBackend("", "us-central1")
        await backend.ready(10)
        assert backend.project == "p-from-key" and backend.config_error == ""
        assert backend.user == tokens.service_account
        headers = await backend.auth_headers()
        assert headers["Authorization"] == f"Bearer {tokens.issued[-1]}"
        assert "x-goog-user-project" not in headers
    finally:
        tokens.stop()


async def test_an_unsafe_endpoint_blocks_requests_with_a_clear_error() -> None:
    backend = DataprocBackend(
        "p", "us-central1", endpoint="http://10.1.2.3/", environ={}, auth=_StaticAuth()
    )
    await backend.ready(5)
    assert "unencrypted" in backend.config_error
    with pytest.raises(errors.FailedPrecondition, match="unencrypted"):
        await backend.auth_headers()


async def test_without_google_auth_the_backend_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)
    backend = DataprocBackend(PROJECT, LOCATION, environ={})
    await backend.ready(5)
    assert INSTALL_HINT in backend.config_error
    with pytest.raises(errors.FailedPrecondition, match="jupyter-sessions\\[gcp\\]"):
        await backend.auth_headers()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2:503", FailNext(2, 503)),
        ("2:503:sessions.create", FailNext(2, 503, "sessions.create")),
        ("1:429:sessions.delete:1", FailNext(1, 429, "sessions.delete", 1.0)),
        ("1:429:0.5", FailNext(1, 429, "", 0.5)),
    ],
)
def test_emulator_fail_next_specs(spec: str, expected: FailNext) -> None:
    assert FailNext.parse(spec) == expected


@pytest.mark.parametrize("spec", ["", "x:503", "0:503", "1:200", "1:503:a:1:extra"])
def test_emulator_fail_next_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ValueError):
        FailNext.parse(spec)


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("POST", f"v1/{PARENT}/sessions", "dataproc.sessions.create"),
        ("GET", f"v1/{PARENT}/sessions", "dataproc.sessions.list"),
        ("GET", f"v1/{PARENT}/sessions/s1", "dataproc.sessions.get"),
        ("POST", f"v1/{PARENT}/sessions/s1:terminate", "dataproc.sessions.terminate"),
        ("DELETE", f"v1/{PARENT}/sessions/s1", "dataproc.sessions.delete"),
        ("PATCH", f"v1/{PARENT}/sessionTemplates/t", "dataproc.sessionTemplates.update"),
        ("GET", "v1/projects/p/regions/r/operations/o", "dataproc.operations.get"),
        ("POST", "v1/projects/p/regions/r/operations/o:cancel", "dataproc.operations.cancel"),
        ("PUT", f"v1/{PARENT}/sessions/s1", ""),
    ],
)
def test_permission_of_each_method(method: str, path: str, permission: str) -> None:
    assert permission_for(method, path) == permission


def _backend() -> DataprocBackend:
    return DataprocBackend(PROJECT, LOCATION, environ={}, auth=_StaticAuth())


def test_403_service_disabled_says_how_to_enable_the_api() -> None:
    """A recorded-style SERVICE_DISABLED answer becomes the enable-API link."""
    body = {
        "error": {
            "code": 403,
            "message": "Cloud Dataproc API has not been used in project 123456 before or it "
            "is disabled. Enable it by visiting https://console.developers.google.com/apis/"
            "api/dataproc.googleapis.com/overview?project=123456 then retry.",
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "SERVICE_DISABLED",
                    "domain": "googleapis.com",
                    "metadata": {
                        "service": "dataproc.googleapis.com",
                        "consumer": "projects/123456",
                    },
                },
                {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
            ],
        }
    }
    err = _backend().rewrite_error(
        "POST", f"v1/{PARENT}/sessions", errors.ApiError.from_http(403, body)
    )
    assert isinstance(err, errors.PermissionDenied) and err.http_status == 403
    assert "Enable the Dataproc API" in err.message
    assert (
        f"https://console.cloud.google.com/apis/library/dataproc.googleapis.com?project={PROJECT}"
        in err.message
    )
    assert err.details == body["error"]["details"]
    assert err.to_http_json()["error"]["status"] == "PERMISSION_DENIED"


def test_403_without_details_names_the_permission_of_the_method() -> None:
    err = _backend().rewrite_error(
        "POST",
        f"v1/{PARENT}/sessions/s1:terminate",
        errors.PermissionDenied("The caller does not have permission"),
    )
    assert "dataproc.sessions.terminate" in err.message
    assert PARENT in err.message and "roles/dataproc.editor" in err.message
    assert "The caller does not have permission" in err.message


def test_403_user_project_denied_points_at_the_quota_project() -> None:
    body = {
        "error": {
            "code": 403,
            "message": "Caller does not have required permission to use project q.",
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "USER_PROJECT_DENIED",
                    "domain": "googleapis.com",
                }
            ],
        }
    }
    err = _backend().rewrite_error(
        "GET", f"v1/{PARENT}/sessions", errors.ApiError.from_http(403, body)
    )
    assert "quota_project" in err.message and "serviceUsageConsumer" in err.message


def test_401_and_404_messages_and_other_errors_kept() -> None:
    backend = _backend()
    err = backend.rewrite_error(
        "GET", f"v1/{PARENT}/sessions", errors.Unauthenticated("Request had invalid creds")
    )
    assert LOGIN_HINT in err.message and err.http_status == 401
    err = backend.rewrite_error(
        "GET",
        "v1/projects/other/locations/europe-west1/sessions/s",
        errors.NotFound("Not found: Session projects/other/locations/europe-west1/sessions/s"),
    )
    assert err.message.startswith("Not found: Session")
    assert "project other, location europe-west1" in err.message
    conflict = errors.AlreadyExists("exists")
    assert backend.rewrite_error("POST", f"v1/{PARENT}/sessions", conflict) is conflict


def test_recorded_dataproc_payloads_decode() -> None:
    """What Dataproc really sends (integer enums, unknown fields, empty messages as {},
    int64 strings) decodes with the lenient model."""
    session = Session.from_json(
        {
            "name": f"{PARENT}/sessions/s1",
            "uuid": "c0ffee00-0000-4000-8000-000000000001",
            "createTime": "2025-03-01T10:00:00.123456789Z",
            "jupyterSession": {"kernel": 1, "displayName": "Python"},
            "runtimeInfo": {},
            "environmentConfig": {
                "executionConfig": {"idleTtl": "3600s", "ttl": "86400s"},
                "peripheralsConfig": {"sparkHistoryServerConfig": {}},
            },
            "state": 2,
            "stateHistory": [{"state": 1, "stateStartTime": "2025-03-01T10:00:00Z"}],
            "creator": "user@example.com",
            "someFutureField": {"nested": [1, 2]},
            "state_message": None,
        },
        strict=False,
    )
    assert session.state == State.ACTIVE
    assert session.state_history[0].state == State.CREATING
    assert session.runtime_info is not None
    op = Operation.from_json(
        {
            "name": "projects/p/regions/us-central1/operations/59a1f970",
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.dataproc.v1.SessionOperationMetadata",
                "session": f"{PARENT}/sessions/s1",
                "operationType": 1,
                "labels": {"goog-dataproc-session-id": "s1"},
                "newMetadataField": "x",
            },
            "done": True,
            "response": {
                "@type": "type.googleapis.com/google.cloud.dataproc.v1.Session",
                "state": 2,
                "runtimeInfo": {"currentUsage": {"milliDcu": "4000"}},
            },
        },
        strict=False,
    )
    assert op.metadata is not None and op.metadata.operation_type == OperationType.CREATE
    assert op.response is not None and op.response.state == State.ACTIVE
    assert Operation.from_json({}, strict=False).done is False


def test_retry_policy_is_bounded() -> None:
    policy = RetryPolicy(max_retries=3, first_delay=0.5, max_delay=8.0, max_total=5.0)
    now = time.monotonic()
    delays = [policy.delay(attempt, now) for attempt in range(4)]
    assert all(d is not None and 0 < d <= 0.5 * 2**i for i, d in enumerate(delays[:3]))
    assert delays[3] is None  # out of attempts
    assert policy.delay(0, now, hint=10.0) is None  # Retry-After beyond the bound
    assert policy.delay(0, now - 4.9) is None  # out of time


def test_retry_after_reads_the_header_or_retry_info() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "2"})) == 2.0
    body = {
        "error": {
            "code": 429,
            "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}
            ],
        }
    }
    assert retry_after(httpx.Response(429, json=body)) == 1.5
    assert retry_after(httpx.Response(503)) is None
