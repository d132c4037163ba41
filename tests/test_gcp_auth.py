"""GoogleAuth: Application Default Credentials as request headers, refreshed in time.

Credentials files point at a token endpoint on 127.0.0.1 (tests/fake_oauth.py); the
environment is set so that google-auth cannot reach anything else.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sessions.api import errors
from jupyter_sessions.api.model import State
from jupyter_sessions.client import SessionsClient
from jupyter_sessions.client.gcp_auth import INSTALL_HINT, LOGIN_COMMAND, GoogleAuth
from jupyter_sessions.emulator.auth import fingerprint

from .fake_oauth import GOOGLE_ENV_VARS, FakeTokenServer, isolated_google_env
from .support import EmulatorProcess


@pytest.fixture
def tokens(tmp_path: Path) -> Iterator[FakeTokenServer]:
    server = FakeTokenServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def adc(tokens: FakeTokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user login whose quota project is ``quota-from-adc``, as ADC."""
    creds = tokens.write_credentials(tmp_path / "adc.json", "quota-from-adc")
    for var in GOOGLE_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    for name, value in isolated_google_env(creds).items():
        monkeypatch.setenv(name, value)
    return creds


def test_headers_carry_the_token_quota_project_and_client(
    tokens: FakeTokenServer, adc: Path
) -> None:
    auth = GoogleAuth()
    headers = auth.headers()
    assert headers["Authorization"] == f"Bearer {tokens.issued[0]}"
    assert headers["x-goog-user-project"] == "quota-from-adc"
    assert headers["x-goog-api-client"].startswith("jupyter-sessions/")
    # A token valid for an hour is reused.
    assert auth.headers() == headers and tokens.refreshes == 1


def test_a_configured_quota_project_wins(tokens: FakeTokenServer, adc: Path) -> None:
    headers = GoogleAuth(quota_project="quota-set").headers()
    assert headers["x-goog-user-project"] == "quota-set"


def test_tokens_are_refreshed_within_google_auths_margin_of_expiry(
    tokens: FakeTokenServer, adc: Path
) -> None:
    """Given tokens that live 200 s (google-auth refreshes within 3 min 45 s of expiry),
    every call gets a new one before using it."""
    tokens.expires_in = 200
    auth = GoogleAuth()
    first = auth.headers()["Authorization"]
    second = auth.headers()["Authorization"]
    assert first != second and tokens.refreshes == 2
    assert auth.needs_refresh() and not auth.expired()


def test_concurrent_callers_refresh_once(tokens: FakeTokenServer, adc: Path) -> None:
    auth = GoogleAuth()
    auth.load()
    barrier = threading.Barrier(8)
    seen: list[str] = []

    def call() -> None:
        barrier.wait(timeout=10)
        seen.append(auth.headers()["Authorization"])

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert tokens.refreshes == 1
    assert seen == [f"Bearer {tokens.issued[0]}"] * 8


def test_a_refused_refresh_says_how_to_log_in(tokens: FakeTokenServer, adc: Path) -> None:
    tokens.refuse_grant = True
    with pytest.raises(errors.Unauthenticated) as caught:
        GoogleAuth().headers()
    assert LOGIN_COMMAND in caught.value.message
    assert not any(secret in caught.value.message for secret in tokens.secrets())


def test_an_unreachable_token_endpoint_is_unavailable(tokens: FakeTokenServer, adc: Path) -> None:
    auth = GoogleAuth()
    auth.load()
    tokens.stop()
    with pytest.raises(errors.Unavailable, match="token endpoint"):
        auth.headers()


def test_no_credentials_says_how_to_log_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in GOOGLE_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    for name, value in isolated_google_env(tmp_path / "missing.json").items():
        monkeypatch.setenv(name, value)
    with pytest.raises(errors.Unauthenticated, match=LOGIN_COMMAND):
        GoogleAuth().headers()


def test_without_google_auth_the_message_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "google.auth", None)
    with pytest.raises(errors.FailedPrecondition) as caught:
        GoogleAuth().load()
    assert INSTALL_HINT in caught.value.message
    assert "google-auth is not installed" in caught.value.message


def test_sessions_client_with_google_credentials(
    tokens: FakeTokenServer, adc: Path, tmp_path: Path
) -> None:
    """SessionsClient(auth_headers=GoogleAuth().headers) talks to the token-checking
    emulator directly, with the issued token and the quota project."""
    emulator = EmulatorProcess(
        tmp_path,
        "--runtime",
        "simulated",
        "--require-token",
        f"@{tokens.token_file}",
        "--record-requests",
        str(tmp_path / "requests.jsonl"),
    ).start()
    try:
        auth = GoogleAuth()
        with SessionsClient(
            emulator.url, auth_headers=auth.headers, project="p", location="us-central1"
        ) as client:
            client.create_session("gcp-client")
            session = client.wait_session("gcp-client", timeout=30)
            assert session.state == State.ACTIVE
        record = (tmp_path / "requests.jsonl").read_text()
        assert f"Bearer {fingerprint(tokens.issued[0])}" in record
        assert '"x-goog-user-project": "quota-from-adc"' in record
        assert '"accepted": false' not in record
    finally:
        emulator.stop()
