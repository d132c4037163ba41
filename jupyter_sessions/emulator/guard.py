"""What keeps web pages away from the emulator: loopback Host names, no foreign Origin, and
JSON bodies only.

Loopback is not a trust boundary: any page a browser on this machine shows can send
requests to 127.0.0.1. A page cannot choose the Host header (so DNS rebinding is refused
by name), it cannot hide its Origin on cross-origin requests, and without CORS it can send
only "simple" bodies (``text/plain``, forms), never ``application/json``. jupyter_server
protects itself the same way (``allow_remote_access``, ``local_hostnames``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest

from ..api import errors

# Host names accepted besides loopback IP literals (jupyter_server's local_hostnames).
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("localhost",)
ANY_HOST = "*"


def check_request(request: HTTPServerRequest, allowed_hosts: Collection[str]) -> None:
    """Raise an ApiError unless the request could not have been sent on a web page's behalf.

    ``allowed_hosts``: names accepted in the Host header besides loopback addresses;
    ``"*"`` accepts any (an emulator bound for remote use).
    """
    host = host_name(request.headers.get("Host", ""))
    if not host_allowed(host, allowed_hosts):
        raise errors.PermissionDenied(
            f"Host {host!r} is not allowed: the emulator answers only loopback names "
            "(add a name with --allowed-host)",
            http_status=403,
        )
    origin = request.headers.get("Origin")
    if origin is not None and not same_origin(origin, request):
        raise errors.PermissionDenied(
            f"Cross-origin request refused (Origin {origin[:100]!r}): web pages may not "
            "use the emulator's API",
            http_status=403,
        )
    if request.body and not is_json(request.headers.get("Content-Type", "")):
        raise errors.InvalidArgument(
            "Request bodies must be JSON: send Content-Type: application/json",
            http_status=415,
        )


def host_name(header: str) -> str:
    """The host of a Host header value, without port or IPv6 brackets, lowercased."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value


def host_allowed(host: str, allowed_hosts: Collection[str]) -> bool:
    if ANY_HOST in allowed_hosts:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return bool(host) and host in {h.lower() for h in allowed_hosts}


def same_origin(origin: str, request: HTTPServerRequest) -> bool:
    """The Origin names this very server (scheme, host and port as the Host header says)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False  # "null" (sandboxed frames, files) and the like
    netloc = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None:
        netloc += f":{port}"
    return netloc == request.headers.get("Host", "").strip().lower()


def is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json"
