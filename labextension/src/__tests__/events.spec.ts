import {
  EventStream,
  SessionEvent,
  StreamState,
  backoffDelay,
  eventToAction,
  parseEvent
} from '../events';
import { FakeEventSource, PARENT, makeSession } from './fakes';

describe('parseEvent', () => {
  it('parses a snapshot, keeping only well-formed sessions', () => {
    const event = parseEvent(
      'snapshot',
      JSON.stringify({
        sessions: [makeSession('a', 'ACTIVE'), { nope: 1 }],
        time: '2025-01-01T00:00:00Z'
      })
    );
    expect(event?.type).toBe('snapshot');
    expect(
      event?.type === 'snapshot' && event.data.sessions.map(s => s.name)
    ).toEqual([`${PARENT}/sessions/a`]);
  });

  it('parses session, removed, status and heartbeat events', () => {
    expect(
      parseEvent('session', JSON.stringify(makeSession('a', 'CREATING')))
    ).toMatchObject({
      type: 'session',
      data: { state: 'CREATING' }
    });
    expect(parseEvent('removed', '{"name":"x/sessions/a"}')).toEqual({
      type: 'removed',
      data: { name: 'x/sessions/a' }
    });
    expect(
      parseEvent(
        'status',
        '{"reachable":false,"message":"down","lastPoll":"t"}'
      )
    ).toEqual({
      type: 'status',
      data: { reachable: false, message: 'down', lastPoll: 't' }
    });
    expect(parseEvent('heartbeat', '{"time":"t"}')).toEqual({
      type: 'heartbeat',
      data: { time: 't' }
    });
  });

  it.each([
    ['snapshot', '{"sessions": 3}'],
    ['session', '{"state":"ACTIVE"}'],
    ['removed', '{}'],
    ['status', '{"reachable":"yes"}'],
    ['session', 'not json'],
    ['session', '[1,2]'],
    ['other', '{}']
  ])('ignores a bad %s event (%s)', (type, data) => {
    expect(parseEvent(type, data)).toBeNull();
  });

  it('maps events to reducer actions', () => {
    expect(eventToAction({ type: 'removed', data: { name: 'n' } }, 7)).toEqual({
      type: 'removed',
      name: 'n',
      at: 7
    });
    expect(eventToAction({ type: 'heartbeat', data: {} }, 7)).toBeNull();
  });
});

describe('backoffDelay', () => {
  it('doubles up to the cap, with at most ±20 % jitter', () => {
    const mid = () => 0.5;
    expect(
      [0, 1, 2, 3, 4, 5, 6].map(a => backoffDelay(a, 1000, 30000, mid))
    ).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(backoffDelay(0, 1000, 30000, () => 0)).toBe(800);
    expect(backoffDelay(0, 1000, 30000, () => 1)).toBe(1200);
  });
});

describe('EventStream', () => {
  let events: SessionEvent[];
  let states: [StreamState, string | undefined][];
  let stream: EventStream;

  beforeEach(() => {
    jest.useFakeTimers();
    FakeEventSource.reset();
    events = [];
    states = [];
    stream = new EventStream({
      url: () =>
        `/jupyter-sessions/events?parent=${encodeURIComponent(PARENT)}`,
      onEvent: e => events.push(e),
      onState: (s, info) => states.push([s, info.error]),
      factory: FakeEventSource.factory,
      random: () => 0.5,
      silenceTimeoutMs: 45000
    });
  });

  afterEach(() => {
    stream.stop();
    jest.useRealTimers();
  });

  it('is open once the snapshot arrives and passes events on', () => {
    stream.start();
    expect(states).toEqual([['connecting', undefined]]);
    FakeEventSource.last.open();
    FakeEventSource.last.emit('snapshot', {
      sessions: [makeSession('a', 'ACTIVE')]
    });
    FakeEventSource.last.emit('session', makeSession('b', 'CREATING'));
    FakeEventSource.last.emit('session', 'garbage');
    expect(stream.state).toBe('open');
    expect(events.map(e => e.type)).toEqual(['snapshot', 'session']);
  });

  it('reconnects after an error with growing delays, resetting after a snapshot', () => {
    stream.start();
    FakeEventSource.last.fail();
    expect(FakeEventSource.last.closed).toBe(true);
    expect(stream.state).toBe('disconnected');
    expect(states[states.length - 1]).toEqual([
      'disconnected',
      'cannot open the event stream'
    ]);

    jest.advanceTimersByTime(999);
    expect(FakeEventSource.instances).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(FakeEventSource.instances).toHaveLength(2);

    FakeEventSource.last.fail();
    jest.advanceTimersByTime(1999);
    expect(FakeEventSource.instances).toHaveLength(2);
    jest.advanceTimersByTime(1);
    expect(FakeEventSource.instances).toHaveLength(3);

    FakeEventSource.last.emit('snapshot', { sessions: [] });
    FakeEventSource.last.fail();
    expect(states[states.length - 1]).toEqual([
      'disconnected',
      'the event stream was interrupted'
    ]);
    jest.advanceTimersByTime(1000);
    expect(FakeEventSource.instances).toHaveLength(4);
  });

  it('reconnects when the server goes silent (no heartbeat)', () => {
    stream.start();
    FakeEventSource.last.emit('snapshot', { sessions: [] });
    jest.advanceTimersByTime(30000);
    FakeEventSource.last.emit('heartbeat', { time: 't' });
    jest.advanceTimersByTime(30000);
    expect(stream.state).toBe('open');
    jest.advanceTimersByTime(15000);
    expect(stream.state).toBe('disconnected');
    expect(states[states.length - 1]).toEqual([
      'disconnected',
      'no heartbeat from the server'
    ]);
  });

  it('ignores events from a connection it already closed', () => {
    stream.start();
    const first = FakeEventSource.last;
    first.fail();
    first.emit('snapshot', { sessions: [makeSession('ghost', 'ACTIVE')] });
    expect(events).toEqual([]);
  });

  it('stops for good', () => {
    stream.start();
    FakeEventSource.last.fail();
    stream.stop();
    jest.advanceTimersByTime(60000);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(stream.state).toBe('stopped');
  });
});
