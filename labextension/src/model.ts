/**
 * The panel's controller: loads the configuration, follows the event stream,
 * polls while the stream is down and the panel is visible, and runs create,
 * terminate and delete to their real outcome.
 */

import {
  ApiError,
  SessionsApi,
  WaitAbortedError,
  WaitTimeoutError,
  newRequestId,
  resourceId
} from './api';
import type {
  IExtensionConfig,
  IOperation,
  ISession,
  ISessionInput,
  ISessionTemplate,
  ITemplateEvent,
  SessionState
} from './types';
import {
  EventSourceFactory,
  EventStream,
  SessionEvent,
  StreamState,
  eventToAction
} from './events';
import {
  ISessionsState,
  SessionsAction,
  canDelete,
  canTerminate,
  initialState,
  reduce
} from './state';
import { formatDuration } from './format';
import type { IKernelLinks } from './sessionKernels';
import { NO_KERNEL_LINKS, sameLinks } from './sessionKernels';

/** How long a deleted session's name is remembered against stale looks (ms). */
const DELETED_MEMORY_MS = 60000;

export type OperationKind = 'create' | 'terminate' | 'delete';

/** Where an operation started from the panel stands. */
export type OperationPhase =
  /** The request is on its way. */
  | 'sending'
  /** Accepted; waiting for the operation to finish. */
  | 'running'
  | 'succeeded'
  | 'failed'
  /** Not finished within the wait bound; it goes on on the server. */
  | 'timeout';

export interface IOperationView {
  /** Local id. */
  id: string;
  kind: OperationKind;
  /** Full session name. */
  sessionName: string;
  sessionId: string;
  phase: OperationPhase;
  /** One line for people. */
  message: string;
  /** google.rpc.Code name when it failed. */
  errorStatus?: string;
  /** The operation's resource name, once accepted. */
  operationName?: string;
  /** The session snapshot the operation finished with. */
  result?: ISession;
  startedAt: number;
  finishedAt?: number;
}

/** Which page the panel shows. */
export type PanelPage = 'list' | 'details' | 'create';

export interface IPanelView {
  page: PanelPage;
  /** Full name of the session shown in details. */
  selected: string | null;
  /** The template the create form starts from ("New session from this template"). */
  template?: string;
}

export interface IModelSnapshot {
  state: ISessionsState;
  view: IPanelView;
  config: IExtensionConfig | null;
  /** Why the configuration could not be loaded, while it cannot. */
  configError: string | null;
  /** Most recent first. */
  operations: IOperationView[];
  visible: boolean;
  /** Running kernels and the notebooks open on them (session kernels: id = session uuid). */
  kernels: IKernelLinks;
}

export interface ISessionsModelOptions {
  api: SessionsApi;
  eventSourceFactory?: EventSourceFactory;
  /** Interval of the fallback poll (ms). Default 10 s. */
  pollIntervalMs?: number;
  /** Bound of the wait for a create operation (ms). Default 15 min. */
  createTimeoutMs?: number;
  /** Bound of the wait for terminate and delete operations (ms). Default 10 min. */
  finishTimeoutMs?: number;
  /** First delay between operation polls (ms). Default 1 s. */
  operationPollMs?: number;
  /** Told when an operation finishes (succeeds, fails or times out). */
  onOperationFinished?: (operation: IOperationView) => void;
  /** Told the templates each time they are listed (e.g. to refresh kernelspecs). */
  onTemplatesListed?: (templates: ISessionTemplate[]) => void;
  now?: () => number;
}

const VERB: Record<OperationKind, string> = {
  create: 'Creating',
  terminate: 'Terminating',
  delete: 'Deleting'
};

const MAX_OPERATIONS = 20;
// How often, at most, a visible panel in use tells the server so (it keeps a polled
// backend's looks fast for two minutes after each).
const ACTIVITY_MS = 30000;

export class SessionsModel {
  constructor(options: ISessionsModelOptions) {
    this._options = options;
    this._api = options.api;
    this._now = options.now ?? Date.now;
    this._stream = new EventStream({
      url: () => this._api.eventsUrl(this._parent()),
      onEvent: event => this._onEvent(event),
      onState: (state, info) => this._onStreamState(state, info),
      factory: options.eventSourceFactory,
      now: this._now
    });
  }

  get api(): SessionsApi {
    return this._api;
  }

  /** The current immutable snapshot (a new object after every change). */
  getSnapshot = (): IModelSnapshot => this._snapshot;

  /** Listen to changes; returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => {
    this._listeners.add(listener);
    return () => {
      this._listeners.delete(listener);
    };
  };

  /** Load the configuration, then follow the event stream. */
  start(): void {
    if (this._started || this._disposed) {
      return;
    }
    this._started = true;
    void this._loadConfig();
  }

  /** Whether the panel is shown: the fallback poll runs only while it is. */
  setVisible(visible: boolean): void {
    if (visible === this._snapshot.visible) {
      return;
    }
    this._update({ visible });
    this._schedulePoll(visible ? 0 : null);
    this.noteActivity();
  }

  /** The user is using the visible panel: tell the server (at most every 30 s). */
  noteActivity(): void {
    const parent = this._snapshot.config?.parent;
    const now = Date.now();
    if (
      !parent ||
      !this._snapshot.visible ||
      this._disposed ||
      now - this._lastActivity < ACTIVITY_MS
    ) {
      return;
    }
    this._lastActivity = now;
    // A hint only: a failure changes nothing the user sees.
    this._api.noteActivity(parent).catch(() => undefined);
  }

  /** Poll once now and, if the stream is down, reconnect it at once. */
  async refresh(): Promise<void> {
    if (!this._snapshot.config) {
      this._configAttempt = 0;
      await this._loadConfig();
      return;
    }
    if (this._snapshot.state.connection !== 'live') {
      this._stream.reconnectNow();
    }
    await this._pollOnce();
  }

  /** Templates of the configured parent. */
  async listTemplates(): Promise<ISessionTemplate[]> {
    const templates = await this._api.listSessionTemplates(this._parent());
    this._options.onTemplatesListed?.(templates);
    return templates;
  }

  /** The configured parent, `projects/P/locations/L`. */
  get parent(): string | null {
    return this._snapshot.config?.parent ?? null;
  }

  /** A session by full name, if known. */
  session(name: string): ISession | undefined {
    return this._snapshot.state.sessions[name];
  }

  /** The operation of a kind on a session that is still under way, if any. */
  pending(sessionName: string): IOperationView | undefined {
    return this._snapshot.operations.find(
      op =>
        op.sessionName === sessionName &&
        (op.phase === 'sending' || op.phase === 'running')
    );
  }

  /**
   * Create a session and wait for the operation's outcome. Resolves with the
   * finished view (never rejects).
   */
  async create(
    sessionId: string,
    input: ISessionInput
  ): Promise<IOperationView> {
    const parent = this._snapshot.config?.parent;
    const view = this._begin(
      'create',
      parent ? `${parent}/sessions/${sessionId}` : sessionId
    );
    if (!parent) {
      return this._finish(view, {
        phase: 'failed',
        message: `Cannot create ${sessionId}: the sessions configuration is not loaded yet`,
        errorStatus: 'UNAVAILABLE'
      });
    }
    const requestId = newRequestId();
    let operation: IOperation;
    try {
      operation = await this._api.createSession(
        parent,
        sessionId,
        input,
        requestId
      );
    } catch (reason) {
      return this._finishWithError(view, reason, 'Cannot create');
    }
    if (operation.response && !operation.done) {
      this._applyLocal(operation.response);
    }
    return this._follow(view, operation, this._options.createTimeoutMs);
  }

  /** Terminate an ACTIVE session and wait for the outcome. */
  async terminate(name: string): Promise<IOperationView> {
    const current = this.session(name);
    const view = this._begin('terminate', name);
    if (current && !canTerminate(current.state)) {
      return this._finish(view, {
        phase: 'failed',
        message: `Cannot terminate ${resourceId(name)}: it is ${current.state}`,
        errorStatus: 'FAILED_PRECONDITION'
      });
    }
    let operation: IOperation;
    try {
      operation = await this._api.terminateSession(name, newRequestId());
    } catch (reason) {
      return this._finishWithError(view, reason, 'Cannot terminate');
    }
    return this._follow(view, operation, this._options.finishTimeoutMs);
  }

  /** Delete a session (terminating it first if it runs) and wait for the outcome. */
  async delete(name: string): Promise<IOperationView> {
    const current = this.session(name);
    const view = this._begin('delete', name);
    if (current && !canDelete(current.state)) {
      return this._finish(view, {
        phase: 'failed',
        message: `Cannot delete ${resourceId(name)} while it is being created`,
        errorStatus: 'ABORTED'
      });
    }
    let operation: IOperation;
    try {
      operation = await this._api.deleteSession(name, newRequestId());
    } catch (reason) {
      return this._finishWithError(view, reason, 'Cannot delete');
    }
    return this._follow(view, operation, this._options.finishTimeoutMs);
  }

  /** Show the list. */
  showList(): void {
    this._update({ view: { page: 'list', selected: null } });
  }

  /** Show a session's details. */
  showDetails(name: string): void {
    this._update({ view: { page: 'details', selected: name } });
  }

  /** Show the create form, starting from a template when one is named. */
  showCreate(template?: string): void {
    this._update({
      view: { page: 'create', selected: this._snapshot.view.selected, template }
    });
  }

  /** Listen to the stream's `template` events; returns the unsubscribe function. */
  onTemplateEvent(listener: (event: ITemplateEvent) => void): () => void {
    this._templateListeners.add(listener);
    return () => {
      this._templateListeners.delete(listener);
    };
  }

  /** Forget finished operations (the activity list's "clear"). */
  clearFinished(): void {
    this._update({
      operations: this._snapshot.operations.filter(
        op => op.phase === 'sending' || op.phase === 'running'
      )
    });
  }

  /** What JupyterLab knows of the running kernels and the notebooks on them. */
  setKernelLinks(kernels: IKernelLinks): void {
    if (!sameLinks(kernels, this._snapshot.kernels)) {
      this._update({ kernels });
    }
  }

  /** Forget one finished operation. */
  dismiss(id: string): void {
    this._update({
      operations: this._snapshot.operations.filter(
        op => op.id !== id || op.phase === 'sending' || op.phase === 'running'
      )
    });
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._stream.stop();
    this._schedulePoll(null);
    if (this._configTimer !== null) {
      clearTimeout(this._configTimer);
      this._configTimer = null;
    }
    for (const controller of this._waits) {
      controller.abort();
    }
    this._waits.clear();
    this._listeners.clear();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  // -- configuration ---------------------------------------------------------

  private async _loadConfig(): Promise<void> {
    if (this._configTimer !== null) {
      clearTimeout(this._configTimer);
      this._configTimer = null;
    }
    try {
      const config = await this._api.getConfig();
      if (this._disposed) {
        return;
      }
      if (!config || typeof config.parent !== 'string' || !config.parent) {
        throw new ApiError(
          'The server sent a configuration without a parent',
          200,
          'INTERNAL'
        );
      }
      this._update({ config, configError: null });
      this._dispatch({
        type: 'connection',
        connection: 'connecting'
      });
      this._stream.start();
    } catch (reason) {
      if (this._disposed) {
        return;
      }
      const delay = Math.min(60000, 2000 * Math.pow(2, this._configAttempt));
      this._configAttempt++;
      this._update({
        configError: `${messageOf(reason)} (retrying in ${formatDuration(delay / 1000)})`
      });
      this._configTimer = setTimeout(() => {
        this._configTimer = null;
        void this._loadConfig();
      }, delay);
    }
  }

  private _parent(): string {
    const parent = this._snapshot.config?.parent;
    if (!parent) {
      throw new ApiError(
        'The sessions configuration is not loaded yet',
        0,
        'UNAVAILABLE'
      );
    }
    return parent;
  }

  // -- stream and poll -------------------------------------------------------

  private _onEvent(event: SessionEvent): void {
    if (event.type === 'template') {
      for (const listener of Array.from(this._templateListeners)) {
        listener(event.data);
      }
      return;
    }
    const action = eventToAction(event, this._now());
    if (action) {
      this._dispatch(action);
    }
  }

  private _onStreamState(
    state: StreamState,
    info: { error?: string; reconnectAt?: number }
  ): void {
    if (this._disposed) {
      return;
    }
    if (state === 'open') {
      this._dispatch({ type: 'connection', connection: 'live' });
      this._schedulePoll(null);
    } else if (state === 'connecting') {
      if (this._snapshot.state.connection !== 'disconnected') {
        this._dispatch({ type: 'connection', connection: 'connecting' });
      }
    } else if (state === 'disconnected') {
      const wasLive = this._snapshot.state.connection !== 'disconnected';
      this._dispatch({
        type: 'connection',
        connection: 'disconnected',
        error: info.error,
        reconnectAt: info.reconnectAt
      });
      if (wasLive && this._pollTimer === null) {
        this._schedulePoll(0);
      }
    }
  }

  /** (Re)arm the fallback poll: `null` stops it. */
  private _schedulePoll(delayMs: number | null): void {
    if (this._pollTimer !== null) {
      clearTimeout(this._pollTimer);
      this._pollTimer = null;
    }
    if (
      delayMs === null ||
      this._disposed ||
      !this._snapshot.visible ||
      !this._snapshot.config ||
      this._snapshot.state.connection === 'live'
    ) {
      return;
    }
    this._pollTimer = setTimeout(() => {
      this._pollTimer = null;
      void this._pollOnce().finally(() => {
        this._schedulePoll(this._options.pollIntervalMs ?? 10000);
      });
    }, delayMs);
  }

  private async _pollOnce(): Promise<void> {
    const parent = this._snapshot.config?.parent;
    if (!parent || this._polling) {
      return;
    }
    this._polling = true;
    try {
      const sessions = await this._api.listAllSessions(parent);
      if (!this._disposed) {
        this._dispatch({ type: 'polled', sessions, at: this._now() });
      }
    } catch (reason) {
      if (!this._disposed) {
        this._dispatch({ type: 'poll-failed', message: messageOf(reason) });
      }
    } finally {
      this._polling = false;
    }
  }

  // -- operations ------------------------------------------------------------

  private _begin(kind: OperationKind, sessionName: string): IOperationView {
    const view: IOperationView = {
      id: `op-${++this._opCounter}`,
      kind,
      sessionName,
      sessionId: resourceId(sessionName),
      phase: 'sending',
      message: `${VERB[kind]} ${resourceId(sessionName)}…`,
      startedAt: this._now()
    };
    this._update({
      operations: [view, ...this._snapshot.operations].slice(0, MAX_OPERATIONS)
    });
    return view;
  }

  private _patch(
    view: IOperationView,
    patch: Partial<IOperationView>
  ): IOperationView {
    const next = { ...view, ...patch };
    this._update({
      operations: this._snapshot.operations.map(op =>
        op.id === view.id ? next : op
      )
    });
    return next;
  }

  private _finish(
    view: IOperationView,
    patch: Partial<IOperationView>
  ): IOperationView {
    const done = this._patch(view, { ...patch, finishedAt: this._now() });
    this._options.onOperationFinished?.(done);
    return done;
  }

  private _finishWithError(
    view: IOperationView,
    reason: unknown,
    prefix: string
  ): IOperationView {
    const status = reason instanceof ApiError ? reason.status : undefined;
    return this._finish(view, {
      phase: 'failed',
      message: `${prefix} ${view.sessionId}: ${messageOf(reason)}`,
      errorStatus: status
    });
  }

  private async _follow(
    view: IOperationView,
    operation: IOperation,
    timeoutMs: number | undefined
  ): Promise<IOperationView> {
    let current = this._patch(view, {
      phase: 'running',
      operationName: operation.name,
      message: `${VERB[view.kind]} ${view.sessionId}: request accepted, waiting for the operation`
    });
    const controller = new AbortController();
    this._waits.add(controller);
    let done: IOperation;
    try {
      done = operation.done
        ? operation
        : await this._api.waitOperation(operation, {
            timeoutMs:
              timeoutMs ?? (view.kind === 'create' ? 15 * 60000 : 10 * 60000),
            intervalMs: this._options.operationPollMs ?? 1000,
            signal: controller.signal,
            onProgress: () => {
              const session = this.session(view.sessionName);
              current = this._patch(current, {
                message: progressMessage(
                  view,
                  session?.state,
                  this._now() - view.startedAt
                )
              });
            }
          });
    } catch (reason) {
      if (reason instanceof WaitAbortedError) {
        return current;
      }
      if (reason instanceof WaitTimeoutError) {
        const state = this.session(view.sessionName)?.state;
        return this._finish(current, {
          phase: 'timeout',
          message: `${view.sessionId} is still ${state ?? 'in progress'}: ${reason.message}`
        });
      }
      return this._finishWithError(
        current,
        reason,
        `Lost track of ${VERB[view.kind].toLowerCase()}`
      );
    } finally {
      this._waits.delete(controller);
    }
    return this._finish(current, this._outcome(view, done));
  }

  /** What a finished operation means for people, and for the local list. */
  private _outcome(
    view: IOperationView,
    operation: IOperation
  ): Partial<IOperationView> {
    if (operation.error) {
      const error = ApiError.fromRpcStatus(operation.error);
      const what =
        view.kind === 'create'
          ? 'Creating'
          : view.kind === 'terminate'
            ? 'Terminating'
            : 'Deleting';
      return {
        phase: 'failed',
        message: `${what} ${view.sessionId} failed: ${error.message}`,
        errorStatus: error.status
      };
    }
    const response = operation.response;
    const session: ISession | undefined =
      response && typeof response.name === 'string'
        ? stripType(response)
        : undefined;
    if (view.kind === 'delete') {
      this._dispatch({
        type: 'removed',
        name: view.sessionName,
        at: this._now()
      });
      return {
        phase: 'succeeded',
        message: `Deleted ${view.sessionId}`,
        result: session
      };
    }
    if (session) {
      this._applyLocal(session);
    }
    const state = session?.state;
    if (view.kind === 'create') {
      if (state === 'FAILED') {
        return {
          phase: 'failed',
          message: `Creating ${view.sessionId} failed${session?.stateMessage ? `: ${session.stateMessage}` : ''}`,
          result: session,
          errorStatus: 'FAILED_PRECONDITION'
        };
      }
      return {
        phase: 'succeeded',
        message: state
          ? `${view.sessionId} is ${state}`
          : `Created ${view.sessionId}`,
        result: session
      };
    }
    if (state === 'FAILED') {
      return {
        phase: 'failed',
        message: `${view.sessionId} ended FAILED${session?.stateMessage ? `: ${session.stateMessage}` : ''}`,
        result: session,
        errorStatus: 'FAILED_PRECONDITION'
      };
    }
    return {
      phase: 'succeeded',
      message: `Terminated ${view.sessionId}${state && state !== 'TERMINATED' ? ` (now ${state})` : ''}`,
      result: session
    };
  }

  private _applyLocal(session: ISession): void {
    this._dispatch({ type: 'session', session, at: this._now() });
  }

  // -- plumbing --------------------------------------------------------------

  private _dispatch(action: SessionsAction): void {
    action = this._withoutDeleted(action);
    const state = reduce(this._snapshot.state, action);
    if (state !== this._snapshot.state) {
      this._update({ state });
    }
  }

  /**
   * A deleted session stays deleted: a look that started before the delete
   * (a poll, events already on their way, states replayed from its history)
   * cannot bring it back. A new session of the same name (another uuid or
   * creation time) is let through.
   */
  private _withoutDeleted(action: SessionsAction): SessionsAction {
    const now = this._now();
    for (const [name, gone] of this._deleted) {
      if (now - gone.at > DELETED_MEMORY_MS) {
        this._deleted.delete(name);
      }
    }
    const stale = (session: ISession): boolean => {
      const gone = this._deleted.get(session.name);
      if (!gone) {
        return false;
      }
      if (gone.uuid || gone.createTime) {
        return (
          (!!gone.uuid && session.uuid === gone.uuid) ||
          (!gone.uuid && session.createTime === gone.createTime)
        );
      }
      return session.state === 'TERMINATED' || session.state === 'FAILED';
    };
    switch (action.type) {
      case 'removed': {
        const known = this._snapshot.state.sessions[action.name];
        if (!known && this._deleted.has(action.name)) {
          return action; // already gone: keep what identified it
        }
        this._deleted.set(action.name, {
          at: now,
          uuid: known?.uuid,
          createTime: known?.createTime
        });
        return action;
      }
      case 'session':
        if (action.session && stale(action.session)) {
          return { type: 'removed', name: action.session.name, at: action.at };
        }
        return action;
      case 'snapshot':
      case 'polled':
        return {
          ...action,
          sessions: action.sessions.filter(session => !stale(session))
        };
      default:
        return action;
    }
  }

  private _deleted = new Map<
    string,
    { at: number; uuid?: string; createTime?: string }
  >();

  private _update(patch: Partial<IModelSnapshot>): void {
    if (this._disposed) {
      return;
    }
    this._snapshot = { ...this._snapshot, ...patch };
    for (const listener of Array.from(this._listeners)) {
      listener();
    }
  }

  private _options: ISessionsModelOptions;
  private _api: SessionsApi;
  private _now: () => number;
  private _stream: EventStream;
  private _snapshot: IModelSnapshot = {
    state: initialState,
    config: null,
    configError: null,
    operations: [],
    visible: false,
    kernels: NO_KERNEL_LINKS,
    view: { page: 'list', selected: null }
  };
  private _listeners = new Set<() => void>();
  private _templateListeners = new Set<(event: ITemplateEvent) => void>();
  private _started = false;
  private _disposed = false;
  private _configAttempt = 0;
  private _lastActivity = -Infinity;
  private _configTimer: ReturnType<typeof setTimeout> | null = null;
  private _pollTimer: ReturnType<typeof setTimeout> | null = null;
  private _polling = false;
  private _opCounter = 0;
  private _waits = new Set<AbortController>();
}

function stripType(response: ISession & { '@type'?: string }): ISession {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { '@type': _type, ...session } = response;
  return session;
}

function progressMessage(
  view: IOperationView,
  state: SessionState | undefined,
  elapsedMs: number
): string {
  const elapsed = formatDuration(elapsedMs / 1000);
  const where = state ? ` (${state}, ${elapsed})` : ` (${elapsed})`;
  return `${VERB[view.kind]} ${view.sessionId}…${where}`;
}

/** A readable message for anything thrown. */
export function messageOf(reason: unknown): string {
  if (reason instanceof Error) {
    return reason.message;
  }
  return String(reason);
}
