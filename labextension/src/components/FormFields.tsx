import React, { useMemo, useState } from 'react';
import type { RuntimeChoice } from '../createForm';
import { DetailsHeader, IDetailsHeaderProps } from './DetailsLayout';

/** The keys of `V` whose values are strings (what a text field edits). */
type TextKey<V> = {
  [K in keyof V]: V[K] extends string ? K : never;
}[keyof V];

/** What a `TextField` needs from the form state for one field. */
export interface IBoundField {
  value: string;
  onChange: (value: string) => void;
  error?: string;
}

/**
 * A form's values and which fields were touched: a field's error shows once it
 * was edited, or after a submit (`touchAll`).
 */
export function useFormState<V extends object>(
  initial: V | (() => V),
  validate: (values: V) => Partial<Record<keyof V, string>>
) {
  const [values, setValues] = useState<V>(initial);
  const [touched, setTouched] = useState<Partial<Record<keyof V, boolean>>>({});
  const errors = useMemo(() => validate(values), [validate, values]);
  const invalid = Object.values(errors).some(Boolean);
  const set = <K extends keyof V>(field: K, value: V[K]) => {
    setValues(v => ({ ...v, [field]: value }));
    setTouched(t => ({ ...t, [field]: true }));
  };
  const errorOf = (field: keyof V): string | undefined =>
    touched[field] ? errors[field] : undefined;
  const bind = (field: TextKey<V>): IBoundField => ({
    value: values[field] as string,
    onChange: value => set(field, value as V[TextKey<V>]),
    error: errorOf(field)
  });
  const touchAll = () => {
    const all: Partial<Record<keyof V, boolean>> = {};
    (Object.keys(values) as (keyof V)[]).forEach(key => {
      all[key] = true;
    });
    setTouched(all);
  };
  const resetTouched = () => setTouched({});
  return {
    values,
    setValues,
    invalid,
    set,
    errorOf,
    bind,
    touchAll,
    resetTouched
  };
}

/** A form's title bar (back button and title) and the parent it writes to. */
export function FormHeader(
  props: IDetailsHeaderProps & { parent: string }
): JSX.Element {
  const { parent, ...header } = props;
  return (
    <>
      <DetailsHeader {...header} />
      <div className="jp-sessions-muted jp-sessions-form-context">
        in {parent}
      </div>
    </>
  );
}

export interface ITextFieldProps {
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
}

export function TextField(props: ITextFieldProps): JSX.Element {
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

/** Label, placeholder and hint of the fields both forms have. */
export const FIELD_TEXT = {
  version: { label: 'Runtime version', placeholder: 'default' },
  serviceAccount: { label: 'Service account', placeholder: 'default' },
  ttl: { label: 'TTL', placeholder: '24h', hint: 'Max lifetime: 10m to 14d.' },
  idleTtl: {
    label: 'Idle TTL',
    placeholder: '1h',
    hint: 'Idle shutdown: 10m to 14d.'
  }
};

/** The resource ID of a new session or template: required, focused first. */
export function IdField(
  props: IBoundField & { id: string; label: string }
): JSX.Element {
  return (
    <TextField
      {...props}
      hint="4–63 characters: lowercase letters, digits, hyphens; starts with a letter."
      required
      autoFocus
    />
  );
}

/** TTL and idle TTL side by side; `ids` name the two inputs. */
export function TtlFields(props: {
  ids: [string, string];
  ttl: IBoundField;
  idleTtl: IBoundField;
}): JSX.Element {
  return (
    <div className="jp-sessions-field-row">
      <TextField id={props.ids[0]} {...FIELD_TEXT.ttl} {...props.ttl} />
      <TextField id={props.ids[1]} {...FIELD_TEXT.idleTtl} {...props.idleTtl} />
    </div>
  );
}

/** A field whose control is not a text field: its label, then the control. */
export function LabelledField(props: {
  label: string;
  htmlFor: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <div className="jp-sessions-field">
      <label className="jp-sessions-field-label" htmlFor={props.htmlFor}>
        {props.label}
      </label>
      {props.children}
    </div>
  );
}

export const RUNTIME_LABELS: Record<RuntimeChoice, string> = {
  PYTHON: 'Jupyter, Python kernel',
  SCALA: 'Jupyter, Scala kernel',
  SPARK_CONNECT: 'Spark Connect'
};

export const RUNTIME_CHOICES = Object.keys(RUNTIME_LABELS) as RuntimeChoice[];

/** The runtime choice; a runtime with a reason in `unavailable` is disabled. */
export function RuntimeSelect(props: {
  id: string;
  value: RuntimeChoice;
  onChange: (value: RuntimeChoice) => void;
  unavailable?: Partial<Record<RuntimeChoice, string>>;
}): JSX.Element {
  return (
    <select
      id={props.id}
      className="jp-sessions-select"
      value={props.value}
      onChange={event => props.onChange(event.target.value as RuntimeChoice)}
    >
      {RUNTIME_CHOICES.map(choice => {
        const why = props.unavailable?.[choice] ?? '';
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
  );
}

/** Submit and Cancel at the foot of a form. */
export function FormActions(props: {
  submitLabel: string;
  disabled: boolean;
  submitTitle?: string;
  onCancel: () => void;
}): JSX.Element {
  return (
    <div className="jp-sessions-actions">
      <button
        type="submit"
        className="jp-sessions-button jp-mod-accept"
        disabled={props.disabled}
        title={props.submitTitle}
      >
        {props.submitLabel}
      </button>
      <button
        type="button"
        className="jp-sessions-button"
        onClick={props.onCancel}
      >
        Cancel
      </button>
    </div>
  );
}
