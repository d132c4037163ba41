/**
 * JSON shapes of the Dataproc v1 Sessions API as served by the jupyter-sessions
 * server extension (camelCase fields, enums as names, int64 as decimal strings,
 * durations as "Ns" strings, timestamps as RFC 3339).
 */

/** Lifecycle state of a session. */
export type SessionState =
  | 'STATE_UNSPECIFIED'
  | 'CREATING'
  | 'ACTIVE'
  | 'TERMINATING'
  | 'TERMINATED'
  | 'FAILED';

/** Every state, in lifecycle order. */
export const SESSION_STATES: readonly SessionState[] = [
  'CREATING',
  'ACTIVE',
  'TERMINATING',
  'TERMINATED',
  'FAILED',
  'STATE_UNSPECIFIED'
];

/** States in which a session still runs or is about to. */
export const LIVE_STATES: readonly SessionState[] = [
  'CREATING',
  'ACTIVE',
  'TERMINATING'
];

/** An int64 value: the API writes it as a decimal string. */
export type Int64 = string | number;

/** Kernel of a Jupyter session. */
export type JupyterKernel = 'KERNEL_UNSPECIFIED' | 'PYTHON' | 'SCALA';

export interface IJupyterConfig {
  kernel?: JupyterKernel;
  displayName?: string;
}

/** Spark Connect sessions carry an empty message. */
export type ISparkConnectConfig = Record<string, never>;

export interface ISessionStateHistory {
  state?: SessionState;
  stateMessage?: string;
  stateStartTime?: string;
}

export interface IRepositoryConfig {
  pypiRepositoryConfig?: { pypiRepository?: string };
}

export interface IRuntimeConfig {
  version?: string;
  containerImage?: string;
  properties?: Record<string, string>;
  repositoryConfig?: IRepositoryConfig;
  autotuningConfig?: { scenarios?: string[] };
  cohort?: string;
}

export interface IAuthenticationConfig {
  userWorkloadAuthenticationType?: string;
}

export interface IExecutionConfig {
  serviceAccount?: string;
  networkUri?: string;
  subnetworkUri?: string;
  networkTags?: string[];
  kmsKey?: string;
  /** Duration, e.g. "3600s". */
  idleTtl?: string;
  /** Duration, e.g. "86400s". */
  ttl?: string;
  stagingBucket?: string;
  authenticationConfig?: IAuthenticationConfig;
  resourceManagerTags?: Record<string, string>;
}

export interface IPeripheralsConfig {
  metastoreService?: string;
  sparkHistoryServerConfig?: { dataprocCluster?: string };
}

export interface IEnvironmentConfig {
  executionConfig?: IExecutionConfig;
  peripheralsConfig?: IPeripheralsConfig;
}

export interface IUsageMetrics {
  milliDcuSeconds?: Int64;
  shuffleStorageGbSeconds?: Int64;
  milliAcceleratorSeconds?: Int64;
  acceleratorType?: string;
  updateTime?: string;
}

export interface IUsageSnapshot {
  milliDcu?: Int64;
  shuffleStorageGb?: Int64;
  snapshotTime?: string;
  milliDcuPremium?: Int64;
  shuffleStorageGbPremium?: Int64;
  milliAccelerator?: Int64;
  acceleratorType?: string;
}

export interface IRuntimeInfo {
  endpoints?: Record<string, string>;
  outputUri?: string;
  diagnosticOutputUri?: string;
  approximateUsage?: IUsageMetrics;
  currentUsage?: IUsageSnapshot;
}

/** A Dataproc v1 interactive session. */
export interface ISession {
  /** projects/{project}/locations/{location}/sessions/{id} */
  name: string;
  uuid?: string;
  createTime?: string;
  jupyterSession?: IJupyterConfig;
  sparkConnectSession?: ISparkConnectConfig;
  runtimeInfo?: IRuntimeInfo;
  state?: SessionState;
  stateMessage?: string;
  stateTime?: string;
  creator?: string;
  labels?: Record<string, string>;
  runtimeConfig?: IRuntimeConfig;
  environmentConfig?: IEnvironmentConfig;
  user?: string;
  stateHistory?: ISessionStateHistory[];
  sessionTemplate?: string;
}

/** The body of a create request: a session without its output-only fields. */
export interface ISessionInput {
  jupyterSession?: IJupyterConfig;
  sparkConnectSession?: ISparkConnectConfig;
  labels?: Record<string, string>;
  runtimeConfig?: IRuntimeConfig;
  environmentConfig?: IEnvironmentConfig;
  user?: string;
  sessionTemplate?: string;
}

/** A reusable session configuration. */
export interface ISessionTemplate {
  /** projects/{project}/locations/{location}/sessionTemplates/{id} */
  name: string;
  description?: string;
  createTime?: string;
  updateTime?: string;
  jupyterSession?: IJupyterConfig;
  sparkConnectSession?: ISparkConnectConfig;
  creator?: string;
  labels?: Record<string, string>;
  runtimeConfig?: IRuntimeConfig;
  environmentConfig?: IEnvironmentConfig;
  uuid?: string;
}

export type SessionOperationType =
  'SESSION_OPERATION_TYPE_UNSPECIFIED' | 'CREATE' | 'TERMINATE' | 'DELETE';

export interface ISessionOperationMetadata {
  '@type'?: string;
  session?: string;
  sessionUuid?: string;
  createTime?: string;
  doneTime?: string;
  operationType?: SessionOperationType;
  description?: string;
  labels?: Record<string, string>;
  warnings?: string[];
}

/** google.rpc.Status inside an Operation: `code` is the numeric rpc code. */
export interface IRpcStatus {
  code: number;
  message: string;
  details?: unknown[];
}

/** A long-running operation returned by create, terminate and delete. */
export interface IOperation {
  /** projects/{project}/regions/{region}/operations/{id} */
  name: string;
  done?: boolean;
  error?: IRpcStatus;
  response?: ISession & { '@type'?: string };
  metadata?: ISessionOperationMetadata;
}

export interface IListSessionsResponse {
  sessions?: ISession[];
  nextPageToken?: string;
}

export interface IListSessionTemplatesResponse {
  sessionTemplates?: ISessionTemplate[];
  nextPageToken?: string;
}

/** The HTTP error envelope: `code` is the HTTP status. */
export interface IErrorEnvelope {
  error: {
    code: number;
    message: string;
    status?: string;
    details?: unknown[];
  };
}

/** GET jupyter-sessions/config */
export interface IExtensionConfig {
  backend: 'local' | 'dataproc' | 'url';
  endpoint: string;
  project: string;
  location: string;
  /** projects/{project}/locations/{location} */
  parent: string;
  user: string;
  /**
   * What the backend can run: each runtime with why it cannot ('' when it
   * can). Absent from older servers: everything is offered.
   */
  runtimes?: Partial<Record<'PYTHON' | 'SCALA' | 'SPARK_CONNECT', string>>;
}

/** Payload of the `snapshot` event. */
export interface ISnapshotEvent {
  sessions: ISession[];
  time?: string;
}

/** Payload of the `removed` event. */
export interface IRemovedEvent {
  name: string;
}

/** Payload of the `status` event. */
export interface IStatusEvent {
  reachable: boolean;
  lastPoll?: string;
  message?: string;
}

/**
 * Payload of the `template` event: a template written through the server,
 * with its new value, or `deleted`.
 */
export interface ITemplateEvent {
  name: string;
  template?: ISessionTemplate;
  deleted?: boolean;
}

/** Payload of the `heartbeat` event. */
export interface IHeartbeatEvent {
  time?: string;
}
