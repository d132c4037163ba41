"""One plain sentence for a failed HTTP call made through requests (google-auth's token
requests), instead of urllib3's nested reprs."""

from __future__ import annotations

import re

_PROXY_URL = re.compile(r"proxy", re.IGNORECASE)


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(found) < 20:
        current = todo.pop(0)
        if current in found:
            continue
        found.append(current)
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                todo.append(arg)
        for attr in ("reason", "__cause__", "__context__"):
            nested = getattr(current, attr, None)
            if isinstance(nested, BaseException):
                todo.append(nested)
    return found


def plain_reason(exc: BaseException) -> str:
    """What went wrong, in a few words: "the proxy refused the connection (403 Forbidden)",
    "the connection was refused", "it timed out", "its certificate is not trusted"..."""
    names = [type(e).__name__ for e in _chain(exc)]
    text = " ".join(str(e) for e in _chain(exc))
    if "ProxyError" in names:
        status = re.search(r"(\d{3} [A-Za-z][A-Za-z ]+?)['\")]", text)
        if status:
            return f"the proxy refused the connection ({status.group(1)})"
        if "Unable to connect to proxy" in text or "NewConnectionError" in names:
            return "the proxy could not be reached"
        return "the proxy failed the connection"
    if any("SSL" in n or "Certificate" in n for n in names):
        return "its TLS certificate is not trusted (set a CA bundle if a proxy inspects TLS)"
    if any("Timeout" in n for n in names):
        return "it did not answer in time"
    if "NameResolutionError" in names or "Name or service not known" in text:
        return "its host name could not be resolved"
    if "ConnectionRefusedError" in names or "Connection refused" in text:
        return "the connection was refused"
    if any("Connection" in n for n in names):
        return "the connection failed"
    return "the request failed"
