"""What a server asks a client to wait before retrying, shared by every HTTP caller.

The schedule itself (``Backoff``) is in ``jupyter_sessions.api.backoff``; re-exported here.
"""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone

import httpx

from ..api.backoff import Backoff
from ..api.codec import parse_duration

__all__ = ["Backoff", "retry_after"]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After`` or a google.rpc.RetryInfo."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    try:
        details = response.json()["error"]["details"]
        for detail in details:
            if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                return max(0.0, parse_duration(str(detail["retryDelay"])).total_seconds())
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return None
