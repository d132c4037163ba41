import React, { useEffect, useMemo, useState } from 'react';
import type { ISession, ISessionInput, ISessionTemplate } from '../types';
import type { IOperationView } from '../model';
import { resourceId } from '../api';
import {
  FormErrors,
  FormField,
  ICreateFormValues,
  RuntimeChoice,
  buildCreateRequest,
  emptyForm,
  hasErrors,
  suggestSessionId,
  validateForm
} from '../createForm';
import { formatDuration, runtimeKind } from '../format';
import { parseProtoDuration } from '../validation';
import { StateBadge } from './StateBadge';
import { BackIcon } from './icons';

export interface ICreateSessionFormProps {
  /** `projects/P/locations/L`, shown for context. */
  parent: string;
  /** Loads the templates of the parent. */
  loadTemplates: () => Promise<ISessionTemplate[]>;
  /** Sends the create request and waits for its outcome. */
  onCreate: (sessionId: string, session: ISessionInput) => void;
  /** The latest create operation for the submitted name, if any. */
  findOperation: (sessionName: string) => IOperationView | undefined;
  /** The session as the stream shows it, if it exists. */
  findSession: (sessionName: string) => ISession | undefined;
  onClose: () => void;
  onOpenSession: (sessionName: string) => void;
  /** Starting values (tests). */
  initialValues?: Partial<ICreateFormValues>;
  /** What the backend can run: a runtime with a reason is offered disabled. */
  runtimes?: Partial<Record<RuntimeChoice, string>>;
}

const RUNTIME_LABELS: Record<RuntimeChoice, string> = {
  PYTHON: 'Jupyter, Python kernel',
  SCALA: 'Jupyter, Scala kernel',
  SPARK_CONNECT: 'Spark Connect'
};

type TemplatesState =
  | { status: 'loading' }
  | { status: 'loaded'; templates: ISessionTemplate[] }
  | { status: 'error'; message: string };

/** The create dialog: fields validated as they are typed, then the operation's outcome. */
export function CreateSessionForm(props: ICreateSessionFormProps): JSX.Element {
  const [values, setValues] = useState<ICreateFormValues>(() => ({
    ...emptyForm,
    sessionId: suggestSessionId(),
    ...props.initialValues
  }));
  const [touched, setTouched] = useState<Partial<Record<FormField, boolean>>>(
    {}
  );
  const [submitted, setSubmitted] = useState<string | null>(null);
  const [templates, setTemplates] = useState<TemplatesState>({
    status: 'loading'
  });

  const { loadTemplates } = props;
  useEffect(() => {
    let cancelled = false;
    loadTemplates()
      .then(list => {
        if (!cancelled) {
          setTemplates({ status: 'loaded', templates: list });
        }
      })
      .catch((reason: unknown) => {
        if (!cancelled) {
          setTemplates({
            status: 'error',
            message: reason instanceof Error ? reason.message : String(reason)
          });
        }
      });
    return () => {
      cancelled = true;
    };
  }, [loadTemplates]);

  const errors: FormErrors = useMemo(() => validateForm(values), [values]);
  const invalid = hasErrors(errors);

  const sessionName = submitted
    ? `${props.parent}/sessions/${submitted}`
    : null;
  const operation = sessionName ? props.findOperation(sessionName) : undefined;

  if (sessionName && operation) {
    return (
      <CreateProgress
        operation={operation}
        session={
          // A refused create (e.g. the id is taken) says nothing about the
          // session that already has this name: its state is not shown.
          operation.phase === 'failed'
            ? undefined
            : props.findSession(sessionName)
        }
        onBack={() => setSubmitted(null)}
        onClose={props.onClose}
        onOpen={() => props.onOpenSession(sessionName)}
        onAnother={() => {
          setSubmitted(null);
          setTouched({});
          setValues(v => ({ ...v, sessionId: suggestSessionId() }));
        }}
      />
    );
  }

  const set = (field: FormField) => (value: string) => {
    setValues(v => ({ ...v, [field]: value }));
    setTouched(t => ({ ...t, [field]: true }));
  };
  const errorOf = (field: FormField): string | undefined =>
    touched[field] ? errors[field] : undefined;

  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    const all: Partial<Record<FormField, boolean>> = {};
    (Object.keys(values) as FormField[]).forEach(key => {
      all[key] = true;
    });
    setTouched(all);
    if (invalid) {
      return;
    }
    const request = buildCreateRequest(values);
    setSubmitted(request.sessionId);
    props.onCreate(request.sessionId, request.session);
  };

  const templateList = templates.status === 'loaded' ? templates.templates : [];
  const chosen = templateList.find(t => t.name === values.template);

  return (
    <form
      className="jp-sessions-form"
      onSubmit={submit}
      noValidate
      aria-label="New session"
    >
      <div className="jp-sessions-details-header">
        <button
          type="button"
          className="jp-sessions-icon-button"
          title="Back to the list"
          aria-label="Back to the list"
          onClick={props.onClose}
        >
          <BackIcon />
        </button>
        <h3 className="jp-sessions-details-title">New session</h3>
      </div>
      <div className="jp-sessions-muted jp-sessions-form-context">
        in {props.parent}
      </div>

      <TextField
        id="sessionId"
        label="Session ID"
        value={values.sessionId}
        onChange={set('sessionId')}
        error={errorOf('sessionId')}
        hint="4–63 characters: lowercase letters, digits, hyphens; starts with a letter."
        required
        autoFocus
      />

      <fieldset className="jp-sessions-field">
        <legend className="jp-sessions-field-label">Configuration</legend>
        <div className="jp-sessions-segmented" role="radiogroup">
          <label>
            <input
              type="radio"
              name="source"
              value="fields"
              checked={values.source === 'fields'}
              onChange={() => set('source')('fields')}
            />
            Fields
          </label>
          <label>
            <input
              type="radio"
              name="source"
              value="template"
              checked={values.source === 'template'}
              onChange={() => set('source')('template')}
            />
            Template
          </label>
        </div>
      </fieldset>

      {values.source === 'template' ? (
        <div className="jp-sessions-field">
          <label
            className="jp-sessions-field-label"
            htmlFor="jp-sessions-template"
          >
            Template
          </label>
          {templates.status === 'loading' ? (
            <div className="jp-sessions-muted">Loading templates…</div>
          ) : templates.status === 'error' ? (
            <div className="jp-sessions-field-error" role="alert">
              Cannot list templates: {templates.message}
            </div>
          ) : templateList.length === 0 ? (
            <div className="jp-sessions-muted">
              No templates in {props.parent} yet. Make one in the Templates tab
              (or “Save as template” on a session&apos;s page), or with{' '}
              <code>%session template create</code> in a notebook.
            </div>
          ) : (
            <select
              id="jp-sessions-template"
              className="jp-sessions-select"
              value={values.template}
              onChange={event => set('template')(event.target.value)}
              aria-invalid={!!errorOf('template')}
            >
              <option value="">Choose a template…</option>
              {templateList.map(t => (
                <option key={t.name} value={t.name}>
                  {resourceId(t.name)}
                  {t.description ? ` — ${t.description}` : ''}
                </option>
              ))}
            </select>
          )}
          {errorOf('template') ? (
            <div className="jp-sessions-field-error">{errorOf('template')}</div>
          ) : null}
          {chosen ? <TemplateSummary template={chosen} /> : null}
        </div>
      ) : (
        <>
          <div className="jp-sessions-field">
            <label
              className="jp-sessions-field-label"
              htmlFor="jp-sessions-runtime"
            >
              Runtime
            </label>
            <select
              id="jp-sessions-runtime"
              className="jp-sessions-select"
              value={values.runtime}
              onChange={event =>
                set('runtime')(event.target.value as RuntimeChoice)
              }
            >
              {(Object.keys(RUNTIME_LABELS) as RuntimeChoice[]).map(choice => {
                const why = props.runtimes?.[choice] ?? '';
                return (
                  <option
                    key={choice}
                    value={choice}
                    disabled={!!why}
                    title={why || undefined}
                  >
                    {RUNTIME_LABELS[choice]}
                    {why ? ' (not available here)' : ''}
                  </option>
                );
              })}
            </select>
            {(Object.keys(RUNTIME_LABELS) as RuntimeChoice[]).some(
              choice => !!props.runtimes?.[choice]
            ) ? (
              <div
                className="jp-sessions-field-hint"
                id="jp-sessions-runtime-hint"
              >
                {(Object.keys(RUNTIME_LABELS) as RuntimeChoice[])
                  .filter(choice => !!props.runtimes?.[choice])
                  .map(
                    choice =>
                      `${RUNTIME_LABELS[choice]}: ${props.runtimes?.[choice]}`
                  )
                  .join(' ')}
              </div>
            ) : null}
          </div>
          <TextField
            id="version"
            label="Runtime version"
            value={values.version}
            onChange={set('version')}
            error={errorOf('version')}
            placeholder="default"
          />
        </>
      )}

      <div className="jp-sessions-field-row">
        <TextField
          id="ttl"
          label="TTL"
          value={values.ttl}
          onChange={set('ttl')}
          error={errorOf('ttl')}
          placeholder="24h"
          hint="Max lifetime: 10m to 14d."
        />
        <TextField
          id="idleTtl"
          label="Idle TTL"
          value={values.idleTtl}
          onChange={set('idleTtl')}
          error={errorOf('idleTtl')}
          placeholder="1h"
          hint="Idle shutdown: 10m to 14d."
        />
      </div>

      <TextField
        id="labels"
        label="Labels"
        value={values.labels}
        onChange={set('labels')}
        error={errorOf('labels')}
        placeholder="team=data, env=dev"
        hint="key=value, separated by commas or lines; at most 32."
        multiline
      />

      {values.source === 'fields' ? (
        <details className="jp-sessions-more">
          <summary>Advanced</summary>
          <TextField
            id="properties"
            label="Runtime properties"
            value={values.properties}
            onChange={set('properties')}
            error={errorOf('properties')}
            placeholder="spark:spark.executor.cores=4"
            hint="One key=value per line."
            multiline
          />
          <TextField
            id="serviceAccount"
            label="Service account"
            value={values.serviceAccount}
            onChange={set('serviceAccount')}
            error={errorOf('serviceAccount')}
            placeholder="default"
          />
        </details>
      ) : null}

      <div className="jp-sessions-actions">
        <button
          type="submit"
          className="jp-sessions-button jp-mod-accept"
          disabled={invalid}
          title={
            invalid ? 'Fix the fields marked in red' : 'Create the session'
          }
        >
          Create
        </button>
        <button
          type="button"
          className="jp-sessions-button"
          onClick={props.onClose}
        >
          Cancel
        </button>
      </div>
    </form>
  );
}

export function TextField(props: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string;
  hint?: string;
  placeholder?: string;
  required?: boolean;
  autoFocus?: boolean;
  multiline?: boolean;
}): JSX.Element {
  const inputId = `jp-sessions-field-${props.id}`;
  const describedBy = `${inputId}-help`;
  const common = {
    id: inputId,
    name: props.id,
    value: props.value,
    placeholder: props.placeholder,
    'aria-invalid': !!props.error,
    'aria-describedby': describedBy,
    className: `jp-sessions-input ${props.error ? 'jp-sessions-input-invalid' : ''}`,
    spellCheck: false,
    autoComplete: 'off'
  };
  return (
    <div className="jp-sessions-field">
      <label className="jp-sessions-field-label" htmlFor={inputId}>
        {props.label}
        {props.required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {props.multiline ? (
        <textarea
          {...common}
          rows={2}
          onChange={event => props.onChange(event.target.value)}
        />
      ) : (
        <input
          {...common}
          type="text"
          autoFocus={props.autoFocus}
          onChange={event => props.onChange(event.target.value)}
        />
      )}
      <div
        id={describedBy}
        className={
          props.error ? 'jp-sessions-field-error' : 'jp-sessions-field-hint'
        }
        role={props.error ? 'alert' : undefined}
      >
        {props.error ?? props.hint ?? ''}
      </div>
    </div>
  );
}

function TemplateSummary(props: { template: ISessionTemplate }): JSX.Element {
  const t = props.template;
  const exec = t.environmentConfig?.executionConfig;
  const parts = [
    runtimeKind(t),
    t.runtimeConfig?.version ? `runtime ${t.runtimeConfig.version}` : '',
    exec?.ttl ? `TTL ${formatDuration(parseProtoDuration(exec.ttl) ?? 0)}` : '',
    exec?.idleTtl
      ? `idle TTL ${formatDuration(parseProtoDuration(exec.idleTtl) ?? 0)}`
      : ''
  ].filter(Boolean);
  return (
    <div className="jp-sessions-field-hint">
      {parts.length ? parts.join(' · ') : 'Uses the template’s settings.'}
    </div>
  );
}

function CreateProgress(props: {
  operation: IOperationView;
  session?: ISession;
  onBack: () => void;
  onClose: () => void;
  onOpen: () => void;
  onAnother: () => void;
}): JSX.Element {
  const { operation, session } = props;
  const busy = operation.phase === 'sending' || operation.phase === 'running';
  return (
    <div
      className="jp-sessions-form"
      aria-label={`Creating ${operation.sessionId}`}
    >
      <div className="jp-sessions-details-header">
        <h3 className="jp-sessions-details-title">{operation.sessionId}</h3>
        {session ? <StateBadge state={session.state} /> : null}
      </div>
      <div
        className={`jp-sessions-outcome jp-sessions-operation-${operation.phase}`}
        data-phase={operation.phase}
        role={operation.phase === 'failed' ? 'alert' : 'status'}
      >
        {busy ? (
          <span
            className="jp-sessions-spinner"
            role="progressbar"
            aria-label="In progress"
          />
        ) : null}
        <span>{operation.message}</span>
      </div>
      {busy ? (
        <div className="jp-sessions-muted">
          {operation.phase === 'sending'
            ? 'Sending the request…'
            : 'It keeps going in the background: go back to the list to see it there as CREATING, then ACTIVE.'}
        </div>
      ) : null}
      <div className="jp-sessions-actions">
        {operation.phase === 'failed' ? (
          <button
            type="button"
            className="jp-sessions-button jp-mod-accept"
            onClick={props.onBack}
          >
            Edit and retry
          </button>
        ) : null}
        {session ? (
          <button
            type="button"
            className="jp-sessions-button"
            onClick={props.onOpen}
          >
            Show details
          </button>
        ) : null}
        {!busy && operation.phase !== 'failed' ? (
          <button
            type="button"
            className="jp-sessions-button"
            onClick={props.onAnother}
          >
            Create another
          </button>
        ) : null}
        <button
          type="button"
          className="jp-sessions-button"
          onClick={props.onClose}
        >
          {busy ? 'Back to the list' : 'Close'}
        </button>
      </div>
    </div>
  );
}
