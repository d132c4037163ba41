/**
 * Test doubles at the edge: the HTTP transport and the browser's EventSource.
 */

import { IRequester, SessionsApi } from '../api';
import type { IEventSourceLike } from '../events';
import { IOperationView, ISessionsModelOptions, SessionsModel } from '../model';
import type { ISessionSpec } from '../sessionKernels';
import type { ISession, SessionState } from '../types';

export interface IRecordedRequest {
  method: string;
  url: string;
  /** Path and query after the base URL. */
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

export interface IFakeReply {
  status?: number;
  statusText?: string;
  body?: unknown;
  /** Raw text body (wins over `body`). */
  text?: string;
}

export type Handler = (
  request: IRecordedRequest
) => IFakeReply | Promise<IFakeReply>;

/** A response object with what the wrapper reads. */
export function fakeResponse(reply: IFakeReply): Response {
  const status = reply.status ?? 200;
  const text =
    reply.text !== undefined
      ? reply.text
      : reply.body === undefined
        ? ''
        : JSON.stringify(reply.body);
  const response = {
    ok: status >= 200 && status < 300,
    status,
    statusText: reply.statusText ?? '',
    text: () => Promise.resolve(text)
  };
  return response as unknown as Response;
}

/** A scripted Jupyter server: routes `METHOD path` (regex on the path) to handlers. */
export class FakeServer implements IRequester {
  readonly baseUrl = 'http://localhost:8888/lab-base/';
  token?: string;
  requests: IRecordedRequest[] = [];
  private routes: { method: string; pattern: RegExp; handler: Handler }[] = [];
  /** When set, every request rejects as a network failure. */
  offline = false;

  on(method: string, pattern: RegExp, handler: Handler | IFakeReply): this {
    this.routes.unshift({
      method,
      pattern,
      handler: typeof handler === 'function' ? handler : () => handler
    });
    return this;
  }

  fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const method = (init.method ?? 'GET').toUpperCase();
    const path = url.startsWith(this.baseUrl)
      ? url.slice(this.baseUrl.length)
      : url;
    const headers: Record<string, string> = {};
    if (
      init.headers &&
      typeof init.headers === 'object' &&
      !Array.isArray(init.headers)
    ) {
      Object.assign(headers, init.headers as Record<string, string>);
    }
    const request: IRecordedRequest = {
      method,
      url,
      path,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      headers
    };
    this.requests.push(request);
    if (this.offline) {
      throw new TypeError('Failed to fetch');
    }
    const route = this.routes.find(
      r => r.method === method && r.pattern.test(path)
    );
    if (!route) {
      return fakeResponse({
        status: 404,
        body: {
          error: {
            code: 404,
            message: `No route for ${method} ${path}`,
            status: 'NOT_FOUND'
          }
        }
      });
    }
    return fakeResponse(await route.handler(request));
  };

  requestsTo(method: string, pattern: RegExp): IRecordedRequest[] {
    return this.requests.filter(
      r => r.method === method && pattern.test(r.path)
    );
  }
}

/** A controllable EventSource. */
export class FakeEventSource implements IEventSourceLike {
  static instances: FakeEventSource[] = [];
  static factory = (url: string): FakeEventSource => new FakeEventSource(url);
  static reset(): void {
    FakeEventSource.instances = [];
  }
  static get last(): FakeEventSource {
    return FakeEventSource.instances[FakeEventSource.instances.length - 1];
  }

  readonly url: string;
  closed = false;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  private listeners = new Map<string, ((event: MessageEvent) => void)[]>();

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }

  addEventListener(
    type: string,
    listener: (event: MessageEvent) => void
  ): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  close(): void {
    this.closed = true;
  }

  open(): void {
    this.onopen?.({} as Event);
  }

  emit(type: string, data: unknown): void {
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    for (const listener of this.listeners.get(type) ?? []) {
      listener({ data: text } as MessageEvent);
    }
  }

  fail(): void {
    this.onerror?.({} as Event);
  }
}

export const PARENT = 'projects/demo/locations/local';

/** A session in a state, with a plausible history. */
export function makeSession(
  id: string,
  state: SessionState,
  extra: Partial<ISession> = {}
): ISession {
  const order: SessionState[] = [
    'CREATING',
    'ACTIVE',
    'TERMINATING',
    'TERMINATED'
  ];
  let history: SessionState[] = [];
  if (state === 'FAILED') {
    history = ['CREATING'];
  } else {
    const index = order.indexOf(state);
    history = index > 0 ? order.slice(0, index) : [];
  }
  return {
    name: `${PARENT}/sessions/${id}`,
    uuid: `uuid-${id}`,
    createTime: '2025-01-01T10:00:00Z',
    state,
    stateTime: `2025-01-01T10:0${history.length}:00Z`,
    creator: 'alice@example.com',
    jupyterSession: { kernel: 'PYTHON' },
    stateHistory: history.length
      ? history.map((s, i) => ({
          state: s,
          stateStartTime: `2025-01-01T10:0${i}:00Z`
        }))
      : undefined,
    ...extra
  };
}

export const CONFIG = {
  backend: 'local' as const,
  endpoint: 'http://127.0.0.1:41234',
  project: 'demo',
  location: 'local',
  parent: PARENT,
  user: 'alice@example.com'
};

/** Let pending promise callbacks run. */
export async function flush(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) {
    await Promise.resolve();
  }
}

/** A fake server that answers the config route, plus the routes `configure` adds. */
export function configuredServer(
  configure?: (server: FakeServer) => void
): FakeServer {
  const server = new FakeServer();
  server.on('GET', /config$/, { body: CONFIG });
  configure?.(server);
  return server;
}

/** A sessions model (not started) on a configured fake server and a fresh FakeEventSource. */
export function fakeModel(
  configure?: (server: FakeServer) => void,
  options: Partial<ISessionsModelOptions> = {}
): { server: FakeServer; model: SessionsModel } {
  FakeEventSource.reset();
  const server = configuredServer(configure);
  const model = new SessionsModel({
    api: new SessionsApi(server),
    eventSourceFactory: FakeEventSource.factory,
    ...options
  });
  return { server, model };
}

/** The reply to an operation poll: done, with this session as its response. */
export function doneOperation(
  name: string,
  response: ISession & { '@type'?: string }
): IFakeReply {
  return { body: { name, done: true, response } };
}

/** A create the server refused because the id is taken. */
export function refusedCreate(sessionId: string): IOperationView {
  return {
    id: 'op-1',
    kind: 'create',
    sessionName: `${PARENT}/sessions/${sessionId}`,
    sessionId,
    phase: 'failed',
    message: `Cannot create ${sessionId}: Session ${sessionId} already exists`,
    errorStatus: 'ALREADY_EXISTS',
    startedAt: 0
  };
}

/** The kernelspec of a plain Python session, as the launcher and toolbar see it. */
export const PLAIN_SPEC: ISessionSpec = {
  name: 'session',
  displayName: 'Python on a new session',
  description: '',
  language: 'python',
  template: '',
  parent: PARENT
};
