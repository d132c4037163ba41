"""The Dataproc v1 Sessions resource model (sessions.proto, session_templates.proto,
shared.proto, operations.proto), as typed dataclasses with proto3 JSON."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .codec import Int64, Message

SESSION_TYPE_URL = "type.googleapis.com/google.cloud.dataproc.v1.Session"
METADATA_TYPE_URL = "type.googleapis.com/google.cloud.dataproc.v1.SessionOperationMetadata"


class State(enum.IntEnum):
    """Session.State."""

    STATE_UNSPECIFIED = 0
    CREATING = 1
    ACTIVE = 2
    TERMINATING = 3
    TERMINATED = 4
    FAILED = 5

    @property
    def is_final(self) -> bool:
        return self in (State.TERMINATED, State.FAILED)

    @property
    def is_transition(self) -> bool:
        return self in (State.CREATING, State.TERMINATING)

    @property
    def is_live(self) -> bool:
        return self in (State.CREATING, State.ACTIVE, State.TERMINATING)


class Kernel(enum.IntEnum):
    """JupyterConfig.Kernel."""

    KERNEL_UNSPECIFIED = 0
    PYTHON = 1
    SCALA = 2


class OperationType(enum.IntEnum):
    """SessionOperationMetadata.SessionOperationType."""

    SESSION_OPERATION_TYPE_UNSPECIFIED = 0
    CREATE = 1
    TERMINATE = 2
    DELETE = 3


class Scenario(enum.IntEnum):
    """AutotuningConfig.Scenario."""

    SCENARIO_UNSPECIFIED = 0
    SCALING = 2
    BROADCAST_HASH_JOIN = 3
    MEMORY = 4
    NONE = 5
    AUTO = 6


class AuthenticationType(enum.IntEnum):
    """AuthenticationConfig.AuthenticationType."""

    AUTHENTICATION_TYPE_UNSPECIFIED = 0
    SERVICE_ACCOUNT = 1
    END_USER_CREDENTIALS = 2


@dataclass
class JupyterConfig(Message):
    kernel: Kernel = Kernel.KERNEL_UNSPECIFIED
    display_name: str = ""


@dataclass
class SparkConnectConfig(Message):
    pass


@dataclass
class PyPiRepositoryConfig(Message):
    pypi_repository: str = ""


@dataclass
class RepositoryConfig(Message):
    pypi_repository_config: PyPiRepositoryConfig | None = None


@dataclass
class AutotuningConfig(Message):
    scenarios: list[Scenario] = field(default_factory=list)


@dataclass
class RuntimeConfig(Message):
    version: str = ""
    container_image: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    repository_config: RepositoryConfig | None = None
    autotuning_config: AutotuningConfig | None = None
    cohort: str = ""


@dataclass
class AuthenticationConfig(Message):
    user_workload_authentication_type: AuthenticationType = (
        AuthenticationType.AUTHENTICATION_TYPE_UNSPECIFIED
    )


@dataclass
class ExecutionConfig(Message):
    service_account: str = ""
    network_uri: str = ""
    subnetwork_uri: str = ""
    network_tags: list[str] = field(default_factory=list)
    kms_key: str = ""
    idle_ttl: timedelta | None = None
    ttl: timedelta | None = None
    staging_bucket: str = ""
    authentication_config: AuthenticationConfig | None = None
    resource_manager_tags: dict[str, str] = field(default_factory=dict)


@dataclass
class SparkHistoryServerConfig(Message):
    dataproc_cluster: str = ""


@dataclass
class PeripheralsConfig(Message):
    metastore_service: str = ""
    spark_history_server_config: SparkHistoryServerConfig | None = None


@dataclass
class EnvironmentConfig(Message):
    execution_config: ExecutionConfig | None = None
    peripherals_config: PeripheralsConfig | None = None


@dataclass
class UsageMetrics(Message):
    milli_dcu_seconds: Int64 = 0
    shuffle_storage_gb_seconds: Int64 = 0
    milli_accelerator_seconds: Int64 = 0
    accelerator_type: str = ""
    update_time: datetime | None = None


@dataclass
class UsageSnapshot(Message):
    milli_dcu: Int64 = 0
    shuffle_storage_gb: Int64 = 0
    snapshot_time: datetime | None = None
    milli_dcu_premium: Int64 = 0
    shuffle_storage_gb_premium: Int64 = 0
    milli_accelerator: Int64 = 0
    accelerator_type: str = ""


@dataclass
class RuntimeInfo(Message):
    endpoints: dict[str, str] = field(default_factory=dict)
    output_uri: str = ""
    diagnostic_output_uri: str = ""
    approximate_usage: UsageMetrics | None = None
    current_usage: UsageSnapshot | None = None


@dataclass
class SessionStateHistory(Message):
    state: State = State.STATE_UNSPECIFIED
    state_message: str = ""
    state_start_time: datetime | None = None


@dataclass
class Session(Message):
    """A Dataproc interactive session."""

    name: str = ""
    uuid: str = ""
    create_time: datetime | None = None
    jupyter_session: JupyterConfig | None = None
    spark_connect_session: SparkConnectConfig | None = None
    runtime_info: RuntimeInfo | None = None
    state: State = State.STATE_UNSPECIFIED
    state_message: str = ""
    state_time: datetime | None = None
    creator: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    runtime_config: RuntimeConfig | None = None
    environment_config: EnvironmentConfig | None = None
    user: str = ""
    state_history: list[SessionStateHistory] = field(default_factory=list)
    session_template: str = ""

    @property
    def session_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass
class SessionTemplate(Message):
    name: str = ""
    description: str = ""
    create_time: datetime | None = None
    jupyter_session: JupyterConfig | None = None
    spark_connect_session: SparkConnectConfig | None = None
    creator: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    runtime_config: RuntimeConfig | None = None
    environment_config: EnvironmentConfig | None = None
    update_time: datetime | None = None
    uuid: str = ""

    @property
    def template_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass
class SessionOperationMetadata(Message):
    session: str = ""
    session_uuid: str = ""
    create_time: datetime | None = None
    done_time: datetime | None = None
    operation_type: OperationType = OperationType.SESSION_OPERATION_TYPE_UNSPECIFIED
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Status(Message):
    """google.rpc.Status as it appears inside an Operation (numeric rpc code)."""

    code: int = 0
    message: str = ""
    details: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Operation(Message):
    """google.longrunning.Operation for session create, terminate and delete."""

    name: str = ""
    metadata: SessionOperationMetadata | None = None
    done: bool = False
    error: Status | None = None
    response: Session | None = None

    def to_json(self, *, enum_ints: bool = False) -> dict[str, Any]:
        out = super().to_json(enum_ints=enum_ints)
        # Any fields carry their type URL first, as Google's servers write them.
        for key, url in (("metadata", METADATA_TYPE_URL), ("response", SESSION_TYPE_URL)):
            if key in out:
                out[key] = {"@type": url, **out[key]}
        return out

    @property
    def operation_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass
class ListSessionsResponse(Message):
    sessions: list[Session] = field(default_factory=list)
    next_page_token: str = ""


@dataclass
class ListSessionTemplatesResponse(Message):
    session_templates: list[SessionTemplate] = field(default_factory=list)
    next_page_token: str = ""


@dataclass
class ListOperationsResponse(Message):
    operations: list[Operation] = field(default_factory=list)
    next_page_token: str = ""
