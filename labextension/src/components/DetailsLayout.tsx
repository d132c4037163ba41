import React from 'react';
import { formatDuration } from '../format';
import { parseProtoDuration } from '../validation';
import { BackIcon } from './icons';

export interface IDetailsHeaderProps {
  title: string;
  /** Tooltip of the title, if any. */
  titleTip?: string;
  backLabel: string;
  onBack: () => void;
  /** Badges after the title. */
  children?: React.ReactNode;
}

/** The title bar of a page in the panel: a back button, the title, then badges. */
export function DetailsHeader(props: IDetailsHeaderProps): JSX.Element {
  return (
    <div className="jp-sessions-details-header">
      <button
        type="button"
        className="jp-sessions-icon-button"
        title={props.backLabel}
        aria-label={props.backLabel}
        onClick={props.onBack}
      >
        <BackIcon />
      </button>
      <h3 className="jp-sessions-details-title" title={props.titleTip}>
        {props.title}
      </h3>
      {props.children}
    </div>
  );
}

/** A titled section of a details page. */
export function Section(props: {
  title: React.ReactNode;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <section className="jp-sessions-section">
      <h4 className="jp-sessions-section-title">{props.title}</h4>
      {props.children}
    </section>
  );
}

/** One term of a `<dl className="jp-sessions-fields">`; nothing without a value. */
export function Field(props: {
  label: string;
  value?: string;
  title?: string;
  mono?: boolean;
}): JSX.Element | null {
  if (!props.value) {
    return null;
  }
  return (
    <>
      <dt>{props.label}</dt>
      <dd
        className={props.mono ? 'jp-sessions-mono' : undefined}
        title={props.title ?? props.value}
      >
        {props.value}
      </dd>
    </>
  );
}

/** Key/value pairs in monospace, e.g. runtime properties. */
export function MonoFields(props: {
  entries: readonly [string, string][];
}): JSX.Element {
  return (
    <dl className="jp-sessions-fields">
      {props.entries.map(([key, value]) => (
        <Field key={key} label={key} value={value} mono />
      ))}
    </dl>
  );
}

/** Labels as chips: `key=value`, or `key` alone when the value is empty. */
export function LabelChips(props: {
  labels: readonly [string, string][];
}): JSX.Element {
  return (
    <div className="jp-sessions-labels">
      {props.labels.map(([key, value]) => (
        <span key={key} className="jp-sessions-label">
          {value ? `${key}=${value}` : key}
        </span>
      ))}
    </div>
  );
}

/** A row of buttons on a details page. */
export function ActionButton(props: {
  /** Extra classes after `jp-sessions-button`. */
  variant?: string;
  disabled?: boolean;
  title?: string;
  onClick: () => void;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <button
      type="button"
      className={
        props.variant
          ? `jp-sessions-button ${props.variant}`
          : 'jp-sessions-button'
      }
      disabled={props.disabled}
      title={props.title}
      onClick={props.onClick}
    >
      {props.children}
    </button>
  );
}

/** A protobuf duration ("3600s") for people ("1h"); undefined when unreadable. */
export function durationText(value: string | undefined): string | undefined {
  const seconds = parseProtoDuration(value);
  return seconds === null ? undefined : formatDuration(seconds);
}
