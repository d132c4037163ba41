import type { IOperationView } from '../model';
import {
  CONFIG,
  FakeEventSource,
  FakeServer,
  PARENT,
  doneOperation,
  fakeModel,
  flush,
  makeSession
} from './fakes';

const OP = 'projects/demo/regions/local/operations/op-1';
const terminated = makeSession('alpha', 'TERMINATED');

function setup(configure?: (server: FakeServer) => void) {
  const finished: IOperationView[] = [];
  const { server, model } = fakeModel(
    s => {
      s.on('GET', /\/sessions\?/, { body: { sessions: [] } });
      configure?.(s);
    },
    {
      pollIntervalMs: 10000,
      operationPollMs: 10,
      onOperationFinished: op => finished.push(op)
    }
  );
  return { server, model, finished };
}

async function started(configure?: (server: FakeServer) => void) {
  const ctx = setup(configure);
  ctx.model.start();
  await flush(10);
  return ctx;
}

describe('SessionsModel: live list', () => {
  afterEach(() => jest.useRealTimers());

  it('tells the server when the visible panel is in use, at most every 30 s', async () => {
    const { model, server } = await started(s =>
      s.on('POST', /^jupyter-sessions\/events\?/, { body: {} })
    );
    const notes = () =>
      server.requestsTo('POST', /^jupyter-sessions\/events\?/);
    model.noteActivity();
    expect(notes()).toHaveLength(0); // hidden: nobody is looking
    model.setVisible(true);
    await flush(5);
    expect(notes()).toHaveLength(1);
    expect(notes()[0].url).toContain(
      'parent=projects%2Fdemo%2Flocations%2Flocal'
    );
    model.noteActivity();
    model.noteActivity();
    expect(notes()).toHaveLength(1);
    const later = Date.now() + 31000;
    jest.spyOn(Date, 'now').mockReturnValue(later);
    model.noteActivity();
    await flush(5);
    expect(notes()).toHaveLength(2);
    model.setVisible(false);
    jest.spyOn(Date, 'now').mockReturnValue(later + 60000);
    model.noteActivity();
    expect(notes()).toHaveLength(2);
    jest.restoreAllMocks();
    model.dispose();
  });

  it('loads the config, then follows the stream of its parent', async () => {
    const { model } = await started();
    expect(model.parent).toBe(PARENT);
    expect(FakeEventSource.last.url).toBe(
      'http://localhost:8888/lab-base/jupyter-sessions/events?parent=projects%2Fdemo%2Flocations%2Flocal'
    );
    FakeEventSource.last.emit('snapshot', {
      sessions: [makeSession('a', 'CREATING')]
    });
    expect(model.getSnapshot().state.connection).toBe('live');
    FakeEventSource.last.emit('session', makeSession('a', 'ACTIVE'));
    expect(model.session(`${PARENT}/sessions/a`)?.state).toBe('ACTIVE');
    FakeEventSource.last.emit('removed', { name: `${PARENT}/sessions/a` });
    expect(model.session(`${PARENT}/sessions/a`)).toBeUndefined();
    model.dispose();
  });

  it('keeps a deleted session deleted against replayed states, but lets a new one of its name in', async () => {
    const { model } = await started();
    const name = `${PARENT}/sessions/a`;
    const old = { ...makeSession('a', 'TERMINATED'), uuid: 'old-uuid' };
    FakeEventSource.last.emit('snapshot', { sessions: [old] });
    FakeEventSource.last.emit('removed', { name });
    expect(model.session(name)).toBeUndefined();
    // Its history replayed by a late look: CREATING ... TERMINATED of the same session.
    for (const state of ['CREATING', 'ACTIVE', 'TERMINATED'] as const) {
      FakeEventSource.last.emit('session', { ...old, state });
      expect(model.session(name)).toBeUndefined();
    }
    FakeEventSource.last.emit('snapshot', { sessions: [old] });
    expect(model.session(name)).toBeUndefined();
    const reborn = { ...makeSession('a', 'CREATING'), uuid: 'new-uuid' };
    FakeEventSource.last.emit('session', reborn);
    expect(model.session(name)?.uuid).toBe('new-uuid');
    model.dispose();
  });

  it('retries the config with a readable error while the server extension is missing', async () => {
    jest.useFakeTimers();
    const { model, server } = setup(s =>
      s.on('GET', /^jupyter-sessions\/config$/, {
        status: 404,
        text: 'Not Found'
      })
    );
    model.start();
    await flush(10);
    expect(model.getSnapshot().configError).toMatch(
      /server extension enabled.*retrying in 2s/
    );
    server.on('GET', /^jupyter-sessions\/config$/, { body: CONFIG });
    jest.advanceTimersByTime(2000);
    await flush(10);
    expect(model.getSnapshot().configError).toBeNull();
    expect(model.parent).toBe(PARENT);
    model.dispose();
  });

  it('polls while the stream is down and the panel is visible, and pauses while hidden', async () => {
    jest.useFakeTimers();
    const { model, server } = setup(s =>
      s.on('GET', /\/sessions\?/, {
        body: { sessions: [makeSession('polled', 'ACTIVE')] }
      })
    );
    model.start();
    await flush(10);
    model.setVisible(true);
    FakeEventSource.last.fail();
    jest.advanceTimersByTime(0);
    await flush(10);
    const polls = () => server.requestsTo('GET', /\/sessions\?/).length;
    const first = polls();
    expect(first).toBeGreaterThanOrEqual(1);
    expect(model.session(`${PARENT}/sessions/polled`)?.state).toBe('ACTIVE');
    expect(model.getSnapshot().state.connection).toBe('disconnected');

    model.setVisible(false);
    // Keep the stream failing so only the poll could fetch.
    for (let i = 0; i < 6; i++) {
      jest.advanceTimersByTime(10000);
      FakeEventSource.last.fail();
      await flush(10);
    }
    expect(polls()).toBe(first);

    model.setVisible(true);
    jest.advanceTimersByTime(0);
    await flush(10);
    expect(polls()).toBe(first + 1);

    // Once the stream is back, polling stops.
    jest.advanceTimersByTime(30000);
    FakeEventSource.last.emit('snapshot', { sessions: [] });
    const live = polls();
    jest.advanceTimersByTime(60000);
    await flush(10);
    expect(polls()).toBe(live);
    model.dispose();
  });
});

describe('SessionsModel: operations report their real outcome', () => {
  it('create: accepted, then ACTIVE once the operation is done', async () => {
    let polls = 0;
    const { model, server, finished } = await started(s => {
      s.on('POST', /\/sessions\?sessionId=alpha/, {
        body: { name: OP, metadata: { operationType: 'CREATE' } }
      });
      s.on('GET', /operations\/op-1$/, () => {
        polls++;
        return polls < 2
          ? { body: { name: OP } }
          : doneOperation(OP, {
              '@type': 'x',
              ...makeSession('alpha', 'ACTIVE')
            });
      });
    });
    const pending = model.create('alpha', {
      jupyterSession: { kernel: 'PYTHON' }
    });
    await flush();
    expect(model.getSnapshot().operations[0].phase).not.toBe('succeeded');
    const result = await pending;
    expect(result.phase).toBe('succeeded');
    expect(result.message).toBe('alpha is ACTIVE');
    expect(model.session(`${PARENT}/sessions/alpha`)?.state).toBe('ACTIVE');
    expect(server.requestsTo('POST', /sessions\?/)[0].body).toEqual({
      jupyterSession: { kernel: 'PYTHON' }
    });
    expect(finished.map(f => f.phase)).toEqual(['succeeded']);
    model.dispose();
  });

  it('create: a duplicate id shows the server message', async () => {
    const { model } = await started(s =>
      s.on('POST', /\/sessions\?sessionId=/, {
        status: 409,
        body: {
          error: {
            code: 409,
            message: 'Session alpha already exists',
            status: 'ALREADY_EXISTS'
          }
        }
      })
    );
    const result = await model.create('alpha', {});
    expect(result.phase).toBe('failed');
    expect(result.errorStatus).toBe('ALREADY_EXISTS');
    expect(result.message).toBe(
      'Cannot create alpha: Session alpha already exists'
    );
    model.dispose();
  });

  it('create: an operation that ends with an error is a failure, not "done"', async () => {
    const { model } = await started(s => {
      s.on('POST', /\/sessions\?sessionId=/, { body: { name: OP } });
      s.on('GET', /operations/, {
        body: {
          name: OP,
          done: true,
          error: { code: 9, message: 'kernel did not start' }
        }
      });
    });
    const result = await model.create('alpha', {});
    expect(result.phase).toBe('failed');
    expect(result.message).toBe('Creating alpha failed: kernel did not start');
    model.dispose();
  });

  it('create: gives up waiting after the bound and says it is still running', async () => {
    const { model } = fakeModel(
      s => {
        s.on('POST', /\/sessions\?sessionId=/, { body: { name: OP } });
        s.on('GET', /operations/, { body: { name: OP } });
      },
      { createTimeoutMs: 30, operationPollMs: 10 }
    );
    model.start();
    await flush(10);
    FakeEventSource.last.emit('snapshot', {
      sessions: [makeSession('alpha', 'CREATING')]
    });
    const result = await model.create('alpha', {});
    expect(result.phase).toBe('timeout');
    expect(result.message).toMatch(
      /^alpha is still CREATING: not finished after 0s; the operation continues on the server$/
    );
    model.dispose();
  });

  it('terminate: succeeds with the TERMINATED snapshot', async () => {
    const { model, server } = await started(s => {
      s.on('POST', /:terminate$/, { body: { name: OP } });
      s.on('GET', /operations/, doneOperation(OP, terminated));
    });
    FakeEventSource.last.emit('snapshot', {
      sessions: [makeSession('alpha', 'ACTIVE')]
    });
    const result = await model.terminate(`${PARENT}/sessions/alpha`);
    expect(result.phase).toBe('succeeded');
    expect(result.message).toBe('Terminated alpha');
    expect(server.requestsTo('POST', /:terminate$/)[0].body).toEqual({
      requestId: expect.any(String)
    });
    expect(model.session(`${PARENT}/sessions/alpha`)?.state).toBe('TERMINATED');
    model.dispose();
  });

  it('terminate: refused locally while CREATING, and the server message when the server refuses', async () => {
    const { model, server } = await started(s =>
      s.on('POST', /:terminate$/, {
        status: 400,
        body: {
          error: {
            code: 400,
            message: 'Session beta is already terminated',
            status: 'FAILED_PRECONDITION'
          }
        }
      })
    );
    FakeEventSource.last.emit('snapshot', {
      sessions: [makeSession('alpha', 'CREATING')]
    });
    const local = await model.terminate(`${PARENT}/sessions/alpha`);
    expect(local.phase).toBe('failed');
    expect(server.requestsTo('POST', /:terminate$/)).toHaveLength(0);
    const remote = await model.terminate(`${PARENT}/sessions/beta`);
    expect(remote.message).toBe(
      'Cannot terminate beta: Session beta is already terminated'
    );
    model.dispose();
  });

  it('delete: removes the session only once the operation is done', async () => {
    let polls = 0;
    const { model } = await started(s => {
      s.on('DELETE', /sessions\/alpha\?requestId=/, { body: { name: OP } });
      s.on('GET', /operations/, () => {
        polls++;
        return polls < 3
          ? { body: { name: OP } }
          : doneOperation(OP, terminated);
      });
    });
    FakeEventSource.last.emit('snapshot', {
      sessions: [makeSession('alpha', 'ACTIVE')]
    });
    const pending = model.delete(`${PARENT}/sessions/alpha`);
    await flush();
    expect(model.session(`${PARENT}/sessions/alpha`)).toBeDefined();
    expect(model.pending(`${PARENT}/sessions/alpha`)?.kind).toBe('delete');
    const result = await pending;
    expect(result.phase).toBe('succeeded');
    expect(result.message).toBe('Deleted alpha');
    expect(model.session(`${PARENT}/sessions/alpha`)).toBeUndefined();
    expect(model.pending(`${PARENT}/sessions/alpha`)).toBeUndefined();
    model.dispose();
  });
});
