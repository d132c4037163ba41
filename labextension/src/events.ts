/**
 * Client of `GET jupyter-sessions/events` (server-sent events): parses and
 * checks each event, reconnects with backoff, and notices a silent stream
 * through the heartbeats.
 */

import type {
  IHeartbeatEvent,
  IRemovedEvent,
  ISession,
  ISessionTemplate,
  ISnapshotEvent,
  IStatusEvent,
  ITemplateEvent
} from './types';
import type { SessionsAction } from './state';

export type SessionEvent =
  | { type: 'snapshot'; data: ISnapshotEvent }
  | { type: 'session'; data: ISession }
  | { type: 'removed'; data: IRemovedEvent }
  | { type: 'status'; data: IStatusEvent }
  | { type: 'heartbeat'; data: IHeartbeatEvent }
  | { type: 'template'; data: ITemplateEvent };

/** The event names the server sends. */
export const EVENT_TYPES = [
  'snapshot',
  'session',
  'removed',
  'status',
  'heartbeat',
  'template'
] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSession(value: unknown): value is ISession {
  return isObject(value) && typeof value.name === 'string' && !!value.name;
}

/**
 * Parse one event's data. Returns null for unknown event types and for data
 * that is not the documented shape (the stream goes on).
 */
export function parseEvent(type: string, data: string): SessionEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(value)) {
    return null;
  }
  switch (type) {
    case 'snapshot': {
      if (!Array.isArray(value.sessions)) {
        return null;
      }
      return {
        type,
        data: {
          sessions: value.sessions.filter(isSession),
          time: typeof value.time === 'string' ? value.time : undefined
        }
      };
    }
    case 'session':
      return isSession(value) ? { type, data: value } : null;
    case 'removed':
      return typeof value.name === 'string' && value.name
        ? { type, data: { name: value.name } }
        : null;
    case 'status':
      if (typeof value.reachable !== 'boolean') {
        return null;
      }
      return {
        type,
        data: {
          reachable: value.reachable,
          lastPoll:
            typeof value.lastPoll === 'string' ? value.lastPoll : undefined,
          message: typeof value.message === 'string' ? value.message : undefined
        }
      };
    case 'heartbeat':
      return {
        type,
        data: { time: typeof value.time === 'string' ? value.time : undefined }
      };
    case 'template':
      if (typeof value.name !== 'string' || !value.name) {
        return null;
      }
      if (value.deleted === true) {
        return { type, data: { name: value.name, deleted: true } };
      }
      return isObject(value.template) && value.template.name === value.name
        ? {
            type,
            data: {
              name: value.name,
              template: value.template as unknown as ISessionTemplate
            }
          }
        : null;
    default:
      return null;
  }
}

/** The reducer action for an event (heartbeats change nothing). */
export function eventToAction(
  event: SessionEvent,
  at: number
): SessionsAction | null {
  switch (event.type) {
    case 'snapshot':
      return { type: 'snapshot', sessions: event.data.sessions, at };
    case 'session':
      return { type: 'session', session: event.data, at };
    case 'removed':
      return { type: 'removed', name: event.data.name, at };
    case 'status':
      return { type: 'status', status: event.data };
    default:
      return null;
  }
}

/** The subset of `EventSource` used here (tests pass a fake). */
export interface IEventSourceLike {
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
  onopen: ((event: Event) => void) | null;
  onerror: ((event: Event) => void) | null;
}

export type EventSourceFactory = (url: string) => IEventSourceLike;

/** The browser's EventSource (cookies go along on the same origin). */
export const browserEventSource: EventSourceFactory = url =>
  new EventSource(url) as IEventSourceLike;

/** Delay before reconnect attempt number `attempt` (0-based), in ms. */
export function backoffDelay(
  attempt: number,
  initialMs = 1000,
  maxMs = 30000,
  random: () => number = Math.random
): number {
  const base = Math.min(maxMs, initialMs * Math.pow(2, attempt));
  // ±20 % jitter so that many tabs do not reconnect in step.
  const jitter = base * 0.2 * (random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(maxMs, base + jitter)));
}

export type StreamState = 'connecting' | 'open' | 'disconnected' | 'stopped';

export interface IEventStreamOptions {
  /** The URL to (re)connect to; called on each attempt. */
  url: () => string;
  onEvent: (event: SessionEvent) => void;
  /** Told about each change of the stream's state. */
  onState?: (
    state: StreamState,
    info: { error?: string; reconnectAt?: number }
  ) => void;
  factory?: EventSourceFactory;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Reconnect when nothing arrives for this long (ms). Default 45 s (heartbeats come every ~15 s). */
  silenceTimeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

/**
 * A self-healing subscription to the event stream. The state becomes `open`
 * once the first snapshot arrives; any error closes the connection and
 * schedules a new one with exponential backoff.
 */
export class EventStream {
  constructor(options: IEventStreamOptions) {
    this._options = options;
    this._factory = options.factory ?? browserEventSource;
  }

  get state(): StreamState {
    return this._state;
  }

  /** Open the stream (no-op when already started). */
  start(): void {
    if (this._state !== 'stopped') {
      return;
    }
    this._connect();
  }

  /** Close the stream and cancel any pending reconnect. */
  stop(): void {
    this._teardown();
    this._clearTimer();
    this._setState('stopped', {});
  }

  /** Reconnect at once, resetting the backoff. */
  reconnectNow(): void {
    this._attempt = 0;
    this._teardown();
    this._clearTimer();
    this._connect();
  }

  private _connect(): void {
    this._setState('connecting', {});
    let source: IEventSourceLike;
    try {
      source = this._factory(this._options.url());
    } catch (reason) {
      this._fail(reason instanceof Error ? reason.message : String(reason));
      return;
    }
    this._source = source;
    source.onerror = () => {
      if (this._source === source) {
        this._fail(
          this._state === 'open'
            ? 'the event stream was interrupted'
            : 'cannot open the event stream'
        );
      }
    };
    source.onopen = () => {
      if (this._source === source) {
        this._armSilenceTimer();
      }
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message: MessageEvent) => {
        if (this._source !== source) {
          return;
        }
        this._armSilenceTimer();
        const event = parseEvent(type, String(message.data));
        if (!event) {
          return;
        }
        if (event.type === 'snapshot') {
          this._attempt = 0;
          if (this._state !== 'open') {
            this._setState('open', {});
          }
        }
        this._options.onEvent(event);
      });
    }
    this._armSilenceTimer();
  }

  private _fail(error: string): void {
    this._teardown();
    const delay = backoffDelay(
      this._attempt,
      this._options.initialBackoffMs,
      this._options.maxBackoffMs,
      this._options.random
    );
    this._attempt++;
    const now = (this._options.now ?? Date.now)();
    this._clearTimer();
    this._timer = setTimeout(() => {
      this._timer = null;
      this._connect();
    }, delay);
    this._setState('disconnected', { error, reconnectAt: now + delay });
  }

  private _armSilenceTimer(): void {
    if (this._silenceTimer !== null) {
      clearTimeout(this._silenceTimer);
    }
    const timeout = this._options.silenceTimeoutMs ?? 45000;
    this._silenceTimer = setTimeout(() => {
      this._silenceTimer = null;
      if (this._source) {
        this._fail('no heartbeat from the server');
      }
    }, timeout);
  }

  private _teardown(): void {
    if (this._silenceTimer !== null) {
      clearTimeout(this._silenceTimer);
      this._silenceTimer = null;
    }
    if (this._source) {
      const source = this._source;
      this._source = null;
      source.onerror = null;
      source.onopen = null;
      source.close();
    }
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _setState(
    state: StreamState,
    info: { error?: string; reconnectAt?: number }
  ): void {
    this._state = state;
    this._options.onState?.(state, info);
  }

  private _options: IEventStreamOptions;
  private _factory: EventSourceFactory;
  private _source: IEventSourceLike | null = null;
  private _state: StreamState = 'stopped';
  private _attempt = 0;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _silenceTimer: ReturnType<typeof setTimeout> | null = null;
}
