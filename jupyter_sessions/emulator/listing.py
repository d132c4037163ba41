"""Listing for the emulator: pages, page tokens and list filters, shared by every collection.

Every list is kept in one order (newest first for sessions and templates, latest first for
operations) and a page token holds the position of the last item scanned, bound to the
query (parent and filter) it was issued for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ..api import errors
from ..api.filter import Filter, FilterError, compile_filter

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class ListRequest:
    """A list call: the collection's parent, the page size, the token of the page before
    (none for the first page) and a filter."""

    parent: str
    page_size: int | None
    page_token: str | None
    filter_text: str | None


def order_key(create_time: datetime | None, name: str) -> str:
    """Newest first: invert the timestamp so ascending string order is descending time."""
    micros = int(create_time.timestamp() * 1_000_000) if create_time else 0
    return f"{10**17 - micros:018d}|{name}"


def compile_list_filter(text: str | None, fields: Any) -> Filter | None:
    """The ``filter`` of a list request, or INVALID_ARGUMENT naming what is wrong."""
    try:
        return compile_filter(text, fields)
    except FilterError as exc:
        raise errors.bad_request("filter", str(exc)) from None


def page(
    items: Sequence[T],
    request: ListRequest,
    *,
    key: Callable[[T], str],
    query: str,
    match: Callable[[T], bool] | None,
) -> tuple[list[T], str]:
    """One page of ``items`` (already in list order) after the request's token."""
    size, token = request.page_size, request.page_token
    if size is None or size == 0:
        size = DEFAULT_PAGE_SIZE
    if size < 0:
        raise errors.bad_request("pageSize", "must not be negative")
    size = min(size, MAX_PAGE_SIZE)
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    after = _decode_token(token, digest) if token else None
    start = 0
    if after is not None:
        lo, hi = 0, len(items)
        while lo < hi:  # items are sorted by key: binary search for the resume point
            mid = (lo + hi) // 2
            if key(items[mid]) <= after:
                lo = mid + 1
            else:
                hi = mid
        start = lo
    found: list[T] = []
    i = start
    while i < len(items) and len(found) < size:
        if match is None or match(items[i]):
            found.append(items[i])
        i += 1
    # Resume after the last item scanned (not the last returned) so that the next page
    # does not scan non-matching items twice; no token when nothing else matches.
    more = i < len(items) and (match is None or any(match(x) for x in items[i:]))
    return found, _encode_token(key(items[i - 1]), digest) if more else ""


def _encode_token(key: str, digest: str) -> str:
    raw = json.dumps({"k": key, "q": digest}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, digest: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        key, q = data["k"], data["q"]
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise errors.bad_request("pageToken", "is not a token this service returned") from None
    if not isinstance(key, str) or q != digest:
        raise errors.bad_request(
            "pageToken", "belongs to a different query (parent and filter must not change)"
        )
    return key
