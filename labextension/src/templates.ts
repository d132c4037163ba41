/**
 * Session templates in the side panel: the template form (validated by the
 * session create form's own rules), the bodies it sends, a session's
 * configuration as a template, and the Templates view's model.
 *
 * Live updates: every template write that passes through the Jupyter server
 * (this panel, other tabs, `%session template`, the CLI) arrives at once as a
 * `template` event of the event stream the panel already follows. Writes made
 * elsewhere (gcloud, the console, another server) are seen when the view is
 * opened, when the stream reconnects, and by a slow poll while the view is
 * shown. Each change also refreshes the kernelspecs (the launcher cards).
 */

import { ApiError, resourceId, templateName } from './api';
import {
  FormErrors,
  ICreateFormValues,
  RuntimeChoice,
  buildCreateRequest,
  emptyForm,
  hasErrors,
  validateForm
} from './createForm';
import type { SessionsModel } from './model';
import { messageOf } from './model';
import type {
  ISession,
  ISessionTemplate,
  ITemplateEvent,
  SessionState
} from './types';
import { parseLabels, parseProtoDuration } from './validation';

/** System labels the server sets on sessions; a template never holds them. */
export const SYSTEM_LABEL_PREFIX = 'goog-dataproc-';

export interface IPropertyRow {
  key: string;
  value: string;
}

/** The template form: the session form's fields, plus what only templates have. */
export interface ITemplateFormValues {
  templateId: string;
  description: string;
  runtime: RuntimeChoice;
  /** The launcher card's name (Jupyter kernels only). */
  displayName: string;
  version: string;
  ttl: string;
  idleTtl: string;
  /** Labels as chips: `key=value` or `key`. */
  labels: string[];
  properties: IPropertyRow[];
  serviceAccount: string;
  subnet: string;
}

export type TemplateField = keyof ITemplateFormValues;
export type TemplateFormErrors = Partial<Record<TemplateField, string>>;

export const emptyTemplateForm: ITemplateFormValues = {
  templateId: '',
  description: '',
  runtime: 'PYTHON',
  displayName: '',
  version: '',
  ttl: '',
  idleTtl: '',
  labels: [],
  properties: [],
  serviceAccount: '',
  subnet: ''
};

function labelsText(labels: readonly string[]): string {
  return labels.join(',');
}

function propertiesText(rows: readonly IPropertyRow[]): string {
  return rows
    .filter(row => row.key.trim() || row.value.trim())
    .map(row => `${row.key.trim()}=${row.value.trim()}`)
    .join('\n');
}

/** The values as the session create form has them (to share its rules and request). */
function asSessionForm(values: ITemplateFormValues): ICreateFormValues {
  return {
    ...emptyForm,
    sessionId: values.templateId,
    source: 'fields',
    runtime: values.runtime,
    version: values.version,
    ttl: values.ttl,
    idleTtl: values.idleTtl,
    labels: labelsText(values.labels),
    properties: propertiesText(values.properties),
    serviceAccount: values.serviceAccount
  };
}

/** Every field, by the session form's rules (the id by the session id rules). */
export function validateTemplateForm(
  values: ITemplateFormValues
): TemplateFormErrors {
  const session: FormErrors = validateForm(asSessionForm(values));
  const errors: TemplateFormErrors = {};
  if (session.sessionId) {
    errors.templateId = session.sessionId.replace('session ID', 'template ID');
  }
  for (const field of [
    'version',
    'ttl',
    'idleTtl',
    'labels',
    'properties',
    'serviceAccount'
  ] as const) {
    if (session[field]) {
      errors[field] = session[field];
    }
  }
  const emptyKey = values.properties.find(
    row => !row.key.trim() && row.value.trim()
  );
  if (emptyKey && !errors.properties) {
    errors.properties = `A property with the value "${emptyKey.value.trim()}" has no key.`;
  }
  const keys = values.properties.map(row => row.key.trim()).filter(Boolean);
  const twice = keys.find((key, index) => keys.indexOf(key) !== index);
  if (twice && !errors.properties) {
    errors.properties = `Property "${twice}" appears twice.`;
  }
  if (values.runtime === 'SPARK_CONNECT' && values.displayName.trim()) {
    errors.displayName =
      'Only Jupyter templates have a launcher card to name (leave empty).';
  }
  const subnet = values.subnet.trim();
  if (subnet && /\s/.test(subnet)) {
    errors.subnet = 'Write a subnetwork URI without spaces (or leave empty).';
  }
  return errors;
}

/** One label chip to add, checked alone and against those already there. */
export function checkLabelChip(
  chip: string,
  labels: readonly string[]
): string | null {
  const text = chip.trim();
  if (!text) {
    return 'Write a label as key=value.';
  }
  return parseLabels(labelsText([...labels, text])).error;
}

export { hasErrors };

/** Fields of a template that the form does not show are kept as they are. */
function keptFields(current: ISessionTemplate | undefined): ISessionTemplate {
  if (!current) {
    return { name: '' };
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { createTime, updateTime, creator, uuid, ...rest } = current;
  return JSON.parse(JSON.stringify(rest)) as ISessionTemplate;
}

/**
 * The template body for these values: a new template, or (with `current`) the
 * PATCH body that replaces every field the form shows and keeps the others.
 * Call only with values that pass `validateTemplateForm`.
 */
export function buildTemplate(
  parent: string,
  values: ITemplateFormValues,
  current?: ISessionTemplate
): ISessionTemplate {
  const { session } = buildCreateRequest(asSessionForm(values));
  const body = keptFields(current);
  body.name = current?.name ?? templateName(parent, values.templateId.trim());
  delete body.jupyterSession;
  delete body.sparkConnectSession;
  if (session.sparkConnectSession) {
    body.sparkConnectSession = {};
  } else {
    const displayName = values.displayName.trim();
    body.jupyterSession = {
      kernel: session.jupyterSession?.kernel ?? 'PYTHON',
      ...(displayName ? { displayName } : {})
    };
  }
  const description = values.description.trim();
  if (description) {
    body.description = description;
  } else {
    delete body.description;
  }
  if (session.labels) {
    body.labels = session.labels;
  } else {
    delete body.labels;
  }
  const runtime = { ...(body.runtimeConfig ?? {}) };
  delete runtime.version;
  delete runtime.properties;
  Object.assign(runtime, session.runtimeConfig ?? {});
  if (Object.keys(runtime).length) {
    body.runtimeConfig = runtime;
  } else {
    delete body.runtimeConfig;
  }
  const env = { ...(body.environmentConfig ?? {}) };
  const exec = { ...(env.executionConfig ?? {}) };
  delete exec.ttl;
  delete exec.idleTtl;
  delete exec.serviceAccount;
  Object.assign(exec, session.environmentConfig?.executionConfig ?? {});
  const subnet = values.subnet.trim();
  if (subnet) {
    exec.subnetworkUri = subnet;
    delete exec.networkUri;
  } else {
    delete exec.subnetworkUri;
  }
  if (Object.keys(exec).length) {
    env.executionConfig = exec;
  } else {
    delete env.executionConfig;
  }
  // What the form does not show stays as it was, empty messages included.
  if (Object.keys(env).length) {
    body.environmentConfig = env;
  } else {
    delete body.environmentConfig;
  }
  return body;
}

/** Seconds as the form writes them: `2h`, `1h30m`, `90s`, `1d`. */
export function durationText(seconds: number): string {
  let rest = Math.round(seconds);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1]
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}

function durationField(value: string | undefined): string {
  const seconds = parseProtoDuration(value);
  return seconds === null ? '' : durationText(seconds);
}

/** The form's values for a template's (or a session's) configuration. */
export function formFromTemplate(
  template: ISessionTemplate | ISession,
  templateId = ''
): ITemplateFormValues {
  const exec = template.environmentConfig?.executionConfig;
  const labels = Object.entries(template.labels ?? {})
    .filter(([key]) => !key.startsWith(SYSTEM_LABEL_PREFIX))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => (value ? `${key}=${value}` : key));
  const properties = Object.entries(template.runtimeConfig?.properties ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({ key, value }));
  return {
    templateId,
    description: 'description' in template ? (template.description ?? '') : '',
    runtime: template.sparkConnectSession
      ? 'SPARK_CONNECT'
      : template.jupyterSession?.kernel === 'SCALA'
        ? 'SCALA'
        : 'PYTHON',
    displayName: template.jupyterSession?.displayName ?? '',
    version: template.runtimeConfig?.version ?? '',
    ttl: durationField(exec?.ttl),
    idleTtl: durationField(exec?.idleTtl),
    labels,
    properties,
    serviceAccount: exec?.serviceAccount ?? '',
    subnet: exec?.subnetworkUri ?? ''
  };
}

/**
 * A session's configuration as a new template's body: everything a template
 * can hold (session config, user labels, runtime and environment config),
 * nothing it cannot (ids, uuid, state, runtime info, system labels).
 */
export function templateFromSession(
  session: ISession,
  parent: string,
  templateId: string,
  description = `Saved from session ${resourceId(session.name)}`
): ISessionTemplate {
  const copy = JSON.parse(JSON.stringify(session)) as ISession;
  const labels = Object.fromEntries(
    Object.entries(copy.labels ?? {}).filter(
      ([key]) => !key.startsWith(SYSTEM_LABEL_PREFIX)
    )
  );
  const template: ISessionTemplate = {
    name: templateName(parent, templateId),
    description
  };
  if (copy.sparkConnectSession) {
    template.sparkConnectSession = {};
  } else if (copy.jupyterSession) {
    template.jupyterSession = copy.jupyterSession;
  }
  if (Object.keys(labels).length) {
    template.labels = labels;
  }
  if (copy.runtimeConfig) {
    template.runtimeConfig = copy.runtimeConfig;
  }
  if (copy.environmentConfig) {
    template.environmentConfig = copy.environmentConfig;
  }
  return template;
}

/** A template id suggested for a session's configuration (valid, at most 63). */
export function suggestTemplateId(session: ISession): string {
  const base = resourceId(session.name).slice(0, 54).replace(/-+$/, '');
  return `${base}-template`;
}

// -- the Templates view's model ------------------------------------------------

export type TemplatesPage = 'list' | 'details' | 'create' | 'edit';
export type PanelTab = 'sessions' | 'templates';

export interface ITemplateDraft {
  values: ITemplateFormValues;
  /** Saving from a session: the whole session config (not only the form's fields). */
  fromSession?: ISession;
}

/** The last write and where it stands. */
export interface ITemplateWrite {
  kind: 'create' | 'update' | 'delete';
  name: string;
  phase: 'sending' | 'succeeded' | 'failed';
  message: string;
  errorStatus?: string;
}

export interface ITemplatesSnapshot {
  tab: PanelTab;
  page: TemplatesPage;
  /** Full name of the template shown in details or edited. */
  selected: string | null;
  /** Sorted by id. */
  templates: ISessionTemplate[];
  loaded: boolean;
  loading: boolean;
  /** Why the last listing failed (the list shown is the last good one). */
  error: string | null;
  draft: ITemplateDraft | null;
  write: ITemplateWrite | null;
}

export interface ITemplatesModelOptions {
  sessions: SessionsModel;
  /** A template changed (here or elsewhere): e.g. refresh the kernelspecs. */
  onChanged?: () => void;
  /** Slow poll while the Templates tab is shown (ms). Default 2 minutes. */
  pollIntervalMs?: number;
}

const VERB = { create: 'Creating', update: 'Saving', delete: 'Deleting' };

/** States of a session that has not finished starting. */
const STARTING: readonly SessionState[] = ['CREATING'];

export class TemplatesModel {
  constructor(options: ITemplatesModelOptions) {
    this._options = options;
    this._sessions = options.sessions;
    this._unsubscribe = [
      this._sessions.onTemplateEvent(event => this._onEvent(event)),
      this._sessions.subscribe(() => this._onSessionsChanged())
    ];
  }

  getSnapshot = (): ITemplatesSnapshot => this._snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this._listeners.add(listener);
    return () => {
      this._listeners.delete(listener);
    };
  };

  /** A template by full name, if listed. */
  template(name: string): ISessionTemplate | undefined {
    return this._snapshot.templates.find(t => t.name === name);
  }

  /** Sessions created from a template that are still starting. */
  startingSessionsOf(name: string): ISession[] {
    const id = resourceId(name);
    return Object.values(this._sessions.getSnapshot().state.sessions).filter(
      s =>
        !!s.sessionTemplate &&
        resourceId(s.sessionTemplate) === id &&
        STARTING.includes(s.state ?? 'STATE_UNSPECIFIED')
    );
  }

  showTab(tab: PanelTab): void {
    this._update({ tab });
    this._schedulePoll();
    if (tab === 'templates') {
      void this.refresh();
    }
  }

  showList(): void {
    this._update({ page: 'list', selected: null, draft: null });
  }

  showDetails(name: string): void {
    this._update({ tab: 'templates', page: 'details', selected: name });
  }

  showCreate(draft?: ITemplateDraft): void {
    this._update({
      tab: 'templates',
      page: 'create',
      draft: draft ?? { values: { ...emptyTemplateForm } },
      write: null
    });
  }

  showEdit(name: string): void {
    const template = this.template(name);
    if (!template) {
      return;
    }
    this._update({
      tab: 'templates',
      page: 'edit',
      selected: name,
      draft: { values: formFromTemplate(template, resourceId(name)) },
      write: null
    });
  }

  /** "Save as template" on a session: the create form, filled from the session. */
  saveSession(session: ISession): void {
    this.showCreate({
      values: {
        ...formFromTemplate(session, suggestTemplateId(session)),
        description: `Saved from session ${resourceId(session.name)}`
      },
      fromSession: session
    });
    void this.refresh();
  }

  /** List the templates again. */
  async refresh(): Promise<void> {
    if (!this._sessions.parent || this._loading) {
      return;
    }
    this._loading = true;
    this._update({ loading: true });
    try {
      const templates = await this._sessions.listTemplates();
      this._update({
        templates: sortTemplates(templates),
        loaded: true,
        loading: false,
        error: null
      });
    } catch (reason) {
      this._update({ loading: false, error: messageOf(reason) });
    } finally {
      this._loading = false;
    }
  }

  /** Create (or, editing, replace) a template; resolves with the write's outcome. */
  async save(values: ITemplateFormValues): Promise<ITemplateWrite> {
    const parent = this._sessions.parent;
    const editing =
      this._snapshot.page === 'edit' && this._snapshot.selected
        ? this.template(this._snapshot.selected)
        : undefined;
    const kind = editing ? 'update' : 'create';
    const name =
      editing?.name ?? (parent ? templateName(parent, values.templateId) : '');
    const errors = validateTemplateForm(values);
    if (!parent || hasErrors(errors)) {
      return this._wrote({
        kind,
        name,
        phase: 'failed',
        message: parent
          ? 'Fix the fields marked in red'
          : 'The sessions configuration is not loaded yet',
        errorStatus: parent ? 'INVALID_ARGUMENT' : 'UNAVAILABLE'
      });
    }
    const from = this._snapshot.draft?.fromSession;
    const body = editing
      ? buildTemplate(parent, values, editing)
      : buildTemplate(
          parent,
          values,
          from
            ? templateFromSession(
                from,
                parent,
                values.templateId.trim(),
                values.description.trim()
              )
            : undefined
        );
    this._wrote({
      kind,
      name,
      phase: 'sending',
      message: `${VERB[kind]} ${resourceId(name)}…`
    });
    try {
      const saved = editing
        ? await this._sessions.api.updateSessionTemplate(body)
        : await this._sessions.api.createSessionTemplate(parent, body);
      this._upsert(saved);
      this._options.onChanged?.();
      this._update({ page: 'details', selected: saved.name, draft: null });
      return this._wrote({
        kind,
        name: saved.name,
        phase: 'succeeded',
        message: `${editing ? 'Saved' : 'Created'} template ${resourceId(saved.name)}`
      });
    } catch (reason) {
      return this._wrote({
        kind,
        name,
        phase: 'failed',
        message: `${editing ? 'Cannot save' : 'Cannot create'} ${resourceId(name)}: ${messageOf(reason)}`,
        errorStatus: reason instanceof ApiError ? reason.status : undefined
      });
    }
  }

  /** Delete a template (after the view's confirmation). */
  async delete(name: string): Promise<ITemplateWrite> {
    this._wrote({
      kind: 'delete',
      name,
      phase: 'sending',
      message: `Deleting ${resourceId(name)}…`
    });
    try {
      await this._sessions.api.deleteSessionTemplate(name);
    } catch (reason) {
      return this._wrote({
        kind: 'delete',
        name,
        phase: 'failed',
        message: `Cannot delete ${resourceId(name)}: ${messageOf(reason)}`,
        errorStatus: reason instanceof ApiError ? reason.status : undefined
      });
    }
    this._remove(name);
    this._options.onChanged?.();
    this._update({ page: 'list', selected: null });
    return this._wrote({
      kind: 'delete',
      name,
      phase: 'succeeded',
      message: `Deleted template ${resourceId(name)}`
    });
  }

  /** Forget the last write's message. */
  dismissWrite(): void {
    this._update({ write: null });
  }

  dispose(): void {
    for (const stop of this._unsubscribe) {
      stop();
    }
    if (this._pollTimer !== null) {
      clearTimeout(this._pollTimer);
      this._pollTimer = null;
    }
    this._listeners.clear();
    this._disposed = true;
  }

  // -- live updates -------------------------------------------------------------

  private _onEvent(event: ITemplateEvent): void {
    if (event.deleted) {
      this._remove(event.name);
    } else if (event.template) {
      this._upsert(event.template);
    }
    this._options.onChanged?.();
  }

  private _onSessionsChanged(): void {
    const snapshot = this._sessions.getSnapshot();
    const connection = snapshot.state.connection;
    // Events may have been missed while the stream was down: list again.
    if (connection === 'live' && this._connection !== 'live') {
      if (this._snapshot.loaded) {
        void this.refresh();
      }
    }
    this._connection = connection;
    if (snapshot.visible !== this._visible) {
      this._visible = snapshot.visible;
      this._schedulePoll();
    }
  }

  private _schedulePoll(): void {
    if (this._pollTimer !== null) {
      clearTimeout(this._pollTimer);
      this._pollTimer = null;
    }
    if (
      this._disposed ||
      !this._visible ||
      this._snapshot.tab !== 'templates'
    ) {
      return;
    }
    this._pollTimer = setTimeout(() => {
      this._pollTimer = null;
      void this.refresh().finally(() => this._schedulePoll());
    }, this._options.pollIntervalMs ?? 120000);
  }

  // -- plumbing -----------------------------------------------------------------

  private _upsert(template: ISessionTemplate): void {
    const others = this._snapshot.templates.filter(
      t => t.name !== template.name
    );
    this._update({ templates: sortTemplates([...others, template]) });
  }

  private _remove(name: string): void {
    if (this._snapshot.templates.some(t => t.name === name)) {
      this._update({
        templates: this._snapshot.templates.filter(t => t.name !== name)
      });
    }
  }

  private _wrote(write: ITemplateWrite): ITemplateWrite {
    this._update({ write });
    return write;
  }

  private _update(patch: Partial<ITemplatesSnapshot>): void {
    if (this._disposed) {
      return;
    }
    this._snapshot = { ...this._snapshot, ...patch };
    for (const listener of Array.from(this._listeners)) {
      listener();
    }
  }

  private _options: ITemplatesModelOptions;
  private _sessions: SessionsModel;
  private _unsubscribe: (() => void)[];
  private _listeners = new Set<() => void>();
  private _snapshot: ITemplatesSnapshot = {
    tab: 'sessions',
    page: 'list',
    selected: null,
    templates: [],
    loaded: false,
    loading: false,
    error: null,
    draft: null,
    write: null
  };
  private _loading = false;
  private _connection = '';
  private _visible = false;
  private _pollTimer: ReturnType<typeof setTimeout> | null = null;
  private _disposed = false;
}

function sortTemplates(templates: ISessionTemplate[]): ISessionTemplate[] {
  return [...templates].sort((a, b) =>
    resourceId(a.name).localeCompare(resourceId(b.name))
  );
}
