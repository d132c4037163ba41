import {
  ISessionsState,
  SessionsAction,
  canDelete,
  canTerminate,
  countByState,
  initialState,
  isStale,
  matchesFilter,
  reduce,
  statusLine,
  visibleSessions
} from '../state';
import { PARENT, makeSession } from './fakes';

const apply = (
  actions: SessionsAction[],
  state: ISessionsState = initialState
) => actions.reduce(reduce, state);

const ids = (state: ISessionsState) =>
  Object.keys(state.sessions)
    .map(name => name.slice(name.lastIndexOf('/') + 1))
    .sort();

describe('reduce', () => {
  it('replaces everything on a snapshot and goes live', () => {
    const before = apply([
      { type: 'session', session: makeSession('old', 'ACTIVE'), at: 1 }
    ]);
    const after = reduce(before, {
      type: 'snapshot',
      sessions: [makeSession('a', 'ACTIVE'), makeSession('b', 'CREATING')],
      at: 2
    });
    expect(ids(after)).toEqual(['a', 'b']);
    expect(after.loaded).toBe(true);
    expect(after.connection).toBe('live');
    expect(after.lastUpdate).toBe(2);
  });

  it('adds a new session and updates a changed one', () => {
    const state = apply([
      { type: 'snapshot', sessions: [makeSession('a', 'CREATING')], at: 1 },
      { type: 'session', session: makeSession('a', 'ACTIVE'), at: 2 },
      { type: 'session', session: makeSession('b', 'CREATING'), at: 3 }
    ]);
    expect(state.sessions[`${PARENT}/sessions/a`].state).toBe('ACTIVE');
    expect(state.sessions[`${PARENT}/sessions/b`].state).toBe('CREATING');
  });

  it('ignores an update older than what it has (late poll vs stream)', () => {
    const state = apply([
      { type: 'snapshot', sessions: [makeSession('a', 'TERMINATING')], at: 1 },
      { type: 'session', session: makeSession('a', 'ACTIVE'), at: 2 }
    ]);
    expect(state.sessions[`${PARENT}/sessions/a`].state).toBe('TERMINATING');
  });

  it('accepts a session that reuses a name with a new uuid', () => {
    const old = makeSession('a', 'TERMINATED');
    const fresh = { ...makeSession('a', 'CREATING'), uuid: 'another' };
    expect(isStale(old, fresh)).toBe(false);
  });

  it('removes a session', () => {
    const state = apply([
      {
        type: 'snapshot',
        sessions: [makeSession('a', 'ACTIVE'), makeSession('b', 'ACTIVE')],
        at: 1
      },
      { type: 'removed', name: `${PARENT}/sessions/a`, at: 2 },
      { type: 'removed', name: `${PARENT}/sessions/unknown`, at: 3 }
    ]);
    expect(ids(state)).toEqual(['b']);
  });

  it('records backend status', () => {
    const down = reduce(initialState, {
      type: 'status',
      status: {
        reachable: false,
        lastPoll: '2025-01-01T10:00:00Z',
        message: 'connection refused'
      }
    });
    expect(down.backend).toEqual({
      reachable: false,
      lastPoll: '2025-01-01T10:00:00Z',
      message: 'connection refused'
    });
    const up = reduce(down, { type: 'status', status: { reachable: true } });
    expect(up.backend).toEqual({
      reachable: true,
      lastPoll: '2025-01-01T10:00:00Z',
      message: undefined
    });
  });

  it('tracks the connection and poll results', () => {
    const down = apply([
      { type: 'snapshot', sessions: [], at: 1 },
      {
        type: 'connection',
        connection: 'disconnected',
        error: 'cannot open',
        reconnectAt: 5000
      }
    ]);
    expect(down.connection).toBe('disconnected');
    expect(down.connectionError).toBe('cannot open');
    const polled = reduce(down, {
      type: 'polled',
      sessions: [makeSession('p', 'ACTIVE')],
      at: 9
    });
    expect(ids(polled)).toEqual(['p']);
    expect(polled.connection).toBe('disconnected');
    const failed = reduce(polled, {
      type: 'poll-failed',
      message: 'Cannot reach the Jupyter server'
    });
    expect(failed.connectionError).toBe('Cannot reach the Jupyter server');
  });

  it('ignores malformed sessions', () => {
    const state = reduce(initialState, {
      type: 'session',
      session: { name: undefined } as unknown as ReturnType<typeof makeSession>,
      at: 1
    });
    expect(state).toBe(initialState);
  });
});

describe('filtering', () => {
  const sessions = [
    makeSession('etl-nightly', 'ACTIVE', {
      labels: { team: 'data' },
      createTime: '2025-01-03T00:00:00Z'
    }),
    makeSession('scratch', 'TERMINATED', {
      creator: 'bob@example.com',
      createTime: '2025-01-02T00:00:00Z'
    }),
    makeSession('boot', 'CREATING', { createTime: '2025-01-04T00:00:00Z' }),
    makeSession('broken', 'FAILED', { createTime: '2025-01-01T00:00:00Z' })
  ];
  const state = reduce(initialState, { type: 'snapshot', sessions, at: 0 });

  it('matches every word against id, state, creator and labels', () => {
    expect(matchesFilter(sessions[0], 'team=data', 'all')).toBe(true);
    expect(matchesFilter(sessions[0], 'etl active', 'all')).toBe(true);
    expect(matchesFilter(sessions[0], 'etl bob', 'all')).toBe(false);
    expect(matchesFilter(sessions[1], 'BOB', 'all')).toBe(true);
  });

  it('filters by state and by live states, newest first', () => {
    const names = (list: typeof sessions) =>
      list.map(s => s.name.slice(s.name.lastIndexOf('/') + 1));
    expect(names(visibleSessions(state, '', 'all'))).toEqual([
      'boot',
      'etl-nightly',
      'scratch',
      'broken'
    ]);
    expect(names(visibleSessions(state, '', 'live'))).toEqual([
      'boot',
      'etl-nightly'
    ]);
    expect(names(visibleSessions(state, '', 'FAILED'))).toEqual(['broken']);
  });

  it('counts per state', () => {
    expect(countByState(state)).toMatchObject({
      ACTIVE: 1,
      TERMINATED: 1,
      CREATING: 1,
      FAILED: 1,
      TERMINATING: 0
    });
  });
});

describe('statusLine', () => {
  const now = 100000;

  it('is silent while live and reachable', () => {
    expect(
      statusLine(
        reduce(initialState, { type: 'snapshot', sessions: [], at: now }),
        now
      )
    ).toBeNull();
  });

  it('says the stream is down, when it retries and when data last came', () => {
    const state = apply([
      { type: 'snapshot', sessions: [], at: now - 30000 },
      {
        type: 'connection',
        connection: 'disconnected',
        error: 'cannot open the event stream',
        reconnectAt: now + 4000
      }
    ]);
    expect(statusLine(state, now)).toBe(
      'Live updates disconnected: cannot open the event stream · retrying in 4s · last update 30s ago'
    );
  });

  it('says the backend is unreachable with the server message', () => {
    const state = apply([
      { type: 'snapshot', sessions: [], at: now },
      {
        type: 'status',
        status: {
          reachable: false,
          message: 'connection refused',
          lastPoll: new Date(now - 180000).toISOString()
        }
      }
    ]);
    expect(statusLine(state, now)).toBe(
      'Backend unreachable: connection refused · last successful poll 3m ago'
    );
  });
});

describe('what the API would refuse', () => {
  it.each([
    ['CREATING', false, false],
    ['ACTIVE', true, true],
    ['TERMINATING', false, true],
    ['TERMINATED', false, true],
    ['FAILED', false, true]
  ] as const)('%s: terminate %s, delete %s', (state, terminate, del) => {
    expect(canTerminate(state)).toBe(terminate);
    expect(canDelete(state)).toBe(del);
  });
});
