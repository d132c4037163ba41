"""How the Jupyter server reaches Google through a corporate network.

Only calls to Google (the Dataproc API, the token endpoint, Cloud Resource Manager, the
kernel gateway of session kernels) use these settings; the local emulator never goes through
a proxy (its client is built without one). The proxy is ``SessionsExtensionApp.proxy`` when
set, else ``HTTPS_PROXY`` for https:// URLs (``HTTP_PROXY`` for http://), either spelling,
except for hosts that ``NO_PROXY`` names (comma-separated hosts, domains, ``.suffix`` or
``*``, as curl and requests read it). A CA bundle (``SessionsExtensionApp.ca_bundle``, else
``REQUESTS_CA_BUNDLE`` or ``SSL_CERT_FILE``) is trusted besides the system's, for proxies
that inspect TLS with a company certificate.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

PROXY_SETTING = "SessionsExtensionApp.proxy"


def _env(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or env.get(name.lower()) or "").strip()


def bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY names this host: ``*``, a host or domain (``example.com`` and
    ``.example.com`` both cover subdomains), optionally with ``:port``, or an IP network."""
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, _, want_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if want_port and (not want_port.isdigit() or int(want_port) != port):
            continue
        name = name.lstrip(".").strip("[]")
        if host == name or host.endswith("." + name):
            return True
    return False


def redacted(url: str) -> str:
    """A proxy URL without its password, to show in messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{parts.username}:***@{host}{port}").geturl()


@dataclass(frozen=True)
class NetworkSettings:
    """The proxy and trusted certificates of calls to Google."""

    proxy: str = ""  # from the setting: every scheme
    https_proxy: str = ""
    http_proxy: str = ""
    no_proxy: str = ""
    ca_bundle: str = ""

    def proxy_for(self, url: str) -> tuple[str, str]:
        """The proxy URL for a request to ``url`` and where it was set; ("", "") for none."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host and bypassed(host, parts.port, self.no_proxy):
            return "", ""
        if self.proxy:
            return self.proxy, PROXY_SETTING
        if parts.scheme == "https" and self.https_proxy:
            return self.https_proxy, "HTTPS_PROXY"
        if parts.scheme == "http" and self.http_proxy:
            return self.http_proxy, "HTTP_PROXY"
        return "", ""

    def verify(self) -> ssl.SSLContext | bool:
        """What httpx verifies server certificates with."""
        if not self.ca_bundle:
            return True
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=self.ca_bundle)
        return context

    def httpx_options(self, url: str) -> dict[str, Any]:
        """``proxy`` and ``verify`` for an httpx client or transport talking to ``url``."""
        proxy, _ = self.proxy_for(url)
        options: dict[str, Any] = {"verify": self.verify()}
        if proxy:
            options["proxy"] = httpx.Proxy(proxy)
        return options

    def requests_session(self) -> Any:
        """A requests Session for google-auth's token requests: the proxy that
        ``proxy_for`` picks for each URL (NO_PROXY included), and the CA bundle."""
        import requests

        settings = self

        class _Session(requests.Session):
            def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
                proxy, _ = settings.proxy_for(str(url))
                kwargs["proxies"] = {"http": proxy, "https": proxy} if proxy else {}
                return super().request(method, url, *args, **kwargs)

        session = _Session()
        session.trust_env = False  # exactly these settings, not requests' own reading
        if self.ca_bundle:
            session.verify = self.ca_bundle
        return session

    def _named(self, url: str) -> tuple[str, str]:
        """The proxy as messages show it (redacted, with where it was set) and the
        ``host:port`` it is asked to connect to; ("", "") when no proxy applies."""
        proxy, source = self.proxy_for(url)
        if not proxy:
            return "", ""
        target = urlsplit(url)
        where = f"{target.hostname}:{target.port or (443 if target.scheme == 'https' else 80)}"
        return f"{redacted(proxy)} ({source})", where

    def refused(self, url: str, said: str) -> str:
        """The message of a proxy that refused to connect to ``url``'s host."""
        shown, where = self._named(url)
        return f"The proxy {shown} refused the connection to {where}: {said or 'no reason given'}"

    def unreachable(self, url: str) -> str:
        """The message of a proxy that could not be reached on the way to ``url``."""
        shown, where = self._named(url)
        return (
            f"Cannot reach the proxy {shown} to connect to {where}: check the proxy "
            "setting or NO_PROXY"
        )

    def unanswered(self, url: str) -> str:
        """The message of a proxy that did not answer in time the request to connect to
        ``url``'s host."""
        shown, where = self._named(url)
        return f"The proxy {shown} did not answer in time the request to connect to {where}"

    def explain(self, url: str, exc: BaseException) -> str:
        """A message naming the proxy when a call through it failed there; "" otherwise."""
        proxy, _ = self.proxy_for(url)
        if not proxy:
            return ""
        if isinstance(exc, httpx.ProxyError):
            return self.refused(url, str(exc).strip())
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return self.unreachable(url)
        return ""


def network_settings(
    proxy: str = "", ca_bundle: str = "", env: Mapping[str, str] | None = None
) -> NetworkSettings:
    """The settings in force: the traitlets first, then the environment."""
    env = os.environ if env is None else env
    return NetworkSettings(
        proxy=proxy.strip(),
        https_proxy=_env(env, "HTTPS_PROXY"),
        http_proxy=_env(env, "HTTP_PROXY"),
        no_proxy=_env(env, "NO_PROXY"),
        ca_bundle=ca_bundle.strip()
        or _env(env, "REQUESTS_CA_BUNDLE")
        or _env(env, "SSL_CERT_FILE"),
    )
