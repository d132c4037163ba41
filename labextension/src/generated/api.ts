/**
 * Generated from jupyter_sessions/openapi/extension.json by scripts/openapi_to_ts.py: do not edit.
 * Regenerate with `make openapi-ts` (or `python scripts/openapi_to_ts.py`).
 * Schemas of: jupyter-sessions server extension.
 */

export interface IAuthenticationConfig {
  userWorkloadAuthenticationType?: AuthenticationType;
}

/** AuthenticationConfig.AuthenticationType. Names by default; integers with $alt=json;enum-encoding=int (either is accepted on input). */
export type AuthenticationType =
  | 'AUTHENTICATION_TYPE_UNSPECIFIED'
  | 'SERVICE_ACCOUNT'
  | 'END_USER_CREDENTIALS';

export interface IAutotuningConfig {
  scenarios?: Scenario[];
}

export type IEmpty = Record<string, never>;

export interface IEnvironmentConfig {
  executionConfig?: IExecutionConfig;
  peripheralsConfig?: IPeripheralsConfig;
}

export interface IExecutionConfig {
  serviceAccount?: string;
  networkUri?: string;
  subnetworkUri?: string;
  networkTags?: string[];
  kmsKey?: string;
  /** A duration in seconds with an s suffix, e.g. 3600s. */
  idleTtl?: string;
  /** A duration in seconds with an s suffix, e.g. 3600s. */
  ttl?: string;
  stagingBucket?: string;
  authenticationConfig?: IAuthenticationConfig;
  resourceManagerTags?: Record<string, string>;
}

/** The effective configuration; backends may add keys of their own (the dataproc backend: where the project and location came from, the credentials used). */
export interface IExtensionConfig {
  backend?: string;
  endpoint?: string;
  project?: string;
  location?: string;
  parent?: string;
  user?: string;
  /** jupyter-sessions version */
  version?: string;
  /** Seconds between heartbeats on an idle event stream */
  heartbeatInterval?: number;
  /** The kernel gateway that runs session kernels ('' if none) */
  kernelGateway?: string;
  /** Why there are no session kernels, if so */
  kernelGatewayError?: string;
  /** What the backend can run: PYTHON, SCALA and SPARK_CONNECT, each with why it cannot ('' when it can) */
  runtimes?: Record<string, string>;
}

export interface IJupyterConfig {
  kernel?: Kernel;
  displayName?: string;
}

/** JupyterConfig.Kernel. Names by default; integers with $alt=json;enum-encoding=int (either is accepted on input). */
export type Kernel = 'KERNEL_UNSPECIFIED' | 'PYTHON' | 'SCALA';

export interface IListOperationsResponse {
  operations?: IOperation[];
  nextPageToken?: string;
}

export interface IListSessionTemplatesResponse {
  sessionTemplates?: ISessionTemplate[];
  nextPageToken?: string;
}

export interface IListSessionsResponse {
  sessions?: ISession[];
  nextPageToken?: string;
}

/** google.longrunning.Operation for session create, terminate and delete. */
export interface IOperation {
  name?: string;
  metadata?: ISessionOperationMetadata & {
    '@type'?: 'type.googleapis.com/google.cloud.dataproc.v1.SessionOperationMetadata';
  };
  done?: boolean;
  error?: IStatus;
  response?: ISession & {
    '@type'?: 'type.googleapis.com/google.cloud.dataproc.v1.Session';
  };
}

/** SessionOperationMetadata.SessionOperationType. Names by default; integers with $alt=json;enum-encoding=int (either is accepted on input). */
export type OperationType =
  'SESSION_OPERATION_TYPE_UNSPECIFIED' | 'CREATE' | 'TERMINATE' | 'DELETE';

export interface IPeripheralsConfig {
  metastoreService?: string;
  sparkHistoryServerConfig?: ISparkHistoryServerConfig;
}

export interface IPyPiRepositoryConfig {
  pypiRepository?: string;
}

export interface IRepositoryConfig {
  pypiRepositoryConfig?: IPyPiRepositoryConfig;
}

export interface IRuntimeConfig {
  version?: string;
  containerImage?: string;
  properties?: Record<string, string>;
  repositoryConfig?: IRepositoryConfig;
  autotuningConfig?: IAutotuningConfig;
  cohort?: string;
}

export interface IRuntimeInfo {
  endpoints?: Record<string, string>;
  outputUri?: string;
  diagnosticOutputUri?: string;
  approximateUsage?: IUsageMetrics;
  currentUsage?: IUsageSnapshot;
}

/** AutotuningConfig.Scenario. Names by default; integers with $alt=json;enum-encoding=int (either is accepted on input). */
export type Scenario =
  | 'SCENARIO_UNSPECIFIED'
  | 'SCALING'
  | 'BROADCAST_HASH_JOIN'
  | 'MEMORY'
  | 'NONE'
  | 'AUTO';

/** A Dataproc interactive session. */
export interface ISession {
  name?: string;
  /** Output only. */
  uuid?: string;
  /** Output only. */
  createTime?: string;
  jupyterSession?: IJupyterConfig;
  sparkConnectSession?: ISparkConnectConfig;
  /** Output only. */
  runtimeInfo?: IRuntimeInfo;
  /** Output only. */
  state?: State;
  /** Output only. */
  stateMessage?: string;
  /** Output only. */
  stateTime?: string;
  /** Output only. */
  creator?: string;
  labels?: Record<string, string>;
  runtimeConfig?: IRuntimeConfig;
  environmentConfig?: IEnvironmentConfig;
  user?: string;
  /** Output only. */
  stateHistory?: ISessionStateHistory[];
  sessionTemplate?: string;
}

/** The output-only fields of ISession. */
export type SessionOutputOnlyField =
  | 'uuid'
  | 'createTime'
  | 'runtimeInfo'
  | 'state'
  | 'stateMessage'
  | 'stateTime'
  | 'creator'
  | 'stateHistory';

export interface ISessionOperationMetadata {
  session?: string;
  sessionUuid?: string;
  createTime?: string;
  doneTime?: string;
  operationType?: OperationType;
  description?: string;
  labels?: Record<string, string>;
  warnings?: string[];
}

export interface ISessionStateHistory {
  state?: State;
  stateMessage?: string;
  stateStartTime?: string;
}

export interface ISessionTemplate {
  name?: string;
  description?: string;
  /** Output only. */
  createTime?: string;
  jupyterSession?: IJupyterConfig;
  sparkConnectSession?: ISparkConnectConfig;
  /** Output only. */
  creator?: string;
  labels?: Record<string, string>;
  runtimeConfig?: IRuntimeConfig;
  environmentConfig?: IEnvironmentConfig;
  /** Output only. */
  updateTime?: string;
  /** Output only. */
  uuid?: string;
}

/** The output-only fields of ISessionTemplate. */
export type SessionTemplateOutputOnlyField =
  'createTime' | 'creator' | 'updateTime' | 'uuid';

export type ISparkConnectConfig = Record<string, unknown>;

export interface ISparkHistoryServerConfig {
  dataprocCluster?: string;
}

/** Session.State. Names by default; integers with $alt=json;enum-encoding=int (either is accepted on input). */
export type State =
  | 'STATE_UNSPECIFIED'
  | 'CREATING'
  | 'ACTIVE'
  | 'TERMINATING'
  | 'TERMINATED'
  | 'FAILED';

/** google.rpc.Status as it appears inside an Operation (numeric rpc code). */
export interface IStatus {
  code?: number;
  message?: string;
  details?: Record<string, unknown>[];
}

/** Every error: the google.rpc.Status HTTP envelope. */
export interface IStatusEnvelope {
  error: {
    /** The HTTP status code. */
    code: number;
    message: string;
    status:
      | 'CANCELLED'
      | 'UNKNOWN'
      | 'INVALID_ARGUMENT'
      | 'DEADLINE_EXCEEDED'
      | 'NOT_FOUND'
      | 'ALREADY_EXISTS'
      | 'PERMISSION_DENIED'
      | 'RESOURCE_EXHAUSTED'
      | 'FAILED_PRECONDITION'
      | 'ABORTED'
      | 'OUT_OF_RANGE'
      | 'UNIMPLEMENTED'
      | 'INTERNAL'
      | 'UNAVAILABLE'
      | 'DATA_LOSS'
      | 'UNAUTHENTICATED';
    details?: {
      '@type'?: string;
    }[];
  };
}

export interface ITerminateSessionRequest {
  requestId?: string;
}

export interface IUsageMetrics {
  /** int64 as a decimal string (a JSON integer is accepted). */
  milliDcuSeconds?: string;
  /** int64 as a decimal string (a JSON integer is accepted). */
  shuffleStorageGbSeconds?: string;
  /** int64 as a decimal string (a JSON integer is accepted). */
  milliAcceleratorSeconds?: string;
  acceleratorType?: string;
  updateTime?: string;
}

export interface IUsageSnapshot {
  /** int64 as a decimal string (a JSON integer is accepted). */
  milliDcu?: string;
  /** int64 as a decimal string (a JSON integer is accepted). */
  shuffleStorageGb?: string;
  snapshotTime?: string;
  /** int64 as a decimal string (a JSON integer is accepted). */
  milliDcuPremium?: string;
  /** int64 as a decimal string (a JSON integer is accepted). */
  shuffleStorageGbPremium?: string;
  /** int64 as a decimal string (a JSON integer is accepted). */
  milliAccelerator?: string;
  acceleratorType?: string;
}
