"""The HTTP client of the Sessions API, as kernels, the command line and scripts use it.

``SessionsClient`` / ``AsyncSessionsClient`` (httpx) talk to the Jupyter server extension, to the
emulator directly or to Google: CRUD, lazy paging, bounded waits, typed errors and safe retries
with the same requestId. Beside them: finding the Jupyter server (``discover_server``), the event
stream of the extension, retry hints and Google credentials. This package imports only
``jupyter_sessions.api`` of the project: no Jupyter server, no tornado, no emulator.
"""

from __future__ import annotations

from .sessions import (
    DEFAULT_LOCATION,
    DEFAULT_PROJECT,
    DEFAULT_WAIT_STATES,
    Aborted,
    AlreadyExists,
    ApiError,
    AsyncSessionsClient,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    DiscoveryError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    ServerConfig,
    SessionsClient,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
    discover_server,
    fetch_server_config,
)

__all__ = [
    "DEFAULT_LOCATION",
    "DEFAULT_PROJECT",
    "DEFAULT_WAIT_STATES",
    "Aborted",
    "AlreadyExists",
    "ApiError",
    "AsyncSessionsClient",
    "Cancelled",
    "DataLoss",
    "DeadlineExceeded",
    "DiscoveryError",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "ServerConfig",
    "SessionsClient",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "discover_server",
    "fetch_server_config",
]
