"""Where the Dataproc API is, read the way Google's own tools read it.

First match wins: ``SessionsExtensionApp.dataproc_endpoint`` when set; the
``GOOGLE_CLOUD_DATAPROC_API_ENDPOINT`` environment variable (a bare host, as Google's client
libraries take it, or a URL); gcloud's ``api_endpoints_overrides/dataproc`` property of the
active configuration (``CLOUDSDK_API_ENDPOINT_OVERRIDES_DATAPROC`` in the environment, else
the configuration file). A bare host means ``https://HOST/``.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "GOOGLE_CLOUD_DATAPROC_API_ENDPOINT"
GCLOUD_ENV_VAR = "CLOUDSDK_API_ENDPOINT_OVERRIDES_DATAPROC"
KEYWORDS = ("", "regional", "global", "rep")


def with_scheme(value: str) -> str:
    """``host[:port][/path]`` → ``https://host[:port][/path]``; keywords and URLs unchanged."""
    value = value.strip()
    if value.lower() in KEYWORDS or "://" in value:
        return value
    return f"https://{value}"


def _gcloud_config_dir(env: Mapping[str, str]) -> Path:
    if env.get("CLOUDSDK_CONFIG"):
        return Path(env["CLOUDSDK_CONFIG"])
    return Path(env.get("HOME", str(Path.home()))) / ".config" / "gcloud"


def gcloud_override(env: Mapping[str, str]) -> str:
    """gcloud's ``api_endpoint_overrides/dataproc`` of the active configuration, or ""."""
    if env.get(GCLOUD_ENV_VAR):
        return env[GCLOUD_ENV_VAR].strip()
    root = _gcloud_config_dir(env)
    active = env.get("CLOUDSDK_ACTIVE_CONFIG_NAME", "")
    if not active:
        try:
            active = (root / "active_config").read_text().strip()
        except OSError:
            active = "default"
    parser = configparser.ConfigParser()
    try:
        parser.read(root / "configurations" / f"config_{active or 'default'}")
    except configparser.Error:
        return ""
    return parser.get("api_endpoint_overrides", "dataproc", fallback="").strip()


def resolve_endpoint(configured: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The endpoint setting in force and where it came from."""
    env = os.environ if env is None else env
    if configured.strip():
        return with_scheme(configured), "SessionsExtensionApp.dataproc_endpoint"
    if env.get(ENV_VAR, "").strip():
        return with_scheme(env[ENV_VAR]), ENV_VAR
    override = gcloud_override(env)
    if override:
        return with_scheme(override), "gcloud api_endpoint_overrides/dataproc"
    return "", "default (regional)"
