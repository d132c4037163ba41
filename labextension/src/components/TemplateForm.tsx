import React, { useState } from 'react';
import {
  IPropertyRow,
  ITemplateFormValues,
  ITemplateWrite,
  checkLabelChip,
  validateTemplateForm
} from '../templates';
import {
  FIELD_TEXT,
  FormActions,
  FormHeader,
  IdField,
  LabelledField,
  RuntimeSelect,
  TextField,
  TtlFields,
  useFormState
} from './FormFields';
import { CloseIcon } from './icons';

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
  const form = useFormState(props.initialValues, validateTemplateForm);
  const { values, set, errorOf, bind, invalid } = form;
  const [chip, setChip] = useState('');
  const [chipError, setChipError] = useState<string | null>(null);
  const sending = props.write?.phase === 'sending';

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
    form.touchAll();
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
  const labelsProblem = chipError ?? errorOf('labels');

  return (
    <form
      className="jp-sessions-form"
      onSubmit={submit}
      noValidate
      aria-label={title}
    >
      <FormHeader
        title={title}
        titleTip={title}
        backLabel="Back"
        onBack={props.onClose}
        parent={props.parent}
      />
      {failed ? (
        <div
          className="jp-sessions-outcome jp-sessions-operation-failed"
          role="alert"
        >
          <span>{failed.message}. Nothing was saved.</span>
        </div>
      ) : null}

      {props.editing ? null : (
        <IdField id="templateId" label="Template ID" {...bind('templateId')} />
      )}
      <TextField
        id="description"
        label="Description"
        {...bind('description')}
        placeholder="What the template is for"
      />
      <LabelledField label="Runtime" htmlFor="jp-sessions-template-runtime">
        <RuntimeSelect
          id="jp-sessions-template-runtime"
          value={values.runtime}
          onChange={value => set('runtime', value)}
        />
      </LabelledField>
      {values.runtime === 'SPARK_CONNECT' ? null : (
        <TextField
          id="displayName"
          label="Launcher card"
          {...bind('displayName')}
          placeholder={values.templateId || 'the template ID'}
          hint="The name of its card in the launcher's Sessions section."
        />
      )}
      <TextField
        id="templateVersion"
        {...FIELD_TEXT.version}
        {...bind('version')}
      />
      <TtlFields
        ids={['templateTtl', 'templateIdleTtl']}
        ttl={bind('ttl')}
        idleTtl={bind('idleTtl')}
      />

      <LabelledField label="Labels" htmlFor="jp-sessions-label-chip">
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
            labelsProblem ? 'jp-sessions-field-error' : 'jp-sessions-field-hint'
          }
          role={labelsProblem ? 'alert' : undefined}
        >
          {labelsProblem ??
            'key=value, Enter to add; applied to its sessions; at most 32.'}
        </div>
      </LabelledField>

      <fieldset className="jp-sessions-field">
        <legend className="jp-sessions-field-label">Runtime properties</legend>
        {values.properties.map((row, index) => (
          <div className="jp-sessions-property-row" key={index}>
            {PROPERTY_PARTS.map(([part, placeholder], n) => (
              <React.Fragment key={part}>
                {n ? <span aria-hidden="true">=</span> : null}
                <input
                  className="jp-sessions-input jp-sessions-mono"
                  aria-label={`Property ${index + 1} ${part}`}
                  placeholder={placeholder}
                  title={row[part]}
                  value={row[part]}
                  spellCheck={false}
                  onChange={event =>
                    setRow(index, { ...row, [part]: event.target.value })
                  }
                />
              </React.Fragment>
            ))}
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
        {...FIELD_TEXT.serviceAccount}
        {...bind('serviceAccount')}
      />
      <TextField
        id="templateSubnet"
        label="Subnetwork"
        placeholder="default"
        {...bind('subnet')}
      />

      <FormActions
        submitLabel={
          sending
            ? 'Saving…'
            : props.editing
              ? 'Save template'
              : 'Create template'
        }
        disabled={invalid || sending}
        submitTitle={invalid ? 'Fix the fields marked in red' : undefined}
        onCancel={props.onClose}
      />
    </form>
  );
}

/** A property row's two inputs: which part each edits, and its placeholder. */
const PROPERTY_PARTS: [keyof IPropertyRow, string][] = [
  ['key', 'spark:spark.executor.cores'],
  ['value', '4']
];
