/**
 * The panel's view of the sessions of one parent, as a pure reducer over
 * stream events, poll results and local outcomes.
 */

import type { ISession, IStatusEvent, SessionState } from './types';
import { LIVE_STATES } from './types';
import { parseTime } from './format';

/** How the panel currently learns about changes. */
export type ConnectionState =
  /** No parent yet (loading the configuration). */
  | 'idle'
  /** Opening the event stream. */
  | 'connecting'
  /** The event stream is open and has sent its snapshot. */
  | 'live'
  /** The event stream is down; polling (when visible) until it reconnects. */
  | 'disconnected';

export interface IBackendStatus {
  reachable: boolean;
  lastPoll?: string;
  message?: string;
}

export interface ISessionsState {
  /** Sessions by full resource name. */
  sessions: Readonly<Record<string, ISession>>;
  /** True once any snapshot or listing arrived. */
  loaded: boolean;
  connection: ConnectionState;
  /** What the server's watcher last said about the backend. */
  backend: IBackendStatus;
  /** Why the stream or the last poll failed, if it did. */
  connectionError?: string;
  /** When the last snapshot, change or successful poll arrived (ms). */
  lastUpdate?: number;
  /** When the next reconnect attempt is due (ms), while disconnected. */
  reconnectAt?: number;
}

export type SessionsAction =
  | { type: 'snapshot'; sessions: ISession[]; at: number }
  | { type: 'session'; session: ISession; at: number }
  | { type: 'removed'; name: string; at: number }
  | { type: 'status'; status: IStatusEvent }
  | { type: 'polled'; sessions: ISession[]; at: number }
  | { type: 'poll-failed'; message: string }
  | {
      type: 'connection';
      connection: ConnectionState;
      error?: string;
      reconnectAt?: number;
    }
  | { type: 'reset' };

export const initialState: ISessionsState = {
  sessions: {},
  loaded: false,
  connection: 'idle',
  backend: { reachable: true }
};

/** Position of a state in the lifecycle, to ignore updates older than what we have. */
function progress(session: ISession): number {
  return session.stateHistory?.length ?? 0;
}

/**
 * True when `incoming` describes an earlier point of the session's life than
 * `current` (a late poll result racing a stream update).
 */
export function isStale(current: ISession, incoming: ISession): boolean {
  if (current.uuid && incoming.uuid && current.uuid !== incoming.uuid) {
    // A new session reusing the name replaces the old one.
    return false;
  }
  const p1 = progress(current);
  const p2 = progress(incoming);
  if (p2 !== p1) {
    return p2 < p1;
  }
  const t1 = parseTime(current.stateTime);
  const t2 = parseTime(incoming.stateTime);
  return t1 !== null && t2 !== null && t2 < t1;
}

function byName(sessions: ISession[]): Record<string, ISession> {
  const map: Record<string, ISession> = {};
  for (const session of sessions) {
    if (session && typeof session.name === 'string') {
      map[session.name] = session;
    }
  }
  return map;
}

export function reduce(
  state: ISessionsState,
  action: SessionsAction
): ISessionsState {
  switch (action.type) {
    case 'snapshot':
      return {
        ...state,
        sessions: byName(action.sessions),
        loaded: true,
        connection: 'live',
        connectionError: undefined,
        reconnectAt: undefined,
        lastUpdate: action.at
      };
    case 'polled':
      return {
        ...state,
        sessions: byName(action.sessions),
        loaded: true,
        connectionError:
          state.connection === 'live' ? undefined : state.connectionError,
        lastUpdate: action.at
      };
    case 'poll-failed':
      return { ...state, connectionError: action.message };
    case 'session': {
      const { session } = action;
      if (!session || typeof session.name !== 'string') {
        return state;
      }
      const current = state.sessions[session.name];
      if (current && isStale(current, session)) {
        return state;
      }
      return {
        ...state,
        sessions: { ...state.sessions, [session.name]: session },
        lastUpdate: action.at
      };
    }
    case 'removed': {
      if (!(action.name in state.sessions)) {
        return { ...state, lastUpdate: action.at };
      }
      const sessions = { ...state.sessions };
      delete sessions[action.name];
      return { ...state, sessions, lastUpdate: action.at };
    }
    case 'status':
      return {
        ...state,
        backend: {
          reachable: action.status.reachable,
          lastPoll: action.status.lastPoll ?? state.backend.lastPoll,
          message: action.status.reachable ? undefined : action.status.message
        }
      };
    case 'connection':
      return {
        ...state,
        connection: action.connection,
        connectionError:
          action.connection === 'live' ? undefined : action.error,
        reconnectAt: action.reconnectAt
      };
    case 'reset':
      return initialState;
    default:
      return state;
  }
}

/** Which sessions the list shows. */
export type StateFilter = 'all' | 'live' | SessionState;

/** True when the session matches the state filter and every word of the text filter. */
export function matchesFilter(
  session: ISession,
  text: string,
  stateFilter: StateFilter
): boolean {
  const state = session.state ?? 'STATE_UNSPECIFIED';
  if (stateFilter === 'live' && !LIVE_STATES.includes(state)) {
    return false;
  }
  if (
    stateFilter !== 'all' &&
    stateFilter !== 'live' &&
    state !== stateFilter
  ) {
    return false;
  }
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) {
    return true;
  }
  const haystack = [
    session.name.slice(session.name.lastIndexOf('/') + 1),
    state,
    session.creator ?? '',
    session.user ?? '',
    session.sessionTemplate ?? '',
    session.jupyterSession?.kernel ?? '',
    ...Object.entries(session.labels ?? {}).map(([k, v]) => `${k}=${v}`)
  ]
    .join(' ')
    .toLowerCase();
  return words.every(word => haystack.includes(word));
}

/** Newest first, by creation time, then by name. */
export function sortSessions(sessions: ISession[]): ISession[] {
  return [...sessions].sort((a, b) => {
    const ta = parseTime(a.createTime) ?? 0;
    const tb = parseTime(b.createTime) ?? 0;
    if (ta !== tb) {
      return tb - ta;
    }
    return a.name.localeCompare(b.name);
  });
}

/** The sessions to list, filtered and sorted. */
export function visibleSessions(
  state: ISessionsState,
  text: string,
  stateFilter: StateFilter
): ISession[] {
  return sortSessions(
    Object.values(state.sessions).filter(session =>
      matchesFilter(session, text, stateFilter)
    )
  );
}

/** Count of sessions per state, for the filter menu. */
export function countByState(
  state: ISessionsState
): Record<SessionState, number> {
  const counts: Record<SessionState, number> = {
    STATE_UNSPECIFIED: 0,
    CREATING: 0,
    ACTIVE: 0,
    TERMINATING: 0,
    TERMINATED: 0,
    FAILED: 0
  };
  for (const session of Object.values(state.sessions)) {
    counts[session.state ?? 'STATE_UNSPECIFIED']++;
  }
  return counts;
}

/** What the status line should say, or null when all is well. */
export function statusLine(state: ISessionsState, now: number): string | null {
  if (state.connection === 'disconnected') {
    const parts = ['Live updates disconnected'];
    if (state.connectionError) {
      parts[0] += `: ${state.connectionError}`;
    }
    if (state.reconnectAt !== undefined) {
      const wait = Math.max(0, Math.ceil((state.reconnectAt - now) / 1000));
      parts.push(wait > 0 ? `retrying in ${wait}s` : 'retrying');
    }
    if (state.lastUpdate !== undefined) {
      parts.push(`last update ${formatSince(state.lastUpdate, now)}`);
    }
    return parts.join(' · ');
  }
  if (!state.backend.reachable) {
    const parts = [
      `Backend unreachable${state.backend.message ? `: ${state.backend.message}` : ''}`
    ];
    const lastPoll = parseTime(state.backend.lastPoll);
    if (lastPoll !== null) {
      parts.push(`last successful poll ${formatSince(lastPoll, now)}`);
    }
    return parts.join(' · ');
  }
  return null;
}

function formatSince(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 5) {
    return 'just now';
  }
  if (seconds < 120) {
    return `${seconds}s ago`;
  }
  if (seconds < 7200) {
    return `${Math.round(seconds / 60)}m ago`;
  }
  return `${Math.round(seconds / 3600)}h ago`;
}

/** Whether the API would accept a terminate for this state. */
export function canTerminate(state: SessionState | undefined): boolean {
  return state === 'ACTIVE';
}

/** Whether the API would accept a delete for this state. */
export function canDelete(state: SessionState | undefined): boolean {
  return state !== 'CREATING';
}

/** Why an action is unavailable, for the button's tooltip. */
export function terminateHint(state: SessionState | undefined): string {
  switch (state) {
    case 'ACTIVE':
      return 'Stop the session; it stays listed as TERMINATED';
    case 'CREATING':
      return 'The session is still being created; terminate it once ACTIVE';
    case 'TERMINATING':
      return 'The session is already terminating';
    default:
      return 'The session is no longer running';
  }
}

export function deleteHint(state: SessionState | undefined): string {
  if (state === 'CREATING') {
    return 'The session is still being created; delete it once ACTIVE';
  }
  if (state === 'ACTIVE' || state === 'TERMINATING') {
    return 'Terminate (if needed) and remove the session';
  }
  return 'Remove the session';
}
