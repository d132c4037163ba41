import React, { useMemo, useState } from 'react';
import type { RuntimeChoice } from '../createForm';
import {
  IPropertyRow,
  ITemplateFormValues,
  ITemplateWrite,
  TemplateField,
  checkLabelChip,
  hasErrors,
  validateTemplateForm
} from '../templates';
import { TextField } from './CreateSessionForm';
import { BackIcon, CloseIcon } from './icons';

export interface ITemplateFormProps {
  /** `projects/P/locations/L`, shown for context. */
  parent: string;
  initialValues: ITemplateFormValues;
  /** Editing an existing template: its id cannot change. */
  editing: boolean;
  /** Filled from a session ("Save as template"): its id, for the title. */
  fromSession?: string;
  /** The last write, shown while sending and when it failed. */
  write: ITemplateWrite | null;
  onSave: (values: ITemplateFormValues) => void;
  onClose: () => void;
}

/** Create or edit a template: the session form's rules, checked as they are typed. */
export function TemplateForm(props: ITemplateFormProps): JSX.Element {
  const [values, setValues] = useState<ITemplateFormValues>(
    props.initialValues
  );
  const [touched, setTouched] = useState<
    Partial<Record<TemplateField, boolean>>
  >({});
  const [chip, setChip] = useState('');
  const [chipError, setChipError] = useState<string | null>(null);
  const errors = useMemo(() => validateTemplateForm(values), [values]);
  const invalid = hasErrors(errors);
  const sending = props.write?.phase === 'sending';

  const set = <K extends TemplateField>(
    field: K,
    value: ITemplateFormValues[K]
  ) => {
    setValues(v => ({ ...v, [field]: value }));
    setTouched(t => ({ ...t, [field]: true }));
  };
  const errorOf = (field: TemplateField): string | undefined =>
    touched[field] ? errors[field] : undefined;

  const addChip = () => {
    const problem = checkLabelChip(chip, values.labels);
    if (problem) {
      setChipError(problem);
      return;
    }
    set('labels', [...values.labels, chip.trim()]);
    setChip('');
    setChipError(null);
  };
  const setRow = (index: number, row: IPropertyRow) =>
    set(
      'properties',
      values.properties.map((r, i) => (i === index ? row : r))
    );

  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    const all: Partial<Record<TemplateField, boolean>> = {};
    (Object.keys(values) as TemplateField[]).forEach(key => {
      all[key] = true;
    });
    setTouched(all);
    if (!invalid && !sending) {
      props.onSave(values);
    }
  };

  const title = props.editing
    ? `Edit ${values.templateId}`
    : props.fromSession
      ? `Save ${props.fromSession} as a template`
      : 'New template';
  const failed = props.write?.phase === 'failed' ? props.write : null;

  return (
    <form
      className="jp-sessions-form"
      onSubmit={submit}
      noValidate
      aria-label={title}
    >
      <div className="jp-sessions-details-header">
        <button
          type="button"
          className="jp-sessions-icon-button"
          title="Back"
          aria-label="Back"
          onClick={props.onClose}
        >
          <BackIcon />
        </button>
        <h3 className="jp-sessions-details-title" title={title}>
          {title}
        </h3>
      </div>
      <div className="jp-sessions-muted jp-sessions-form-context">
        in {props.parent}
      </div>
      {failed ? (
        <div
          className="jp-sessions-outcome jp-sessions-operation-failed"
          role="alert"
        >
          <span>{failed.message}. Nothing was saved.</span>
        </div>
      ) : null}

      {props.editing ? null : (
        <TextField
          id="templateId"
          label="Template ID"
          value={values.templateId}
          onChange={value => set('templateId', value)}
          error={errorOf('templateId')}
          hint="4–63 characters: lowercase letters, digits, hyphens; starts with a letter."
          required
          autoFocus
        />
      )}
      <TextField
        id="description"
        label="Description"
        value={values.description}
        onChange={value => set('description', value)}
        placeholder="What the template is for"
      />
      <div className="jp-sessions-field">
        <label
          className="jp-sessions-field-label"
          htmlFor="jp-sessions-template-runtime"
        >
          Runtime
        </label>
        <select
          id="jp-sessions-template-runtime"
          className="jp-sessions-select"
          value={values.runtime}
          onChange={event =>
            set('runtime', event.target.value as RuntimeChoice)
          }
        >
          <option value="PYTHON">Jupyter, Python kernel</option>
          <option value="SCALA">Jupyter, Scala kernel</option>
          <option value="SPARK_CONNECT">Spark Connect</option>
        </select>
      </div>
      {values.runtime === 'SPARK_CONNECT' ? null : (
        <TextField
          id="displayName"
          label="Launcher card"
          value={values.displayName}
          onChange={value => set('displayName', value)}
          error={errorOf('displayName')}
          placeholder={values.templateId || 'the template ID'}
          hint="The name of its card in the launcher's Sessions section."
        />
      )}
      <TextField
        id="templateVersion"
        label="Runtime version"
        value={values.version}
        onChange={value => set('version', value)}
        error={errorOf('version')}
        placeholder="default"
      />
      <div className="jp-sessions-field-row">
        <TextField
          id="templateTtl"
          label="TTL"
          value={values.ttl}
          onChange={value => set('ttl', value)}
          error={errorOf('ttl')}
          placeholder="24h"
          hint="Max lifetime: 10m to 14d."
        />
        <TextField
          id="templateIdleTtl"
          label="Idle TTL"
          value={values.idleTtl}
          onChange={value => set('idleTtl', value)}
          error={errorOf('idleTtl')}
          placeholder="1h"
          hint="Idle shutdown: 10m to 14d."
        />
      </div>

      <div className="jp-sessions-field">
        <label
          className="jp-sessions-field-label"
          htmlFor="jp-sessions-label-chip"
        >
          Labels
        </label>
        {values.labels.length ? (
          <ul className="jp-sessions-chips" aria-label="Labels added">
            {values.labels.map(label => (
              <li key={label} className="jp-sessions-chip">
                <span>{label}</span>
                <button
                  type="button"
                  className="jp-sessions-chip-remove"
                  title={`Remove ${label}`}
                  aria-label={`Remove label ${label}`}
                  onClick={() =>
                    set(
                      'labels',
                      values.labels.filter(l => l !== label)
                    )
                  }
                >
                  <CloseIcon />
                </button>
              </li>
            ))}
          </ul>
        ) : null}
        <div className="jp-sessions-inline">
          <input
            id="jp-sessions-label-chip"
            className={`jp-sessions-input ${chipError ? 'jp-sessions-input-invalid' : ''}`}
            value={chip}
            placeholder="team=data"
            spellCheck={false}
            autoComplete="off"
            aria-invalid={!!chipError}
            onChange={event => {
              setChip(event.target.value);
              setChipError(null);
            }}
            onKeyDown={event => {
              if (event.key === 'Enter' || event.key === ',') {
                event.preventDefault();
                addChip();
              }
            }}
          />
          <button
            type="button"
            className="jp-sessions-button"
            onClick={addChip}
          >
            Add
          </button>
        </div>
        <div
          className={
            chipError || errorOf('labels')
              ? 'jp-sessions-field-error'
              : 'jp-sessions-field-hint'
          }
          role={chipError || errorOf('labels') ? 'alert' : undefined}
        >
          {chipError ??
            errorOf('labels') ??
            'key=value, Enter to add; applied to its sessions; at most 32.'}
        </div>
      </div>

      <fieldset className="jp-sessions-field">
        <legend className="jp-sessions-field-label">Runtime properties</legend>
        {values.properties.map((row, index) => (
          <div className="jp-sessions-property-row" key={index}>
            <input
              className="jp-sessions-input jp-sessions-mono"
              aria-label={`Property ${index + 1} key`}
              placeholder="spark:spark.executor.cores"
              title={row.key}
              value={row.key}
              spellCheck={false}
              onChange={event =>
                setRow(index, { ...row, key: event.target.value })
              }
            />
            <span aria-hidden="true">=</span>
            <input
              className="jp-sessions-input jp-sessions-mono"
              aria-label={`Property ${index + 1} value`}
              placeholder="4"
              title={row.value}
              value={row.value}
              spellCheck={false}
              onChange={event =>
                setRow(index, { ...row, value: event.target.value })
              }
            />
            <button
              type="button"
              className="jp-sessions-icon-button"
              title="Remove this property"
              aria-label={`Remove property ${index + 1}`}
              onClick={() =>
                set(
                  'properties',
                  values.properties.filter((_, i) => i !== index)
                )
              }
            >
              <CloseIcon />
            </button>
          </div>
        ))}
        <div>
          <button
            type="button"
            className="jp-sessions-button"
            onClick={() =>
              set('properties', [...values.properties, { key: '', value: '' }])
            }
          >
            Add property
          </button>
        </div>
        {errorOf('properties') ? (
          <div className="jp-sessions-field-error" role="alert">
            {errorOf('properties')}
          </div>
        ) : null}
      </fieldset>

      <TextField
        id="templateServiceAccount"
        label="Service account"
        value={values.serviceAccount}
        onChange={value => set('serviceAccount', value)}
        error={errorOf('serviceAccount')}
        placeholder="default"
      />
      <TextField
        id="templateSubnet"
        label="Subnetwork"
        value={values.subnet}
        onChange={value => set('subnet', value)}
        error={errorOf('subnet')}
        placeholder="default"
      />

      <div className="jp-sessions-actions">
        <button
          type="submit"
          className="jp-sessions-button jp-mod-accept"
          disabled={invalid || sending}
          title={invalid ? 'Fix the fields marked in red' : undefined}
        >
          {sending
            ? 'Saving…'
            : props.editing
              ? 'Save template'
              : 'Create template'}
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
