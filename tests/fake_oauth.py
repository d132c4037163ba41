"""A tiny OAuth 2.0 token endpoint on 127.0.0.1: the only fake of Google in the tests.

Application Default Credentials files (named by GOOGLE_APPLICATION_CREDENTIALS) whose
token endpoint points here refresh against it:

- ``external_account_authorized_user``: a user login (refresh token, client id and secret,
  ``quota_project_id``), what ``gcloud auth application-default login`` writes for
  workforce identities. (google-auth 2.x ignores ``token_uri`` in plain ``authorized_user``
  files and always calls Google, so that type cannot be pointed at a local endpoint.)
- ``service_account``: a key file (signed JWT grant), which also names a ``project_id``.

Each token it issues is written to ``token_file``, which the emulator reads on every
request (``--require-token @token_file``): the emulator accepts exactly the current token.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs


class FakeTokenServer:
    """Issues short-lived access tokens for one refresh token; counts refreshes."""

    def __init__(self, workdir: Path, *, expires_in: int = 3600) -> None:
        self.workdir = workdir
        self.token_file = workdir / "valid-token"
        self.expires_in = expires_in
        self.refresh_token = "1//fake-refresh-" + secrets.token_hex(16)
        self.client_id = "fake-client.apps.googleusercontent.com"
        self.client_secret = "fake-secret-" + secrets.token_hex(12)
        self.service_account = "sessions-test@fake-project.iam.gserviceaccount.com"
        # Knobs a test turns: refuse the grant (revoked login), or issue tokens the API
        # does not accept (a token for the wrong audience).
        self.refuse_grant = False
        self.publish_tokens = True
        self.issued: list[str] = []
        self.private_keys: list[str] = []
        self.requests = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                status, body = outer._grant(form, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/token"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeTokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def refreshes(self) -> int:
        """Tokens issued so far (each is one refresh by a client)."""
        return len(self.issued)

    def _client_ok(self, form: dict[str, list[str]], authorization: str) -> bool:
        if form.get("client_secret") == [self.client_secret]:
            return True
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return authorization == f"Basic {basic}"

    def _assertion_ok(self, form: dict[str, list[str]]) -> bool:
        try:
            payload = form["assertion"][0].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (KeyError, IndexError, ValueError):
            return False
        return bool(claims.get("iss") == self.service_account)

    def _grant(self, form: dict[str, list[str]], authorization: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            grant = (form.get("grant_type") or [""])[0]
            if grant == "refresh_token":
                ok = form.get("refresh_token") == [self.refresh_token] and self._client_ok(
                    form, authorization
                )
            else:
                ok = grant.endswith(":jwt-bearer") and self._assertion_ok(form)
            if not ok or self.refuse_grant:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            token = f"ya29.fake-{len(self.issued) + 1}-{secrets.token_hex(16)}"
            self.issued.append(token)
            if self.publish_tokens:
                self._accept(token)
            return 200, {
                "access_token": token,
                "expires_in": self.expires_in,
                "token_type": "Bearer",
            }

    def _accept(self, token: str) -> None:
        # Atomic, so the emulator never reads half a token.
        tmp = self.token_file.with_suffix(".tmp")
        tmp.write_text(token)
        os.replace(tmp, self.token_file)

    def expire(self) -> None:
        """The current token stops working (expired or revoked at Google)."""
        with self._lock:
            self._accept("expired-" + secrets.token_hex(8))

    def write_credentials(self, path: Path, quota_project: str = "") -> Path:
        """A user login credentials file pointing at this endpoint."""
        info = {
            "type": "external_account_authorized_user",
            "audience": "//iam.googleapis.com/locations/global/workforcePools/fake/providers/p",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "token_url": self.url,
        }
        if quota_project:
            info["quota_project_id"] = quota_project
        path.write_text(json.dumps(info))
        return path

    def write_service_account_key(self, path: Path, project: str) -> Path:
        """A service account key file (a fresh RSA key) pointing at this endpoint."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.private_keys.append(pem)
        info = {
            "type": "service_account",
            "project_id": project,
            "private_key_id": secrets.token_hex(8),
            "private_key": pem,
            "client_email": self.service_account,
            "client_id": "1234567890",
            "token_uri": self.url,
        }
        path.write_text(json.dumps(info))
        return path

    def secrets(self) -> list[str]:
        """Every string that must never show up in a response or a log."""
        keys = [line for pem in self.private_keys for line in pem.splitlines()[1:3]]
        return [self.refresh_token, self.client_secret, *self.issued, *keys]


def isolated_google_env(credentials: Path | None) -> dict[str, str]:
    """Environment overrides so that google-auth can only reach 127.0.0.1.

    Any attempt to reach a Google host goes to a closed local port and fails at once.
    """
    env = {
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
        "NO_GCE_CHECK": "True",
        "CLOUDSDK_CONFIG": "/nonexistent-gcloud-config",
    }
    if credentials is not None:
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(credentials)
    return env


GOOGLE_ENV_VARS = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT",
    "GOOGLE_CLOUD_REGION",
    "CLOUDSDK_DATAPROC_REGION",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
    "https_proxy",
    "http_proxy",
)
