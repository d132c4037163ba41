"""Optional bearer-token check, so the Dataproc code path runs end to end locally."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import tornado.httputil

from ..api import errors


def _redact(value: str) -> str:
    return value[:12] + "…" if len(value) > 12 else value


def make_authenticator(token: str | None, record_path: str | None) -> Any:
    """A callable that raises Unauthenticated unless the request carries the token.

    ``token`` may be ``@PATH``: the file is re-read on every request, so a test can
    rotate the accepted token (an expired credential) without restarting the emulator.
    """
    if token is None and record_path is None:
        return None

    def expected() -> str | None:
        if token is None:
            return None
        if token.startswith("@"):
            return Path(token[1:]).read_text().strip()
        return token

    def authenticate(request: tornado.httputil.HTTPServerRequest) -> None:
        header = request.headers.get("Authorization", "")
        if record_path is not None:
            entry: dict[str, Any] = {
                "time": time.time(),
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "authorization": _redact(header),
                "x-goog-user-project": request.headers.get("x-goog-user-project"),
                "user-agent": request.headers.get("User-Agent"),
                "x-goog-api-client": request.headers.get("x-goog-api-client"),
            }
            with open(record_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        want = expected()
        if want is None:
            return
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise errors.Unauthenticated(
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential."
            )
        if not secrets.compare_digest(value.strip(), want):
            raise errors.Unauthenticated(
                "Request had invalid authentication credentials. Expected OAuth 2 access token,"
                " login cookie or other valid authentication credential."
            )

    return authenticate
