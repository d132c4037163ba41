"""Optional bearer-token check, so the Dataproc code path runs end to end locally."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import tornado.httputil

from ..api import errors

# Query parameters that carry credentials (Google's access_token and API key, Jupyter's
# token): their values never reach a log.
SECRET_PARAMS = frozenset({"access_token", "key", "token"})


def redact_query(query: str) -> str:
    """A query string for logs: credential parameters keep their name, not their value."""
    parts = []
    for part in query.split("&"):
        name, sep, _ = part.partition("=")
        parts.append(f"{name}=[secret]" if sep and unquote_plus(name) in SECRET_PARAMS else part)
    return "&".join(parts)


def fingerprint(token: str) -> str:
    """What the request log keeps of a token: enough to tell tokens apart, nothing more."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _redact(header: str) -> str:
    scheme, _, value = header.strip().partition(" ")
    if not value:
        return fingerprint(scheme) if scheme else ""
    return f"{scheme} {fingerprint(value.strip())}"


def _request_id(request: tornado.httputil.HTTPServerRequest) -> str | None:
    """The requestId of a call, from the query (create, delete) or the body (terminate)."""
    for key in ("requestId", "request_id"):
        values = request.query_arguments.get(key)
        if values:
            return values[-1].decode("utf-8", "replace")
    if request.body and request.body.lstrip().startswith(b"{"):
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):  # the API answers malformed bodies itself
            return None
        value = body.get("requestId", body.get("request_id")) if isinstance(body, dict) else None
        return value if isinstance(value, str) else None
    return None


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
            try:
                return Path(token[1:]).read_text().strip()
            except OSError:
                return ""  # no token issued yet: nothing is accepted
        return token

    def check(header: str) -> errors.ApiError | None:
        want = expected()
        if want is None:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            return errors.Unauthenticated(
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential."
            )
        # Bytes: compare_digest refuses str with non-ASCII characters (any header byte).
        given = value.strip().encode("utf-8", "surrogateescape")
        if not want or not secrets.compare_digest(given, want.encode("utf-8")):
            return errors.Unauthenticated(
                "Request had invalid authentication credentials. Expected OAuth 2 access token,"
                " login cookie or other valid authentication credential."
            )
        return None

    def authenticate(request: tornado.httputil.HTTPServerRequest) -> None:
        header = request.headers.get("Authorization", "")
        problem = check(header)
        if record_path is not None:
            entry: dict[str, Any] = {
                "time": time.time(),
                "method": request.method,
                "path": request.path,
                "query": redact_query(request.query),
                "requestId": _request_id(request),
                "authorization": _redact(header),
                "accepted": problem is None,
                "x-goog-user-project": request.headers.get("x-goog-user-project"),
                "user-agent": request.headers.get("User-Agent"),
                "x-goog-api-client": request.headers.get("x-goog-api-client"),
            }
            with open(record_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        if problem is not None:
            raise problem

    return authenticate
