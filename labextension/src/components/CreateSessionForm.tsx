import React, { useEffect, useState } from 'react';
import type { ISession, ISessionInput, ISessionTemplate } from '../types';
import type { IOperationView } from '../model';
import { resourceId } from '../api';
import {
  ICreateFormValues,
  RuntimeChoice,
  SessionSource,
  buildCreateRequest,
  emptyForm,
  suggestSessionId,
  validateForm
} from '../createForm';
import { formatDuration, runtimeKind } from '../format';
import { parseProtoDuration } from '../validation';
import { StateBadge } from './StateBadge';
import {
  FIELD_TEXT,
  FormActions,
  FormHeader,
  IdField,
  LabelledField,
  RUNTIME_CHOICES,
  RUNTIME_LABELS,
  RuntimeSelect,
  TextField,
  TtlFields,
  useFormState
} from './FormFields';

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

/** The create dialog: fields validated as they are typed, then the operation's outcome. */
export function CreateSessionForm(props: ICreateSessionFormProps): JSX.Element {
  const form = useFormState<ICreateFormValues>(
    () => ({
      ...emptyForm,
      sessionId: suggestSessionId(),
      ...props.initialValues
    }),
    validateForm
  );
  const { values, set, errorOf, bind, invalid } = form;
  const [submitted, setSubmitted] = useState<string | null>(null);
  const templates = useTemplateList(props.loadTemplates);

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
          form.resetTouched();
          form.setValues(v => ({ ...v, sessionId: suggestSessionId() }));
        }}
      />
    );
  }

  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    form.touchAll();
    if (invalid) {
      return;
    }
    const request = buildCreateRequest(values);
    setSubmitted(request.sessionId);
    props.onCreate(request.sessionId, request.session);
  };

  const templateList = templates.status === 'loaded' ? templates.templates : [];
  const chosen = templateList.find(t => t.name === values.template);
  const unavailable = RUNTIME_CHOICES.filter(
    choice => !!props.runtimes?.[choice]
  );

  return (
    <form
      className="jp-sessions-form"
      onSubmit={submit}
      noValidate
      aria-label="New session"
    >
      <FormHeader
        title="New session"
        backLabel="Back to the list"
        onBack={props.onClose}
        parent={props.parent}
      />

      <IdField id="sessionId" label="Session ID" {...bind('sessionId')} />

      <fieldset className="jp-sessions-field">
        <legend className="jp-sessions-field-label">Configuration</legend>
        <div className="jp-sessions-segmented" role="radiogroup">
          {SOURCES.map(([source, label]) => (
            <label key={source}>
              <input
                type="radio"
                name="source"
                value={source}
                checked={values.source === source}
                onChange={() => set('source', source)}
              />
              {label}
            </label>
          ))}
        </div>
      </fieldset>

      {values.source === 'template' ? (
        <LabelledField label="Template" htmlFor="jp-sessions-template">
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
              onChange={event => set('template', event.target.value)}
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
        </LabelledField>
      ) : (
        <>
          <LabelledField label="Runtime" htmlFor="jp-sessions-runtime">
            <RuntimeSelect
              id="jp-sessions-runtime"
              value={values.runtime}
              onChange={value => set('runtime', value)}
              unavailable={props.runtimes}
            />
            {unavailable.length ? (
              <div
                className="jp-sessions-field-hint"
                id="jp-sessions-runtime-hint"
              >
                {unavailable
                  .map(
                    choice =>
                      `${RUNTIME_LABELS[choice]}: ${props.runtimes?.[choice]}`
                  )
                  .join(' ')}
              </div>
            ) : null}
          </LabelledField>
          <TextField
            id="version"
            {...FIELD_TEXT.version}
            {...bind('version')}
          />
        </>
      )}

      <TtlFields
        ids={['ttl', 'idleTtl']}
        ttl={bind('ttl')}
        idleTtl={bind('idleTtl')}
      />

      <TextField
        id="labels"
        label="Labels"
        {...bind('labels')}
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
            {...bind('properties')}
            placeholder="spark:spark.executor.cores=4"
            hint="One key=value per line."
            multiline
          />
          <TextField
            id="serviceAccount"
            {...FIELD_TEXT.serviceAccount}
            {...bind('serviceAccount')}
          />
        </details>
      ) : null}

      <FormActions
        submitLabel="Create"
        disabled={invalid}
        submitTitle={
          invalid ? 'Fix the fields marked in red' : 'Create the session'
        }
        onCancel={props.onClose}
      />
    </form>
  );
}

const SOURCES: [SessionSource, string][] = [
  ['fields', 'Fields'],
  ['template', 'Template']
];

type TemplatesState =
  | { status: 'loading' }
  | { status: 'loaded'; templates: ISessionTemplate[] }
  | { status: 'error'; message: string };

/** The parent's templates, loaded once when the form opens. */
function useTemplateList(
  loadTemplates: () => Promise<ISessionTemplate[]>
): TemplatesState {
  const [templates, setTemplates] = useState<TemplatesState>({
    status: 'loading'
  });
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
  return templates;
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
