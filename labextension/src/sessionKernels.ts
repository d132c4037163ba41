/**
 * Session kernels on the JupyterLab side: which kernelspecs start a session,
 * which session a running kernel is bound to, and what a notebook's toolbar
 * says about it.
 *
 * Pure logic with type-only JupyterLab imports; the glue lives in
 * `launcher.ts`, `toolbar.tsx` and `notebooks.ts`.
 */

import type { KernelSpec } from '@jupyterlab/services';
import { ApiError, IRequester, joinUrl, resourceId } from './api';
import type { ISession, ISessionTemplate, SessionState } from './types';

/** What the server puts before a session's or a parent's resource name. */
export const RESOURCE_PREFIX = '//dataproc.googleapis.com/';

/** The spec that starts a plain session (no template). */
export const PLAIN_SESSION_SPEC = 'session';

const PARENT_RESOURCE =
  /^\/\/dataproc\.googleapis\.com\/(projects\/[^/]+\/locations\/[^/]+)\/sessions$/;
const SESSION_RESOURCE =
  /^\/\/dataproc\.googleapis\.com\/(projects\/[^/]+\/locations\/[^/]+\/sessions\/[^/]+)$/;

/** A kernelspec whose kernels run in a new session. */
export interface ISessionSpec {
  /** Kernelspec name, e.g. `session-template-team`. */
  name: string;
  displayName: string;
  description: string;
  language: string;
  /** Template resource name, or '' for a plain session. */
  template: string;
  /** Where its sessions are created: `projects/P/locations/L`. */
  parent: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The session spec a kernelspec model describes, or null for a local kernel. */
export function sessionSpecOf(
  model: KernelSpec.ISpecModel | undefined
): ISessionSpec | null {
  if (!model || !isRecord(model.metadata)) {
    return null;
  }
  const match = PARENT_RESOURCE.exec(
    text(model.metadata.endpointParentResource)
  );
  if (!match) {
    return null;
  }
  return {
    name: model.name,
    displayName: model.display_name || model.name,
    description: text(model.metadata.description),
    language: model.language || 'python',
    template: text(model.metadata.sessionTemplate),
    parent: match[1]
  };
}

/** The session specs among all kernelspecs: the plain session first, then by display name. */
export function sessionSpecs(
  specs: KernelSpec.ISpecModels | null | undefined
): ISessionSpec[] {
  const found: ISessionSpec[] = [];
  for (const model of Object.values(specs?.kernelspecs ?? {})) {
    const spec = sessionSpecOf(model);
    if (spec) {
      found.push(spec);
    }
  }
  return found.sort((a, b) => {
    if ((a.template === '') !== (b.template === '')) {
      return a.template === '' ? -1 : 1;
    }
    return (
      a.displayName.localeCompare(b.displayName) || a.name.localeCompare(b.name)
    );
  });
}

/** A stable key of a spec list: the launcher rebuilds its cards only when it changes. */
export function specsKey(specs: ISessionSpec[]): string {
  return JSON.stringify(
    specs.map(s => [s.name, s.displayName, s.description, s.language])
  );
}

/**
 * Whether the templates with a Jupyter block differ from the templates the
 * session specs were made from (then the kernelspecs are worth a refresh).
 */
export function specsOutOfDate(
  templates: readonly ISessionTemplate[],
  specs: readonly ISessionSpec[]
): boolean {
  const listed = templates
    .filter(t => t.jupyterSession)
    .map(t => t.name)
    .sort();
  const known = specs
    .map(s => s.template)
    .filter(Boolean)
    .sort();
  return JSON.stringify(listed) !== JSON.stringify(known);
}

/** The session (`projects/P/locations/L/sessions/ID`) a kernel model names, or null. */
export function sessionOfKernel(model: unknown): string | null {
  if (!isRecord(model) || !isRecord(model.metadata)) {
    return null;
  }
  const match = SESSION_RESOURCE.exec(
    text(model.metadata.endpointParentResource)
  );
  return match ? match[1] : null;
}

/** A running kernel as the toolbar needs it. */
export interface IKernelInfo {
  id: string;
  name: string;
  /** The session it runs in, or null for a local kernel. */
  session: string | null;
  /** True when this server created the session (shutting the kernel down ends it). */
  startedHere: boolean;
}

/**
 * `GET api/kernels/{id}` through the Jupyter server: JupyterLab's own kernel
 * models drop the metadata that names the session.
 */
export class KernelsApi {
  constructor(requester: IRequester) {
    this._requester = requester;
  }

  /** The kernel, or null when the server no longer has it. */
  async getKernel(id: string): Promise<IKernelInfo | null> {
    const url = joinUrl(
      this._requester.baseUrl,
      `api/kernels/${encodeURIComponent(id)}`
    );
    let response: Response;
    try {
      response = await this._requester.fetch(url, { method: 'GET' });
    } catch (reason) {
      throw ApiError.network(reason);
    }
    if (response.status === 404) {
      return null;
    }
    if (!response.ok) {
      throw await ApiError.fromResponse(response);
    }
    let model: unknown;
    try {
      model = JSON.parse(await response.text());
    } catch {
      throw new ApiError(
        `The server sent a kernel model that is not JSON (HTTP ${response.status})`,
        response.status,
        'INTERNAL'
      );
    }
    if (!isRecord(model) || typeof model.id !== 'string') {
      throw new ApiError(
        'The server sent a kernel model without an id',
        response.status,
        'INTERNAL'
      );
    }
    return {
      id: model.id,
      name: text(model.name),
      session: sessionOfKernel(model),
      startedHere: isRecord(model.metadata)
        ? model.metadata.startedHere === true
        : false
    };
  }

  private _requester: IRequester;
}

// -- which sessions have notebooks ---------------------------------------------

/** What the side panel knows about the kernels of sessions. */
export interface IKernelLinks {
  /** Ids of the running kernels (a session kernel's id is its session's uuid). */
  running: readonly string[];
  /** Paths of the notebooks (and consoles) open on each kernel id. */
  notebooks: Readonly<Record<string, readonly string[]>>;
}

export const NO_KERNEL_LINKS: IKernelLinks = { running: [], notebooks: {} };

/** The links from the running kernels and JupyterLab's sessions (`sessions.running()`). */
export function kernelLinks(
  kernels: Iterable<{ id: string }>,
  labSessions: Iterable<{ path: string; kernel?: { id: string } | null }>
): IKernelLinks {
  const running = Array.from(kernels, k => k.id).sort();
  const notebooks: Record<string, string[]> = {};
  for (const session of labSessions) {
    const id = session.kernel?.id;
    if (id) {
      (notebooks[id] ??= []).push(session.path);
    }
  }
  for (const paths of Object.values(notebooks)) {
    paths.sort();
  }
  return { running, notebooks };
}

/** Whether two link sets say the same (to skip needless re-renders). */
export function sameLinks(a: IKernelLinks, b: IKernelLinks): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The notebooks open on a session's kernel. */
export function notebooksOf(
  links: IKernelLinks,
  session: ISession | undefined
): readonly string[] {
  return (session?.uuid && links.notebooks[session.uuid]) || [];
}

/** Whether a notebook can attach to the session now: ACTIVE, with a running kernel. */
export function canOpenNotebook(
  links: IKernelLinks,
  session: ISession | undefined
): boolean {
  return (
    !!session?.uuid &&
    session.state === 'ACTIVE' &&
    links.running.includes(session.uuid)
  );
}

// -- a notebook's binding to its session -----------------------------------------

/** What a notebook's session context says, read at each change. */
export interface IKernelHostState {
  /** The kernel's id, while the notebook has one. */
  kernelId: string | null;
  kernelName: string | null;
  /** `sessionContext.kernelDisplayName`: the pending spec's display name while starting. */
  displayName: string;
  /** `sessionContext.kernelDisplayStatus`. */
  status: string;
  /** `sessionContext.kernelPreference.name`. */
  preferredName?: string;
}

export type BindingPhase =
  /** A local kernel, or no kernel: the toolbar item hides. */
  | 'none'
  /** A session kernel is starting (its session is not known yet). */
  | 'starting'
  /** The kernel is there; asking the server which session it runs in. */
  | 'resolving'
  /** The kernel runs in a known session (or did, until it was shut down). */
  | 'bound';

export interface IBindingSnapshot {
  phase: BindingPhase;
  /** The spec being started, while starting. */
  spec?: ISessionSpec;
  /** When the start was first seen (ms). */
  startedAt?: number;
  kernelId?: string;
  /** Full session name, once bound. */
  session?: string;
  startedHere?: boolean;
  /** The notebook no longer has the kernel (shut down or changed). */
  kernelGone?: boolean;
  /** The kernel was reported dead while bound (its session ended under it). */
  kernelDied?: boolean;
  /** The user shut the kernel down from this notebook: its session's end is no surprise. */
  endedHere?: boolean;
  /** Why the kernel's session could not be looked up. */
  error?: string;
}

export interface IBindingOptions {
  /** The current session specs. */
  specs: () => ISessionSpec[];
  fetchKernel: (id: string) => Promise<IKernelInfo | null>;
  now?: () => number;
}

/**
 * Follows one notebook's kernel: starting on a session spec, then bound to the
 * session its kernel runs in. Call `update` with the session context's state
 * on each of its changes.
 */
export class SessionBinding {
  constructor(options: IBindingOptions) {
    this._options = options;
    this._now = options.now ?? Date.now;
  }

  getSnapshot = (): IBindingSnapshot => this._snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this._listeners.add(listener);
    return () => {
      this._listeners.delete(listener);
    };
  };

  update(host: IKernelHostState): void {
    if (this._disposed) {
      return;
    }
    const current = this._snapshot;
    if (host.status === 'terminating' && current.phase === 'bound') {
      this._set({ ...current, endedHere: true });
      return;
    }
    const pending = this._pendingSpec(host);
    if (pending) {
      this._asked++; // a look-up still under way is about another kernel
      const same =
        current.phase === 'starting' && current.spec?.name === pending.name;
      this._set({
        phase: 'starting',
        spec: pending,
        startedAt: same ? current.startedAt : this._now()
      });
      return;
    }
    if (host.kernelId) {
      if (
        host.status === 'dead' &&
        current.phase === 'bound' &&
        current.kernelId === host.kernelId &&
        !current.kernelDied
      ) {
        this._set({ ...current, kernelDied: true });
        return;
      }
      if (current.kernelId === host.kernelId && current.phase !== 'none') {
        return;
      }
      if (current.kernelId === host.kernelId && this._localKernel) {
        return;
      }
      this._resolve(host.kernelId, current);
      return;
    }
    this._asked++; // no kernel: a look-up still under way is moot
    if (current.phase === 'bound') {
      if (!current.kernelGone) {
        this._set({ ...current, kernelGone: true });
      }
      return;
    }
    if (current.phase !== 'none') {
      this._set({ phase: 'none' });
    }
  }

  /**
   * A notice to show when the bound session has just ended under a kernel the
   * notebook still had; null otherwise (and after the first notice).
   */
  endNotice(session: ISession | undefined): IEndNotice | null {
    const snapshot = this._snapshot;
    if (
      snapshot.phase !== 'bound' ||
      !session ||
      session.name !== snapshot.session ||
      !isEnded(session.state) ||
      this._noticed.has(session.name)
    ) {
      return null;
    }
    this._noticed.add(session.name);
    // A kernel the notebook let go of alive (changed, shut down elsewhere) makes the end
    // no surprise; one that died first went with its session, which may be seen later.
    if (snapshot.endedHere || (snapshot.kernelGone && !snapshot.kernelDied)) {
      return null;
    }
    return endNotice(session);
  }

  dispose(): void {
    this._disposed = true;
    this._listeners.clear();
  }

  private _pendingSpec(host: IKernelHostState): ISessionSpec | null {
    const starting =
      (!host.kernelId && host.status === 'initializing') ||
      host.status === 'starting';
    if (!starting) {
      return null;
    }
    const specs = this._options.specs();
    const spec =
      specs.find(s => s.displayName === host.displayName) ??
      (host.kernelId
        ? undefined
        : specs.find(s => s.name === host.preferredName));
    if (!spec) {
      return null;
    }
    // A kernel that is itself starting up shows its own spec: that is not a new start.
    if (host.kernelId && host.kernelName === spec.name) {
      return null;
    }
    return spec;
  }

  private _resolve(kernelId: string, before: IBindingSnapshot): void {
    this._localKernel = false;
    this._set({
      phase: 'resolving',
      kernelId,
      spec: before.phase === 'starting' ? before.spec : undefined,
      startedAt: before.phase === 'starting' ? before.startedAt : undefined
    });
    const ask = ++this._asked;
    this._options.fetchKernel(kernelId).then(
      info => {
        if (ask !== this._asked || this._disposed) {
          return;
        }
        if (info?.session) {
          this._set({
            phase: 'bound',
            kernelId,
            session: info.session,
            startedHere: info.startedHere
          });
        } else {
          this._localKernel = true;
          this._set({ phase: 'none', kernelId });
        }
      },
      (reason: unknown) => {
        if (ask !== this._asked || this._disposed) {
          return;
        }
        // Not known as local: the next update asks again.
        this._set({
          phase: 'none',
          error: reason instanceof Error ? reason.message : String(reason)
        });
      }
    );
  }

  private _set(snapshot: IBindingSnapshot): void {
    this._snapshot = snapshot;
    for (const listener of Array.from(this._listeners)) {
      listener();
    }
  }

  private _options: IBindingOptions;
  private _now: () => number;
  private _snapshot: IBindingSnapshot = { phase: 'none' };
  private _listeners = new Set<() => void>();
  private _noticed = new Set<string>();
  private _asked = 0;
  private _localKernel = false;
  private _disposed = false;
}

// -- what the toolbar says -------------------------------------------------------

export function isEnded(state: SessionState | undefined): boolean {
  return state === 'TERMINATED' || state === 'FAILED';
}

/** `m:ss` (or `h:mm:ss`) of a duration in ms. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours
    ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`
    : `${minutes}:${seconds}`;
}

export interface IToolbarView {
  /** What the item says: `{id} · {status}`, or the status alone. */
  text: string;
  /** The session id, once known (a narrow toolbar shows the status alone). */
  id?: string;
  /** The state, with a clock while it changes; or "Starting a session… m:ss". */
  status: string;
  /** Its tooltip. */
  title: string;
  /** The state for the badge colour: a session state, or STARTING before the session is known. */
  state: SessionState | 'STARTING';
  /** Show a spinner. */
  busy: boolean;
  /** Full session name to open in the side panel, once known. */
  session?: string;
}

/** What the toolbar item shows, or null to hide it (local kernel, no kernel). */
export function toolbarView(
  binding: IBindingSnapshot,
  session: ISession | undefined,
  now: number
): IToolbarView | null {
  if (binding.phase === 'starting' || binding.phase === 'resolving') {
    if (binding.startedAt === undefined) {
      return null;
    }
    const what = binding.spec ? ` for “${binding.spec.displayName}”` : '';
    const status = `Starting a session… ${formatClock(now - binding.startedAt)}`;
    return {
      text: status,
      status,
      title: `Creating a session${what}; the notebook's kernel runs in it once the session is ACTIVE (on Dataproc this takes a few minutes)`,
      state: 'STARTING',
      busy: true
    };
  }
  if (binding.phase !== 'bound' || !binding.session) {
    return null;
  }
  const id = resourceId(binding.session);
  const state = session?.state ?? 'STATE_UNSPECIFIED';
  let status: string = session?.state ? state : '';
  let title = `Session ${binding.session}${session?.state ? ` is ${state}` : ''}. Click to show its details in the Sessions panel.`;
  if (state === 'CREATING' && session?.createTime) {
    const created = Date.parse(session.createTime);
    if (!Number.isNaN(created)) {
      status = `CREATING ${formatClock(now - created)}`;
    }
  }
  if (isEnded(session?.state)) {
    title = session?.stateMessage
      ? `${state}: ${session.stateMessage} (session ${id})`
      : `Session ${id} is ${state}`;
  } else if (binding.kernelGone) {
    title = `The notebook's kernel was shut down; session ${binding.session} is ${state}.`;
  }
  return {
    text: status ? `${id} · ${status}` : id,
    id,
    status,
    title,
    state,
    busy: state === 'CREATING' || state === 'TERMINATING',
    session: binding.session
  };
}

export interface IEndNotice {
  type: 'warning' | 'error';
  message: string;
}

/**
 * What to tell the user when a notebook's session ends under its kernel: what
 * happened and what to do first (a toast shows about 140 characters), the
 * reason after.
 */
export function endNotice(session: ISession): IEndNotice {
  const id = resourceId(session.name);
  const failed = session.state === 'FAILED';
  const why = session.stateMessage ? ` Reason: ${session.stateMessage}` : '';
  return {
    type: failed ? 'error' : 'warning',
    message:
      `Session ${id} ${failed ? 'failed' : 'ended'}, and this notebook's kernel with it. ` +
      `Start a new kernel to go on.${why}`
  };
}
