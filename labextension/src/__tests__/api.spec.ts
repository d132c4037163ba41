import {
  ApiError,
  SessionsApi,
  WaitTimeoutError,
  encodeResourcePath,
  eventsUrl,
  joinUrl,
  newRequestId,
  resourceId
} from '../api';
import type { IOperation } from '../types';
import { FakeServer, PARENT, makeSession } from './fakes';

const NAME = `${PARENT}/sessions/alpha`;
const OP = 'projects/demo/regions/local/operations/op-1';

describe('SessionsApi requests', () => {
  let server: FakeServer;
  let api: SessionsApi;

  beforeEach(() => {
    server = new FakeServer();
    api = new SessionsApi(server);
  });

  it('reads the configuration from jupyter-sessions/config', async () => {
    server.on('GET', /^jupyter-sessions\/config$/, {
      body: {
        backend: 'local',
        parent: PARENT,
        project: 'demo',
        location: 'local',
        endpoint: '',
        user: 'u'
      }
    });
    const config = await api.getConfig();
    expect(config.parent).toBe(PARENT);
    expect(server.requests[0].url).toBe(
      'http://localhost:8888/lab-base/jupyter-sessions/config'
    );
  });

  it('lists one page with pageSize, pageToken and filter in the query', async () => {
    server.on('GET', /sessions\?/, {
      body: { sessions: [makeSession('alpha', 'ACTIVE')], nextPageToken: 't2' }
    });
    const page = await api.listSessions(PARENT, {
      pageSize: 5,
      pageToken: 't1',
      filter: 'state = ACTIVE'
    });
    expect(page.sessions).toHaveLength(1);
    expect(page.nextPageToken).toBe('t2');
    expect(server.requests[0].method).toBe('GET');
    expect(server.requests[0].path).toBe(
      'jupyter-sessions/v1/projects/demo/locations/local/sessions?pageSize=5&pageToken=t1&filter=state%20%3D%20ACTIVE'
    );
  });

  it('follows page tokens to list every session', async () => {
    server.on('GET', /sessions\?/, request =>
      request.path.includes('pageToken=p2')
        ? { body: { sessions: [makeSession('b', 'ACTIVE')] } }
        : {
            body: {
              sessions: [makeSession('a', 'ACTIVE')],
              nextPageToken: 'p2'
            }
          }
    );
    const all = await api.listAllSessions(PARENT);
    expect(all.map(s => resourceId(s.name))).toEqual(['a', 'b']);
    expect(server.requests).toHaveLength(2);
  });

  it('treats an empty list reply ({}) as no sessions', async () => {
    server.on('GET', /sessions\?/, { body: {} });
    expect(await api.listAllSessions(PARENT)).toEqual([]);
  });

  it('gets a session by name', async () => {
    server.on('GET', /sessions\/alpha$/, {
      body: makeSession('alpha', 'ACTIVE')
    });
    const session = await api.getSession(NAME);
    expect(session.state).toBe('ACTIVE');
    expect(server.requests[0].path).toBe(
      'jupyter-sessions/v1/projects/demo/locations/local/sessions/alpha'
    );
  });

  it('creates with sessionId and requestId in the query and the session as JSON body', async () => {
    server.on('POST', /sessions\?sessionId=/, {
      body: { name: OP, metadata: { operationType: 'CREATE' } }
    });
    const op = await api.createSession(
      PARENT,
      'alpha',
      { jupyterSession: { kernel: 'PYTHON' } },
      'req-1'
    );
    expect(op.name).toBe(OP);
    const request = server.requests[0];
    expect(request.method).toBe('POST');
    expect(request.path).toBe(
      'jupyter-sessions/v1/projects/demo/locations/local/sessions?sessionId=alpha&requestId=req-1'
    );
    expect(request.body).toEqual({ jupyterSession: { kernel: 'PYTHON' } });
    expect(request.headers['Content-Type']).toBe('application/json');
  });

  it('terminates with POST {name}:terminate and a requestId body', async () => {
    server.on('POST', /:terminate$/, { body: { name: OP } });
    await api.terminateSession(NAME, 'req-2');
    expect(server.requests[0].path).toBe(
      'jupyter-sessions/v1/projects/demo/locations/local/sessions/alpha:terminate'
    );
    expect(server.requests[0].body).toEqual({ requestId: 'req-2' });
  });

  it('deletes with DELETE {name}?requestId= and no body', async () => {
    server.on('DELETE', /sessions\/alpha\?/, { body: { name: OP } });
    await api.deleteSession(NAME, 'req-3');
    expect(server.requests[0].method).toBe('DELETE');
    expect(server.requests[0].path).toBe(
      'jupyter-sessions/v1/projects/demo/locations/local/sessions/alpha?requestId=req-3'
    );
    expect(server.requests[0].body).toBeUndefined();
  });

  it('generates a valid requestId when none is given', async () => {
    server.on('DELETE', /sessions\/alpha\?/, { body: { name: OP } });
    await api.deleteSession(NAME);
    const id =
      new URL(server.requests[0].url).searchParams.get('requestId') ?? '';
    expect(id).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
  });

  it('lists session templates across pages', async () => {
    server.on('GET', /sessionTemplates/, request =>
      request.path.includes('pageToken=n')
        ? {
            body: {
              sessionTemplates: [{ name: `${PARENT}/sessionTemplates/t2` }]
            }
          }
        : {
            body: {
              sessionTemplates: [{ name: `${PARENT}/sessionTemplates/t1` }],
              nextPageToken: 'n'
            }
          }
    );
    const templates = await api.listSessionTemplates(PARENT);
    expect(templates.map(t => resourceId(t.name))).toEqual(['t1', 't2']);
    expect(server.requests[0].path).toMatch(
      /^jupyter-sessions\/v1\/projects\/demo\/locations\/local\/sessionTemplates\?pageSize=/
    );
  });

  it('gets an operation by its regions name', async () => {
    server.on('GET', /operations\/op-1$/, { body: { name: OP, done: true } });
    const op = await api.getOperation(OP);
    expect(op.done).toBe(true);
    expect(server.requests[0].path).toBe(
      'jupyter-sessions/v1/projects/demo/regions/local/operations/op-1'
    );
  });
});

describe('SessionsApi errors', () => {
  let server: FakeServer;
  let api: SessionsApi;

  beforeEach(() => {
    server = new FakeServer();
    api = new SessionsApi(server);
  });

  it.each([
    [409, 'ABORTED', 'Session alpha is still being created'],
    [400, 'FAILED_PRECONDITION', 'Session alpha is already terminated'],
    [409, 'ALREADY_EXISTS', 'Session alpha already exists'],
    [404, 'NOT_FOUND', `Not found: Session ${NAME}`],
    [400, 'INVALID_ARGUMENT', 'sessionId must match ^[a-z]...']
  ])(
    'maps an HTTP %i %s envelope to its message',
    async (code, status, message) => {
      server.on('POST', /:terminate$/, {
        status: code,
        body: { error: { code, message, status } }
      });
      const error = await api.terminateSession(NAME).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      const apiError = error as ApiError;
      expect(apiError.message).toBe(message);
      expect(apiError.status).toBe(status);
      expect(apiError.httpStatus).toBe(code);
    }
  );

  it('explains a 404 without an envelope as a missing server extension', async () => {
    server.on('GET', /config$/, {
      status: 404,
      text: '<html><title>404: Not Found</title></html>'
    });
    await expect(api.getConfig()).rejects.toThrow(/server extension enabled/);
  });

  it('explains 403 without an envelope as an authorization problem', async () => {
    server.on('GET', /config$/, { status: 403, text: 'Forbidden' });
    await expect(api.getConfig()).rejects.toThrow(/Not authorized/);
  });

  it('keeps a short plain-text reason for other statuses', async () => {
    server.on('GET', /config$/, {
      status: 502,
      statusText: 'Bad Gateway',
      text: '<html><body><h1>upstream down</h1></body></html>'
    });
    const error = (await api.getConfig().catch((e: unknown) => e)) as ApiError;
    expect(error.message).toBe('HTTP 502 Bad Gateway: upstream down');
    expect(error.status).toBe('INTERNAL');
    expect(error.isUnreachable).toBe(true);
  });

  it('turns a network failure into an UNAVAILABLE error with status 0', async () => {
    server.offline = true;
    const error = (await api.getConfig().catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.httpStatus).toBe(0);
    expect(error.status).toBe('UNAVAILABLE');
    expect(error.message).toBe(
      'Cannot reach the Jupyter server: Failed to fetch'
    );
  });

  it('reports a reply that is not JSON', async () => {
    server.on('GET', /config$/, { status: 200, text: 'not json' });
    await expect(api.getConfig()).rejects.toThrow(/not JSON/);
  });

  it('maps an operation rpc status (numeric code) to a readable error', () => {
    const error = ApiError.fromRpcStatus({
      code: 9,
      message: 'Runtime failed to start'
    });
    expect(error.status).toBe('FAILED_PRECONDITION');
    expect(error.message).toBe('Runtime failed to start');
  });
});

describe('waitOperation', () => {
  it('polls until done with growing delays, reporting progress', async () => {
    const server = new FakeServer();
    const api = new SessionsApi(server);
    let calls = 0;
    server.on('GET', /operations\/op-1$/, () => {
      calls++;
      return calls < 3
        ? { body: { name: OP } }
        : {
            body: {
              name: OP,
              done: true,
              response: makeSession('alpha', 'ACTIVE')
            }
          };
    });
    const sleeps: number[] = [];
    const progress: IOperation[] = [];
    const done = await api.waitOperation(
      { name: OP },
      {
        intervalMs: 100,
        maxIntervalMs: 200,
        sleep: ms => {
          sleeps.push(ms);
          return Promise.resolve();
        },
        onProgress: op => progress.push(op)
      }
    );
    expect(done.done).toBe(true);
    expect(done.response?.state).toBe('ACTIVE');
    expect(sleeps).toEqual([100, 150, 200]);
    expect(progress).toHaveLength(2);
  });

  it('returns an operation that finished with an error (does not throw)', async () => {
    const server = new FakeServer();
    server.on('GET', /operations/, {
      body: { name: OP, done: true, error: { code: 13, message: 'boom' } }
    });
    const done = await new SessionsApi(server).waitOperation(
      { name: OP },
      { sleep: () => Promise.resolve() }
    );
    expect(done.error?.message).toBe('boom');
  });

  it('gives up after the bound with a WaitTimeoutError, never claiming done', async () => {
    const server = new FakeServer();
    server.on('GET', /operations/, { body: { name: OP } });
    let clock = 0;
    const wait = new SessionsApi(server).waitOperation(
      { name: OP },
      {
        timeoutMs: 1000,
        intervalMs: 400,
        now: () => clock,
        sleep: ms => {
          clock += ms;
          return Promise.resolve();
        }
      }
    );
    await expect(wait).rejects.toBeInstanceOf(WaitTimeoutError);
    await expect(wait).rejects.toThrow(/continues on the server/);
  });

  it('does not poll an operation that is already done', async () => {
    const server = new FakeServer();
    const done = await new SessionsApi(server).waitOperation({
      name: OP,
      done: true
    });
    expect(done.done).toBe(true);
    expect(server.requests).toHaveLength(0);
  });
});

describe('URL helpers', () => {
  it('builds the events URL with the parent and, when there is one, the token', () => {
    expect(eventsUrl('http://h/base/', PARENT)).toBe(
      'http://h/base/jupyter-sessions/events?parent=projects%2Fdemo%2Flocations%2Flocal'
    );
    expect(eventsUrl('/base', PARENT, 'secret tok')).toBe(
      '/base/jupyter-sessions/events?parent=projects%2Fdemo%2Flocations%2Flocal&token=secret%20tok'
    );
  });

  it('uses the requester token for the stream URL', () => {
    const server = new FakeServer();
    server.token = 'abc';
    expect(new SessionsApi(server).eventsUrl(PARENT)).toMatch(/&token=abc$/);
  });

  it('joins and encodes paths', () => {
    expect(joinUrl('http://h/', '/x')).toBe('http://h/x');
    expect(joinUrl('http://h', 'x')).toBe('http://h/x');
    expect(encodeResourcePath('projects/my proj/locations/l')).toBe(
      'projects/my%20proj/locations/l'
    );
    expect(resourceId(NAME)).toBe('alpha');
  });

  it('makes request ids that the API accepts', () => {
    for (let i = 0; i < 20; i++) {
      expect(newRequestId()).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    }
  });
});
