/**
 * Typed wrapper of the jupyter-sessions server extension's REST API.
 *
 * The wrapper does not import JupyterLab at run time: it talks through an
 * `IRequester` (see `connection.ts` for the one built on
 * `ServerConnection.makeRequest`, which adds the token and XSRF headers).
 */

import type {
  IErrorEnvelope,
  IExtensionConfig,
  IListSessionTemplatesResponse,
  IListSessionsResponse,
  IOperation,
  IRpcStatus,
  ISession,
  ISessionInput,
  ISessionTemplate
} from './types';

import { formatDuration } from './format';

export * from './types';

/** Path prefix of the server extension, relative to the server's base URL. */
export const API_PREFIX = 'jupyter-sessions';

/** How requests reach the Jupyter server. */
export interface IRequester {
  /** The Jupyter server's base URL, e.g. `http://localhost:8888/` or `/user/x/`. */
  readonly baseUrl: string;
  /** Authentication token, if the connection settings carry one. */
  readonly token?: string;
  /** Perform a request; rejects only when the server cannot be reached. */
  fetch(url: string, init: RequestInit): Promise<Response>;
}

/** rpc code names by number (google.rpc.Code). */
export const RPC_CODE_NAMES: Readonly<Record<number, string>> = {
  0: 'OK',
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED'
};

/** Canonical status name for an HTTP status without an error envelope. */
function statusForHttp(httpStatus: number): string {
  switch (httpStatus) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 499:
      return 'CANCELLED';
    case 501:
      return 'UNIMPLEMENTED';
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    default:
      return httpStatus >= 500 ? 'INTERNAL' : 'UNKNOWN';
  }
}

/**
 * An error from the API or from reaching it. `message` is meant for people:
 * the server's own message when it sent one.
 */
export class ApiError extends Error {
  /** HTTP status; 0 when the server could not be reached. */
  readonly httpStatus: number;
  /** google.rpc.Code name, e.g. `NOT_FOUND`. */
  readonly status: string;
  readonly details: unknown[];

  constructor(
    message: string,
    httpStatus: number,
    status: string,
    details: unknown[] = []
  ) {
    super(message);
    this.name = 'ApiError';
    this.httpStatus = httpStatus;
    this.status = status;
    this.details = details;
  }

  /** True when the server or the backend could not be reached. */
  get isUnreachable(): boolean {
    return (
      this.httpStatus === 0 ||
      this.httpStatus === 502 ||
      this.httpStatus === 503 ||
      this.httpStatus === 504
    );
  }

  /** Build an error from a non-2xx response, reading the error envelope. */
  static async fromResponse(response: Response): Promise<ApiError> {
    let text = '';
    try {
      text = await response.text();
    } catch {
      text = '';
    }
    return ApiError.fromBody(response.status, response.statusText, text);
  }

  /** Build an error from an HTTP status and a response body. */
  static fromBody(
    httpStatus: number,
    statusText: string,
    body: string
  ): ApiError {
    const envelope = parseEnvelope(body);
    if (envelope) {
      const { message, status, details } = envelope.error;
      return new ApiError(
        message || `HTTP ${httpStatus}`,
        httpStatus,
        status || statusForHttp(httpStatus),
        Array.isArray(details) ? details : []
      );
    }
    const status = statusForHttp(httpStatus);
    let message: string;
    if (httpStatus === 401 || httpStatus === 403) {
      message =
        'Not authorized by the Jupyter server: reload the page or log in again';
    } else if (httpStatus === 404) {
      message =
        'Not found: is the jupyter_sessions server extension enabled on this Jupyter server?';
    } else {
      const snippet = plainText(body);
      const reason = statusText || status;
      message = snippet
        ? `HTTP ${httpStatus} ${reason}: ${snippet}`
        : `HTTP ${httpStatus} ${reason}`;
    }
    return new ApiError(message, httpStatus, status);
  }

  /** Build an error from a failed operation's google.rpc.Status. */
  static fromRpcStatus(rpc: IRpcStatus): ApiError {
    const status = RPC_CODE_NAMES[rpc.code] ?? `CODE_${rpc.code}`;
    return new ApiError(
      rpc.message || `Operation failed (${status})`,
      0,
      status,
      rpc.details ?? []
    );
  }

  /** Wrap whatever a failed `fetch` threw. */
  static network(reason: unknown): ApiError {
    const detail = reason instanceof Error ? reason.message : String(reason);
    return new ApiError(
      `Cannot reach the Jupyter server${detail ? `: ${detail}` : ''}`,
      0,
      'UNAVAILABLE'
    );
  }
}

function parseEnvelope(body: string): IErrorEnvelope | null {
  if (!body) {
    return null;
  }
  try {
    const value: unknown = JSON.parse(body);
    if (
      typeof value === 'object' &&
      value !== null &&
      'error' in value &&
      typeof value.error === 'object' &&
      value.error !== null
    ) {
      const error = value.error as Record<string, unknown>;
      return {
        error: {
          code: typeof error.code === 'number' ? error.code : 0,
          message: typeof error.message === 'string' ? error.message : '',
          status: typeof error.status === 'string' ? error.status : undefined,
          details: Array.isArray(error.details) ? error.details : undefined
        }
      };
    }
  } catch {
    return null;
  }
  return null;
}

/** First line of a non-JSON body, without markup, shortened. */
function plainText(body: string): string {
  const titled = /<title>([^<]*)<\/title>/i.exec(body);
  const text = (titled ? titled[1] : body.replace(/<[^>]*>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** Raised when a wait gives up before the operation finished. */
export class WaitTimeoutError extends Error {
  readonly operation: IOperation;
  constructor(message: string, operation: IOperation) {
    super(message);
    this.name = 'WaitTimeoutError';
    this.operation = operation;
  }
}

/** Raised when a wait is cancelled by its AbortSignal. */
export class WaitAbortedError extends Error {
  constructor() {
    super('Stopped waiting');
    this.name = 'WaitAbortedError';
  }
}

/** A requestId: `[a-zA-Z0-9_-]`, at most 40 characters. */
export function newRequestId(): string {
  const c: { randomUUID?: () => string } | undefined =
    typeof globalThis !== 'undefined'
      ? (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
      : undefined;
  if (c && typeof c.randomUUID === 'function') {
    return c.randomUUID();
  }
  let id = '';
  while (id.length < 32) {
    id += Math.floor(Math.random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  }
  return `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
}

/** Encode each segment of a resource name, keeping the slashes. */
export function encodeResourcePath(name: string): string {
  return name
    .split('/')
    .map(segment => encodeURIComponent(segment))
    .join('/');
}

/** Join a base URL and a relative path with exactly one slash. */
export function joinUrl(base: string, path: string): string {
  const b = base.endsWith('/') ? base.slice(0, -1) : base;
  const p = path.startsWith('/') ? path.slice(1) : path;
  return `${b}/${p}`;
}

function withQuery(
  url: string,
  params: Record<string, string | number | undefined>
): string {
  const query = Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== '')
    .map(
      ([key, value]) =>
        `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
    )
    .join('&');
  return query ? `${url}${url.includes('?') ? '&' : '?'}${query}` : url;
}

/** URL of the event stream; the token goes in the query (EventSource has no headers). */
export function eventsUrl(
  baseUrl: string,
  parent: string,
  token?: string
): string {
  return withQuery(joinUrl(baseUrl, `${API_PREFIX}/events`), {
    parent,
    token: token || undefined
  });
}

export interface IListOptions {
  pageSize?: number;
  pageToken?: string;
  filter?: string;
}

export interface IWaitOptions {
  /** Give up after this long (ms). Default 10 minutes. */
  timeoutMs?: number;
  /** First delay between polls (ms). Default 1000; grows ×1.5 up to `maxIntervalMs`. */
  intervalMs?: number;
  /** Longest delay between polls (ms). Default 5000. */
  maxIntervalMs?: number;
  /** Called with each polled, unfinished operation. */
  onProgress?: (operation: IOperation) => void;
  signal?: AbortSignal;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const defaultSleep = (ms: number): Promise<void> =>
  new Promise(resolve => setTimeout(resolve, ms));

/** Client of `jupyter-sessions/config`, `jupyter-sessions/v1/...` and the event stream URL. */
export class SessionsApi {
  constructor(requester: IRequester) {
    this._requester = requester;
  }

  get baseUrl(): string {
    return this._requester.baseUrl;
  }

  /** The effective backend, project, location and user. */
  getConfig(): Promise<IExtensionConfig> {
    return this._json<IExtensionConfig>('GET', `${API_PREFIX}/config`);
  }

  /** One page of sessions. */
  listSessions(
    parent: string,
    options: IListOptions = {}
  ): Promise<IListSessionsResponse> {
    return this._json<IListSessionsResponse>(
      'GET',
      withQuery(this._v1(`${parent}/sessions`), {
        pageSize: options.pageSize,
        pageToken: options.pageToken,
        filter: options.filter
      })
    );
  }

  /** Every session, following page tokens (bounded by `maxPages`). */
  async listAllSessions(
    parent: string,
    filter?: string,
    maxPages = 50
  ): Promise<ISession[]> {
    const sessions: ISession[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const reply = await this.listSessions(parent, {
        pageSize: 1000,
        pageToken,
        filter
      });
      sessions.push(...(reply.sessions ?? []));
      pageToken = reply.nextPageToken;
      if (!pageToken) {
        break;
      }
    }
    return sessions;
  }

  getSession(name: string): Promise<ISession> {
    return this._json<ISession>('GET', this._v1(name));
  }

  /** POST v1/{parent}/sessions?sessionId=&requestId= */
  createSession(
    parent: string,
    sessionId: string,
    session: ISessionInput,
    requestId: string = newRequestId()
  ): Promise<IOperation> {
    return this._json<IOperation>(
      'POST',
      withQuery(this._v1(`${parent}/sessions`), { sessionId, requestId }),
      session
    );
  }

  /** POST v1/{name}:terminate */
  terminateSession(
    name: string,
    requestId: string = newRequestId()
  ): Promise<IOperation> {
    return this._json<IOperation>('POST', `${this._v1(name)}:terminate`, {
      requestId
    });
  }

  /** DELETE v1/{name}?requestId= */
  deleteSession(
    name: string,
    requestId: string = newRequestId()
  ): Promise<IOperation> {
    return this._json<IOperation>(
      'DELETE',
      withQuery(this._v1(name), { requestId })
    );
  }

  /** Every session template of a parent. */
  async listSessionTemplates(
    parent: string,
    maxPages = 20
  ): Promise<ISessionTemplate[]> {
    const templates: ISessionTemplate[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const reply = await this._json<IListSessionTemplatesResponse>(
        'GET',
        withQuery(this._v1(`${parent}/sessionTemplates`), {
          pageSize: 1000,
          pageToken
        })
      );
      templates.push(...(reply.sessionTemplates ?? []));
      pageToken = reply.nextPageToken;
      if (!pageToken) {
        break;
      }
    }
    return templates;
  }

  /** POST v1/{parent}/sessionTemplates: the template's full name is in the body. */
  createSessionTemplate(
    parent: string,
    template: ISessionTemplate
  ): Promise<ISessionTemplate> {
    return this._json<ISessionTemplate>(
      'POST',
      this._v1(`${parent}/sessionTemplates`),
      template
    );
  }

  getSessionTemplate(name: string): Promise<ISessionTemplate> {
    return this._json<ISessionTemplate>('GET', this._v1(name));
  }

  /** PATCH v1/{name}: replaces every mutable field with the body's. */
  updateSessionTemplate(template: ISessionTemplate): Promise<ISessionTemplate> {
    return this._json<ISessionTemplate>(
      'PATCH',
      this._v1(template.name),
      template
    );
  }

  async deleteSessionTemplate(name: string): Promise<void> {
    await this._json<unknown>('DELETE', this._v1(name));
  }

  getOperation(name: string): Promise<IOperation> {
    return this._json<IOperation>('GET', this._v1(name));
  }

  /**
   * Poll an operation until it is done, with growing delays, for at most
   * `timeoutMs`. Resolves with the done operation (which may carry `error`);
   * rejects with `WaitTimeoutError`, `WaitAbortedError` or `ApiError`.
   */
  async waitOperation(
    operation: IOperation,
    options: IWaitOptions = {}
  ): Promise<IOperation> {
    const sleep = options.sleep ?? defaultSleep;
    const now = options.now ?? Date.now;
    const timeoutMs = options.timeoutMs ?? 10 * 60 * 1000;
    const maxInterval = options.maxIntervalMs ?? 5000;
    let interval = options.intervalMs ?? 1000;
    const deadline = now() + timeoutMs;
    let current = operation;
    while (!current.done) {
      if (options.signal?.aborted) {
        throw new WaitAbortedError();
      }
      const remaining = deadline - now();
      if (remaining <= 0) {
        throw new WaitTimeoutError(
          `not finished after ${formatDuration(timeoutMs / 1000)}; the operation continues on the server`,
          current
        );
      }
      await sleep(Math.min(interval, remaining));
      interval = Math.min(maxInterval, Math.ceil(interval * 1.5));
      if (options.signal?.aborted) {
        throw new WaitAbortedError();
      }
      current = await this.getOperation(operation.name);
      if (!current.done) {
        options.onProgress?.(current);
      }
    }
    return current;
  }

  /**
   * The end of a session's kernel log (embedded emulator only), as text:
   * `GET jupyter-sessions/log?session=NAME`.
   */
  async getKernelLog(sessionName: string): Promise<string> {
    const url = joinUrl(
      this._requester.baseUrl,
      `${API_PREFIX}/log?session=${encodeURIComponent(sessionName)}`
    );
    let response: Response;
    try {
      response = await this._requester.fetch(url, { method: 'GET' });
    } catch (reason) {
      throw ApiError.network(reason);
    }
    if (!response.ok) {
      throw await ApiError.fromResponse(response);
    }
    return response.text();
  }

  /**
   * Tell the server a panel of `parent` is visible and in use, so that a
   * polled backend (Dataproc) is looked at often for a while:
   * `POST jupyter-sessions/events?parent=...`.
   */
  async noteActivity(parent: string): Promise<void> {
    await this._json<unknown>(
      'POST',
      withQuery(`${API_PREFIX}/events`, { parent })
    );
  }

  /** URL of the server-sent event stream for a parent. */
  eventsUrl(parent: string): string {
    return eventsUrl(this._requester.baseUrl, parent, this._requester.token);
  }

  private _v1(path: string): string {
    return `${API_PREFIX}/v1/${encodeResourcePath(path)}`;
  }

  private async _json<T>(
    method: string,
    path: string,
    body?: unknown
  ): Promise<T> {
    const url = joinUrl(this._requester.baseUrl, path);
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await this._requester.fetch(url, init);
    } catch (reason) {
      throw ApiError.network(reason);
    }
    if (!response.ok) {
      throw await ApiError.fromResponse(response);
    }
    const text = await response.text();
    if (!text) {
      return {} as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(
        `The server sent a reply that is not JSON (HTTP ${response.status})`,
        response.status,
        'INTERNAL'
      );
    }
  }

  private _requester: IRequester;
}

/** The id part of a resource name (`.../sessions/{id}` → `{id}`). */
export function resourceId(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash >= 0 ? name.slice(slash + 1) : name;
}

/** `projects/P/locations/L/sessionTemplates/T` for a parent and a template id. */
export function templateName(parent: string, templateId: string): string {
  return `${parent}/sessionTemplates/${templateId}`;
}
