"""The Google Cloud Dataproc backend: ADC credentials, regional endpoints, clear errors.

Configuration comes from the extension's traitlets, then the environment, then what the
Application Default Credentials know. Nothing here raises at start-up: a problem (no
project, no credentials, google-auth missing) is logged, shown by
``jupyter-sessions/config`` and returned by every request as a readable error.

The access token stays in this process: it goes only into requests to the configured
endpoint (HTTPS, or plain HTTP on loopback for a local test endpoint).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..api import errors, routes
from ..api.defaults import is_loopback
from ..api.names import PROJECT_RE
from ..client.gcp_auth import LOGIN_HINT, GoogleAuth
from .backend import Backend, RetryPolicy
from .proxy_settings import NetworkSettings, redacted

T = TypeVar("T")

GLOBAL_ENDPOINT = "https://dataproc.googleapis.com/"
PROJECT_ENV_VARS = ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")
LOCATION_ENV_VARS = ("GOOGLE_CLOUD_REGION", "CLOUDSDK_DATAPROC_REGION")
ENABLE_API_URL = "https://console.cloud.google.com/apis/library/dataproc.googleapis.com?project={}"
EDITOR_ROLE = "roles/dataproc.editor"
VIEWER_ROLE = "roles/dataproc.viewer"
# Finding ADC may run gcloud or probe the metadata server; requests wait this long for it.
LOAD_TIMEOUT = 60.0

# A location becomes part of a host name: letters, digits and inner hyphens only.
_LOCATION_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]\Z")
_PARENT_RE = re.compile(r"^projects/([^/]+)/(?:locations|regions)/([^/:]+)(?:/|$)")
log = logging.getLogger(__name__)


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """A resolved value and where it came from (for the log and the config endpoint)."""

    value: str
    source: str


def resolve_setting(
    configured: str, env_vars: tuple[str, ...], environ: Mapping[str, str], trait: str
) -> Setting:
    """The configured value, else the first environment variable set, else empty."""
    if configured.strip():
        return Setting(configured.strip(), trait)
    for name in env_vars:
        value = environ.get(name, "").strip()
        if value:
            return Setting(value, name)
    return Setting("", "")


def endpoint_url(location: str, endpoint: str = "") -> str:
    """The API root (ending in ``/``) for ``endpoint``.

    ``""`` or ``"regional"``: ``https://{location}-dataproc.googleapis.com/`` (global when no
    location is known); ``"global"``; ``"rep"``: the regional endpoint
    ``https://dataproc.{location}.rep.googleapis.com/``; or a URL (HTTPS, or HTTP on a
    loopback address only, since the request carries the access token). Raises ValueError.
    """
    value = endpoint.strip()
    if value.lower() in ("", "regional", "rep"):
        if not location:
            if value.lower() == "rep":
                raise ValueError("dataproc_endpoint 'rep' needs a location (region)")
            return GLOBAL_ENDPOINT
        if not _LOCATION_RE.match(location):
            raise ValueError(f"{location!r} is not a valid Dataproc region (e.g. us-central1)")
        if value.lower() == "rep":
            return f"https://dataproc.{location}.rep.googleapis.com/"
        return f"https://{location}-dataproc.googleapis.com/"
    if value.lower() == "global":
        return GLOBAL_ENDPOINT
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(
            f"dataproc_endpoint must be 'regional', 'global', 'rep' or an https:// URL, "
            f"got {value!r}"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"dataproc_endpoint {value!r} would send Google credentials unencrypted: use "
            "https:// (plain http:// is accepted on a loopback address only)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"dataproc_endpoint must be a plain base URL, got {value!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):  # the root is the prefix of v1/...
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}/"


def permission_for(method: str, path: str) -> str:
    """The IAM permission a Sessions API call needs (``dataproc.sessions.create``), or "",
    from the route table; ``path`` with or without its ``v1/``."""
    relative = path if path.startswith("v1/") else "v1/" + path
    found = routes.match(method.upper(), relative, routes.DATAPROC_ROUTES)
    return found.route.permission if found else ""


def _error_info(details: list[dict[str, Any]]) -> dict[str, Any]:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            return detail
    return {}


# --- the backend --------------------------------------------------------------------------


class DataprocBackend(Backend):
    """Google Cloud Dataproc (v1 REST), authenticated with Application Default Credentials."""

    kind = "dataproc"

    def __init__(
        self,
        project: str = "",
        location: str = "",
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        *,
        endpoint: str = "",
        quota_project: str = "",
        auth: GoogleAuth | None = None,
        environ: Mapping[str, str] | None = None,
        retry_policy: RetryPolicy | None = None,
        network: NetworkSettings | None = None,
    ) -> None:
        super().__init__()
        self.log = logger or log
        env = os.environ if environ is None else environ
        project_setting = resolve_setting(
            project, PROJECT_ENV_VARS, env, "SessionsExtensionApp.project"
        )
        location_setting = resolve_setting(
            location, LOCATION_ENV_VARS, env, "SessionsExtensionApp.location"
        )
        self.project, self.project_source = project_setting.value, project_setting.source
        self.location, self.location_source = location_setting.value, location_setting.source
        self.user = ""
        self.retry_policy = retry_policy or RetryPolicy()
        self._endpoint_error = ""
        from .endpoint_settings import resolve_endpoint

        endpoint, self.endpoint_source = resolve_endpoint(endpoint, env)
        self.network = network
        if auth is None and network is not None:
            proxy, source = network.proxy_for("https://oauth2.googleapis.com/token")
            auth = GoogleAuth(
                quota_project=quota_project.strip(),
                http_session=network.requests_session(),
                proxy_note=f"the proxy {redacted(proxy)} ({source})" if proxy else "",
            )
        self._auth = auth or GoogleAuth(quota_project=quota_project.strip())
        try:
            self._api_root = endpoint_url(self.location, endpoint)
        except ValueError as exc:
            self._endpoint_error = str(exc)
            self._api_root = GLOBAL_ENDPOINT
        self._auth_error: errors.ApiError | None = None
        self._load_task: asyncio.Future[None] | None = None
        self._refresh_lock: asyncio.Lock | None = None

    @property
    def api_root(self) -> str:
        return self._api_root

    @property
    def auth(self) -> GoogleAuth:
        return self._auth

    # --- configuration problems -------------------------------------------------------

    def _blocking_error(self) -> errors.ApiError | None:
        """What makes every request impossible (no credentials, a bad endpoint)."""
        if self._endpoint_error:
            return errors.FailedPrecondition(
                f"The Dataproc backend is misconfigured: {self._endpoint_error}"
            )
        return self._auth_error

    @property
    def problems(self) -> list[str]:
        """Everything a user should fix, in words (empty when all is well)."""
        found: list[str] = []
        if self._endpoint_error:
            found.append(self._endpoint_error)
        if self._auth_error is not None:
            found.append(self._auth_error.message)
        if not self.project:
            found.append(
                "No Google Cloud project is configured: set "
                "c.SessionsExtensionApp.project = 'my-project' (or "
                "--SessionsExtensionApp.project=my-project, or the GOOGLE_CLOUD_PROJECT "
                "environment variable, or `gcloud config set project my-project`)"
            )
        elif not PROJECT_RE.match(self.project):
            found.append(f"{self.project!r} is not a valid Google Cloud project id")
        if not self.location:
            found.append(
                "No Dataproc region is configured: set c.SessionsExtensionApp.location = "
                "'us-central1' (or the GOOGLE_CLOUD_REGION or CLOUDSDK_DATAPROC_REGION "
                "environment variable)"
            )
        return found

    @property
    def config_error(self) -> str:
        return "; ".join(self.problems)

    # --- lifecycle --------------------------------------------------------------------

    def _load_blocking(self) -> None:
        try:
            self._auth.load()
        except errors.ApiError as exc:
            self._auth_error = exc
            return
        except Exception as exc:  # a broken key file must not take the server down
            self._auth_error = errors.Unauthenticated(
                f"Cannot load Google Cloud credentials ({type(exc).__name__}: {exc}): {LOGIN_HINT}"
            )
            return
        if not self.project and self._auth.project:
            self.project = self._auth.project
            self.project_source = "Application Default Credentials"
        self.user = self._auth.account

    def _loading(self) -> asyncio.Future[None]:
        if self._load_task is None:
            loop = asyncio.get_running_loop()
            self._load_task = loop.run_in_executor(None, self._load_blocking)
            self._load_task.add_done_callback(self._report)
        return self._load_task

    def _report(self, _: asyncio.Future[None]) -> None:
        problems = self.problems
        if problems:
            self.log.error("The Dataproc sessions backend is not ready: %s", "; ".join(problems))
        else:
            self.log.info(
                "Dataproc sessions backend: project %s (from %s), location %s (from %s), "
                "endpoint %s, quota project %s",
                self.project,
                self.project_source,
                self.location,
                self.location_source,
                self.api_root,
                self._auth.quota_project or "(none)",
            )

    async def _loaded(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self._loading()), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def start(self) -> None:
        # Finding credentials may take seconds (gcloud, metadata server): not at start-up.
        self._loading()

    async def ready(self, timeout: float) -> bool:
        await self._loaded(timeout)
        # Even when not loaded yet: auth_headers() waits longer and explains.
        return True

    # --- credentials ------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """google-auth is blocking: run it off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def _lock(self) -> asyncio.Lock:
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        return self._refresh_lock

    async def auth_headers(self) -> dict[str, str]:
        if not await self._loaded(LOAD_TIMEOUT):
            raise errors.Unavailable(
                "Still looking for Google Cloud credentials (Application Default "
                "Credentials); try again in a moment"
            )
        problem = self._blocking_error()
        if problem is not None:
            raise problem
        auth = self._auth
        if auth.needs_refresh():
            token = auth.token
            # One refresh at a time; the others then find the new token and skip theirs.
            async with self._lock():
                await self._run(auth.refresh, token)
        return auth.current_headers()

    async def credentials_rejected(self, sent: dict[str, str]) -> bool:
        if self._blocking_error() is not None:
            return False
        scheme, _, token = sent.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        # Revoked or expired early: get a new token (unless a concurrent request did).
        async with self._lock():
            await self._run(self._auth.refresh, token)
        return True

    # --- errors users can act on --------------------------------------------------------

    def rewrite_error(self, method: str, path: str, error: errors.ApiError) -> errors.ApiError:
        resource = path[len("v1/") :] if path.startswith("v1/") else path
        m = _PARENT_RE.match(resource)
        project, location = (m.group(1), m.group(2)) if m else (self.project, self.location)
        said = f" (Dataproc said: {error.message})" if error.message else ""
        status = error.http_status
        if status == 401 or error.code == errors.Code.UNAUTHENTICATED:
            message = (
                "Google Cloud did not accept the Jupyter server's credentials: "
                f"{LOGIN_HINT}, then retry.{said}"
            )
        elif status == 403 or error.code == errors.Code.PERMISSION_DENIED:
            message = self._explain_denied(method, resource, project, location, error) + said
        elif status == 404:
            message = (
                f"{error.message or 'Not found'} (looked in project {project or '?'}, location "
                f"{location or '?'} at {self.api_root}; check SessionsExtensionApp.project and "
                ".location if this is unexpected)"
            )
        else:
            return error
        return type(error)(message, error.details, http_status=status)

    def _explain_denied(
        self, method: str, resource: str, project: str, location: str, error: errors.ApiError
    ) -> str:
        info = _error_info(error.details)
        reason = str(info.get("reason", ""))
        raw_metadata = info.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        text = error.message.lower()
        if reason in ("SERVICE_DISABLED", "accessNotConfigured") or (
            "has not been used in project" in text or "it is disabled" in text
        ):
            return (
                f"The Dataproc API is not enabled in project {project}. Enable the Dataproc "
                f"API: {ENABLE_API_URL.format(project)} then retry in a minute."
            )
        if reason == "USER_PROJECT_DENIED":
            quota = self._auth_quota_project()
            return (
                f"The credentials may not use quota project {quota or '?'}: grant them "
                "roles/serviceusage.serviceUsageConsumer there, or set "
                "SessionsExtensionApp.quota_project to a project they may use."
            )
        permission = str(metadata.get("permission") or permission_for(method, resource))
        who = self.user or "the Jupyter server's Google credentials"
        where = f"projects/{project}/locations/{location}" if project else "this project"
        needed = f"the IAM permission {permission}" if permission else "a Dataproc permission"
        return (
            f"Permission denied: {who} lack {needed} on {where}. Grant a role that includes "
            f"it, such as {EDITOR_ROLE} ({VIEWER_ROLE} is enough to list and describe)."
        )

    def _auth_quota_project(self) -> str:
        try:
            return self._auth.quota_project
        except errors.ApiError:
            return ""

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "backend": self.kind,
            "endpoint": self.api_root,
            "projectSource": self.project_source,
            "locationSource": self.location_source,
            "endpointSource": self.endpoint_source,
            "error": self.config_error,
        }
        if self._load_task is not None and self._load_task.done() and self._auth_error is None:
            try:
                info.update(self._auth.describe())
            except errors.ApiError:
                pass
        return info
