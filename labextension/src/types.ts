/**
 * JSON shapes of the Dataproc v1 Sessions API as served by the jupyter-sessions
 * server extension (camelCase fields, enums as names, int64 as decimal strings,
 * durations as "Ns" strings, timestamps as RFC 3339).
 *
 * The resources come from `generated/api.ts` (written from the shipped OpenAPI
 * document, see its header); this module names them as the panel uses them,
 * with the fields the panel relies on made required, and adds the UI's own types.
 */

import type * as Api from './generated/api';

export type {
  IAuthenticationConfig,
  IAutotuningConfig,
  IEnvironmentConfig,
  IExecutionConfig,
  IJupyterConfig,
  IPeripheralsConfig,
  IPyPiRepositoryConfig,
  IRepositoryConfig,
  IRuntimeConfig,
  IRuntimeInfo,
  ISessionOperationMetadata,
  ISessionStateHistory,
  ISparkConnectConfig,
  IUsageMetrics,
  IUsageSnapshot
} from './generated/api';

/** Lifecycle state of a session. */
export type SessionState = Api.State;

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
export type JupyterKernel = Api.Kernel;

export type SessionOperationType = Api.OperationType;

/** A Dataproc v1 interactive session: the server always names it. */
export interface ISession extends Api.ISession {
  /** projects/{project}/locations/{location}/sessions/{id} */
  name: string;
}

/** The body of a create request: a session without its output-only fields. */
export type ISessionInput = Omit<
  Api.ISession,
  'name' | Api.SessionOutputOnlyField
>;

/** A reusable session configuration: the server always names it. */
export interface ISessionTemplate extends Api.ISessionTemplate {
  /** projects/{project}/locations/{location}/sessionTemplates/{id} */
  name: string;
}

/** google.rpc.Status inside an Operation: `code` is the numeric rpc code. */
export interface IRpcStatus extends Api.IStatus {
  code: number;
  message: string;
}

/** A long-running operation returned by create, terminate and delete. */
export interface IOperation extends Api.IOperation {
  /** projects/{project}/regions/{region}/operations/{id} */
  name: string;
  error?: IRpcStatus;
  response?: NonNullable<Api.IOperation['response']> & ISession;
}

export interface IListSessionsResponse extends Api.IListSessionsResponse {
  sessions?: ISession[];
}

export interface IListSessionTemplatesResponse
  extends Api.IListSessionTemplatesResponse {
  sessionTemplates?: ISessionTemplate[];
}

/**
 * An HTTP error body as the client reads it: the StatusEnvelope, read
 * leniently (a proxy in between may leave out `status`).
 */
export interface IErrorEnvelope {
  error: Omit<Api.IStatusEnvelope['error'], 'status' | 'details'> & {
    status?: string;
    details?: unknown[];
  };
}

/** GET jupyter-sessions/config, with what every backend reports. */
export interface IExtensionConfig extends Api.IExtensionConfig {
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
