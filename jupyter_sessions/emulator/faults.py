"""Test-only fault injection: deny an API method (403) or fail the next calls (429, 503).

Lets the Dataproc code path (permission errors, rate limits, retries with the same
requestId) be exercised end to end against the emulator::

    jupyter-sessions emulator --deny sessionTemplates.create \\
        --fail-next 2:503:sessions.create --fail-next 1:429:sessions.delete:1
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ..api import errors, routes


class InjectedFault(Exception):
    """An error answer plus the headers it goes with (``Retry-After``)."""

    def __init__(self, error: errors.ApiError, headers: dict[str, str]) -> None:
        super().__init__(error.message)
        self.error = error
        self.headers = headers


@dataclass
class FailNext:
    """Answer the next ``count`` calls (of ``method``, or of any method) with ``status``."""

    count: int
    status: int
    method: str = ""
    retry_after: float | None = None

    @classmethod
    def parse(cls, spec: str) -> FailNext:
        """``N:CODE[:METHOD][:RETRY_AFTER_SECONDS]``, e.g. ``2:503:sessions.create``."""
        parts = spec.split(":")
        try:
            count, status = int(parts[0]), int(parts[1])
            method = ""
            retry_after = None
            for extra in parts[2:4]:
                if extra.replace(".", "", 1).isdigit():
                    retry_after = float(extra)
                else:
                    method = extra
        except (IndexError, ValueError):
            raise ValueError(f"expected N:CODE[:METHOD][:RETRY_AFTER], got {spec!r}") from None
        if count < 1 or not 400 <= status <= 599 or len(parts) > 4:
            raise ValueError(f"expected N:CODE[:METHOD][:RETRY_AFTER], got {spec!r}")
        return cls(count, status, method, retry_after)


class Faults:
    """The deny list and the pending failures; checked once per routed API call."""

    def __init__(self, deny: Iterable[str] = (), fail_next: Iterable[str] = ()) -> None:
        self.deny = frozenset(deny)
        self.pending = [FailNext.parse(spec) for spec in fail_next]
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.deny or self.pending)

    def check(self, method: str, resource: str) -> None:
        """Raise the configured error for this call, if any."""
        if method in self.deny:
            permission = routes.BY_NAME[method].permission
            raise errors.PermissionDenied(
                f"Permission '{permission}' denied on resource "
                f"'//dataproc.googleapis.com/{resource}' (or it may not exist).",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "IAM_PERMISSION_DENIED",
                        "domain": "iam.googleapis.com",
                        "metadata": {"permission": permission, "resource": resource},
                    }
                ],
            )
        with self._lock:
            rule = next((r for r in self.pending if r.count > 0 and r.method in ("", method)), None)
            if rule is None:
                return
            rule.count -= 1
        code = errors.ApiError.from_http(rule.status, None)
        message = {
            429: "Quota exceeded for quota metric 'Session operation requests' (injected).",
            503: "The service is currently unavailable (injected).",
        }.get(rule.status, f"Injected failure HTTP {rule.status}.")
        headers = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(rule.retry_after))
        raise InjectedFault(type(code)(message, http_status=rule.status), headers)
