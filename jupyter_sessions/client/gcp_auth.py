"""Google Application Default Credentials as request headers.

google-auth is an optional dependency (``pip install 'jupyter-sessions[gcp]'``): it is
imported only when Google credentials are really needed. ``GoogleAuth`` serves both the
server extension (which refreshes in a thread executor) and direct clients::

    SessionsClient("https://us-central1-dataproc.googleapis.com/",
                   auth_headers=GoogleAuth().headers, project="p", location="us-central1")

The access token only ever goes into the headers of requests to the Sessions API; it is
never logged and never part of an error message.
"""

from __future__ import annotations

import platform
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from .._version import __version__
from ..api import errors

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
INSTALL_HINT = "pip install 'jupyter-sessions[gcp]'"
LOGIN_COMMAND = "gcloud auth application-default login"
LOGIN_HINT = (
    f"run `{LOGIN_COMMAND}` on the machine that runs Jupyter (or point "
    "GOOGLE_APPLICATION_CREDENTIALS at a service account key)"
)
# google-auth itself refreshes 3m45s ahead; a long request or a slow clock needs more.
# google-auth's own margin (google.auth._helpers.REFRESH_THRESHOLD: 3 min 45 s).
REFRESH_MARGIN = timedelta(minutes=3, seconds=45)
# google-auth's own default is 120 s per token request: too long for an interactive call.
TOKEN_REQUEST_TIMEOUT = 20.0

_UNSET: Any = object()


def api_client_header() -> str:
    """The ``x-goog-api-client`` value: this package, Python and google-auth versions."""
    parts = [f"jupyter-sessions/{__version__}", f"gl-python/{platform.python_version()}"]
    try:
        from google.auth import __version__ as auth_version

        parts.append(f"auth/{auth_version}")
    except ImportError:
        pass
    return " ".join(parts)


def import_google_auth() -> Any:
    """The ``google.auth`` module, with its requests transport; a clear error without it."""
    try:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests  # the token transport needs requests
    except ImportError as exc:
        missing = "requests" if (exc.name or "").startswith("requests") else "google-auth"
        raise errors.FailedPrecondition(
            f"Google Cloud support needs the google-auth and requests packages ({missing} "
            f"is not installed): {INSTALL_HINT}"
        ) from None
    return google.auth


def load_default_credentials(scopes: tuple[str, ...] = (CLOUD_PLATFORM_SCOPE,)) -> tuple[Any, str]:
    """Application Default Credentials and their project ("" when they name none).

    Blocking (it may read files, run gcloud or ask the metadata server): call it from a
    thread when an event loop is running.
    """
    google_auth = import_google_auth()
    try:
        credentials, project = google_auth.default(scopes=list(scopes))
    except google_auth.exceptions.DefaultCredentialsError as exc:
        raise errors.Unauthenticated(
            f"No Google Cloud credentials found: {LOGIN_HINT}. ({_first_line(exc)})"
        ) from None
    return credentials, project or ""


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__


def _utcnow_like(value: datetime) -> datetime:
    """Now, naive or aware like ``value`` (google-auth keeps expiry as naive UTC)."""
    now = datetime.now(timezone.utc)
    return now if value.tzinfo is not None else now.replace(tzinfo=None)


class _TimedRequest:
    """google-auth's requests transport with a bounded timeout per token request."""

    def __init__(self, timeout: float, session: Any = None) -> None:
        import google.auth.transport.requests

        self._inner = google.auth.transport.requests.Request(session=session)
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        bounded = min(timeout, self._timeout) if timeout else self._timeout
        return self._inner(
            url, method=method, body=body, headers=headers, timeout=bounded, **kwargs
        )


class GoogleAuth:
    """Google credentials as request headers, refreshed before they expire.

    ``headers()`` is thread-safe and refreshes when the token is missing, expired or
    within ``refresh_margin`` of expiry; when several threads find it stale at once,
    one refreshes and the others use its token.
    """

    def __init__(
        self,
        credentials: Any = None,
        *,
        quota_project: str = "",
        scopes: tuple[str, ...] = (CLOUD_PLATFORM_SCOPE,),
        refresh_margin: timedelta = REFRESH_MARGIN,
        token_timeout: float = TOKEN_REQUEST_TIMEOUT,
        http_session: Any = None,
        proxy_note: str = "",
    ) -> None:
        self._credentials = credentials
        #: requests Session for token requests (a proxy, a CA bundle); None: requests' own.
        self._http_session = http_session
        self._proxy_note = proxy_note
        self._project = ""
        self._quota_project = quota_project
        self._scopes = scopes
        self._margin = refresh_margin
        self._token_timeout = token_timeout
        self._lock = threading.RLock()
        self._request: _TimedRequest | None = None
        self.refreshes = 0

    # --- loading ------------------------------------------------------------------------

    def load(self) -> None:
        """Find the Application Default Credentials (blocking; once)."""
        with self._lock:
            if self._credentials is None:
                self._credentials, self._project = load_default_credentials(self._scopes)

    @property
    def credentials(self) -> Any:
        if self._credentials is None:
            self.load()
        return self._credentials

    @property
    def project(self) -> str:
        """The project the credentials name (a service account key's, or gcloud's)."""
        if self._credentials is None:
            self.load()
        return self._project

    @property
    def quota_project(self) -> str:
        """Billed for API quota: the configured one, else the credentials' own."""
        return self._quota_project or getattr(self.credentials, "quota_project_id", None) or ""

    @property
    def account(self) -> str:
        """The identity behind the credentials, when they say (never a secret)."""
        creds = self.credentials
        for attr in ("service_account_email", "account"):
            value = getattr(creds, attr, None)
            if isinstance(value, str) and "@" in value:
                return value
        return ""

    def describe(self) -> dict[str, str]:
        creds = self.credentials
        return {
            "credentials": f"{type(creds).__module__}.{type(creds).__name__}",
            "account": self.account,
            "quotaProject": self.quota_project,
        }

    # --- freshness ----------------------------------------------------------------------

    @property
    def token(self) -> str | None:
        return getattr(self.credentials, "token", None)

    def needs_refresh(self) -> bool:
        """No token, or one that expires within the margin."""
        creds = self.credentials
        if not creds.token:
            return True
        expiry = getattr(creds, "expiry", None)
        if expiry is None:
            return False
        return bool(_utcnow_like(expiry) >= expiry - self._margin)

    def expired(self) -> bool:
        """No token, or one past its expiry (unusable, whoever fetched it)."""
        creds = self.credentials
        if not creds.token:
            return True
        expiry = getattr(creds, "expiry", None)
        return expiry is not None and bool(_utcnow_like(expiry) >= expiry)

    def refresh(self, stale_token: str | None = _UNSET) -> None:
        """Get a new access token (blocking).

        With ``stale_token``, skip the refresh when another caller already replaced that
        token with a usable one: concurrent callers then cost one token request.
        """
        creds = self.credentials
        with self._lock:
            if stale_token is not _UNSET and creds.token != stale_token and not self.expired():
                return
            google_auth = import_google_auth()
            if self._request is None:
                self._request = _TimedRequest(self._token_timeout, self._http_session)
            try:
                creds.refresh(self._request)
            except google_auth.exceptions.TransportError as exc:
                from .transport_errors import plain_reason

                via = f" through {self._proxy_note}" if self._proxy_note else ""
                raise errors.Unavailable(
                    f"Cannot reach Google's token endpoint{via} to refresh credentials: "
                    f"{plain_reason(exc)}."
                ) from None
            except google_auth.exceptions.GoogleAuthError as exc:
                # RefreshError, or OAuthError from the STS flows: the login is no good.
                raise errors.Unauthenticated(
                    "Google Cloud credentials could not be refreshed "
                    f"({_first_line(exc)}): {LOGIN_HINT}, then retry"
                ) from None
            self.refreshes += 1

    def current_headers(self) -> dict[str, str]:
        """The headers of the current token, without refreshing."""
        raw: dict[str, str] = {}
        self.credentials.apply(raw)
        # One spelling, whatever the credentials type writes (some use lower case).
        headers = {k.lower(): v for k, v in raw.items()}
        headers["Authorization"] = headers.pop("authorization", "")
        quota = self.quota_project
        if quota:
            headers["x-goog-user-project"] = quota
        headers["x-goog-api-client"] = api_client_header()
        return headers

    def headers(self) -> dict[str, str]:
        """Fresh request headers (blocking when a refresh is due)."""
        token = self.token
        if self.needs_refresh():
            self.refresh(stale_token=token)
        return self.current_headers()
