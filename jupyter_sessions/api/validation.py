"""Input rules of the Sessions API: ids, request ids, labels, TTLs, the session_config
oneof. Each check raises InvalidArgument with a google.rpc.BadRequest detail."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Protocol

from .codec import format_duration
from .defaults import SYSTEM_LABEL_PREFIX
from .errors import bad_request
from .model import EnvironmentConfig, JupyterConfig, SparkConnectConfig

# The documented rule is 4-63 of [a-z0-9-]; we apply the stricter RFC 1035 form the
# official Spark Connect client uses, so an id accepted here is accepted everywhere.
# \Z, not $: "$" also matches before a final newline (a forged log line).
SESSION_ID_RE = re.compile(r"^[a-z][a-z0-9-]{2,61}[a-z0-9]\Z")
REQUEST_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,40}\Z")
LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}\Z")
LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}\Z")
MAX_LABELS = 32
MIN_TTL = timedelta(minutes=10)
MAX_TTL = timedelta(days=14)


def describe_id_rule() -> str:
    return (
        "4 to 63 characters: lowercase letters, digits and hyphens, "
        "starting with a letter and not ending with a hyphen"
    )


def validate_session_id(value: str, field: str = "sessionId") -> str:
    if not value:
        raise bad_request(field, "is required")
    if not SESSION_ID_RE.match(value):
        raise bad_request(field, f"{value!r} must be {describe_id_rule()}")
    return value


def validate_request_id(value: str | None, field: str = "requestId") -> str | None:
    if value is None or value == "":
        return None
    if not REQUEST_ID_RE.match(value):
        raise bad_request(
            field, f"{value!r} must be 1 to 40 characters of letters, digits, '_' and '-'"
        )
    return value


def validate_labels(labels: dict[str, str], field: str = "labels") -> dict[str, str]:
    """User labels: at most 32 (system goog-dataproc-* labels do not count)."""
    user = {k: v for k, v in labels.items() if not k.startswith(SYSTEM_LABEL_PREFIX)}
    if len(user) > MAX_LABELS:
        raise bad_request(field, f"at most {MAX_LABELS} labels are allowed, got {len(user)}")
    for key, value in labels.items():
        if not LABEL_KEY_RE.match(key):
            raise bad_request(
                f"{field}.{key}",
                "label keys are 1 to 63 characters of lowercase letters, digits, '_' and '-', "
                "starting with a lowercase letter",
            )
        if not isinstance(value, str) or not LABEL_VALUE_RE.match(value):
            raise bad_request(
                f"{field}.{key}",
                "label values are at most 63 characters of lowercase letters, digits, '_' and '-'",
            )
    return labels


def validate_ttl(
    value: timedelta | None, field: str, minimum: timedelta = MIN_TTL
) -> timedelta | None:
    if value is None:
        return None
    if value < minimum or value > MAX_TTL:
        raise bad_request(
            field,
            f"must be between {int(minimum.total_seconds())}s and "
            f"{int(MAX_TTL.total_seconds())}s, got {format_duration(value)}",
        )
    return value


class _HasSessionConfig(Protocol):
    jupyter_session: JupyterConfig | None
    spark_connect_session: SparkConnectConfig | None
    environment_config: EnvironmentConfig | None


def validate_session_config(msg: _HasSessionConfig, min_ttl: timedelta = MIN_TTL) -> None:
    """The session_config oneof and the TTL ranges."""
    if msg.jupyter_session is not None and msg.spark_connect_session is not None:
        raise bad_request(
            "jupyterSession",
            "only one of jupyterSession and sparkConnectSession may be set",
        )
    env = msg.environment_config
    if env and env.execution_config:
        ec = env.execution_config
        validate_ttl(ec.ttl, "environmentConfig.executionConfig.ttl", min_ttl)
        validate_ttl(ec.idle_ttl, "environmentConfig.executionConfig.idleTtl", min_ttl)
        if ec.network_uri and ec.subnetwork_uri:
            raise bad_request(
                "environmentConfig.executionConfig.networkUri",
                "only one of networkUri and subnetworkUri may be set",
            )
        if len(ec.resource_manager_tags) > 30:
            raise bad_request(
                "environmentConfig.executionConfig.resourceManagerTags", "at most 30 tags"
            )
