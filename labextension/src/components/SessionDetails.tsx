import React, { useEffect, useRef, useState } from 'react';
import type { ISession, SessionState } from '../types';
import type { IOperationView } from '../model';
import { resourceId } from '../api';
import {
  ICountdown,
  formatDuration,
  formatShortTime,
  formatTimestamp,
  idleCountdown,
  parseTime,
  runtimeKind,
  splitLabels,
  ttlCountdown,
  usageRows
} from '../format';
import { canDelete, canTerminate, deleteHint, terminateHint } from '../state';
import {
  ActionButton,
  DetailsHeader,
  Field,
  LabelChips,
  MonoFields,
  Section,
  durationText
} from './DetailsLayout';
import { StateBadge, badgeClass } from './StateBadge';
import { OperationItem } from './ActivityList';
import { CopyIcon } from './icons';
import { copyText } from './hooks';
import { NotebookBadge } from './NotebookBadge';

export interface ISessionDetailsProps {
  /** Full name of the session to show. */
  name: string;
  /** The session, or undefined once it is gone. */
  session?: ISession;
  now: number;
  /** The latest operation started from the panel on this session, if any. */
  operation?: IOperationView;
  onBack: () => void;
  onTerminate: (name: string) => void;
  onDelete: (name: string) => void;
  onDismiss?: (id: string) => void;
  /** Notebooks open on the session's kernel. */
  notebooks?: readonly string[];
  /** Whether a notebook can attach now (ACTIVE, with a running kernel). */
  canOpenNotebook?: boolean;
  /** Open a new notebook on the session's kernel; no button without it. */
  onOpenNotebook?: (session: ISession) => void;
  /** "Save as template": the template form, filled from the session. */
  onSaveAsTemplate?: (session: ISession) => void;
  /** Show the session's kernel log in JupyterLab; no button without it. */
  onOpenLog?: (session: ISession) => void;
}

/** The endpoint that names the kernel log of an emulator session. */
export const KERNEL_LOG_ENDPOINT = 'Jupyter Kernel Log';

/** Everything about one session. */
export function SessionDetails(props: ISessionDetailsProps): JSX.Element {
  const { session, now, operation } = props;
  const id = resourceId(props.name);
  const busy =
    !!operation &&
    (operation.phase === 'sending' || operation.phase === 'running');
  // A session deleted from here: back to the list once the delete is done.
  const deleted =
    !session && operation?.kind === 'delete' && operation.phase === 'succeeded';
  const { onBack } = props;
  useEffect(() => {
    if (deleted) {
      onBack();
    }
  }, [deleted, onBack]);
  // The details take the focus when they open, so Escape goes back at once.
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    root.current?.focus({ preventScroll: true });
  }, [props.name]);
  return (
    <div
      ref={root}
      tabIndex={-1}
      className="jp-sessions-details"
      aria-label={`Session ${id}`}
      onKeyDown={event => {
        if (event.key === 'Escape' && !event.defaultPrevented) {
          event.preventDefault();
          onBack();
        }
      }}
    >
      <DetailsHeader
        title={id}
        titleTip={props.name}
        backLabel="Back to the list"
        onBack={props.onBack}
      >
        <NotebookBadge paths={props.notebooks ?? []} />
        {session ? <StateBadge state={session.state} /> : null}
      </DetailsHeader>
      {operation ? (
        <ul className="jp-sessions-activity">
          <OperationItem operation={operation} onDismiss={props.onDismiss} />
        </ul>
      ) : null}
      {!session ? (
        <div className="jp-sessions-empty">This session no longer exists.</div>
      ) : (
        <SessionBody
          session={session}
          now={now}
          busy={busy}
          onTerminate={props.onTerminate}
          onDelete={props.onDelete}
          notebooks={props.notebooks ?? []}
          canOpenNotebook={!!props.canOpenNotebook}
          onOpenNotebook={props.onOpenNotebook}
          onSaveAsTemplate={props.onSaveAsTemplate}
          onOpenLog={props.onOpenLog}
        />
      )}
    </div>
  );
}

function SessionBody(props: {
  session: ISession;
  now: number;
  busy: boolean;
  onTerminate: (name: string) => void;
  onDelete: (name: string) => void;
  notebooks: readonly string[];
  canOpenNotebook: boolean;
  onOpenNotebook?: (session: ISession) => void;
  onSaveAsTemplate?: (session: ISession) => void;
  onOpenLog?: (session: ISession) => void;
}): JSX.Element {
  const { session, now, busy } = props;
  const state = session.state ?? 'STATE_UNSPECIFIED';
  const exec = session.environmentConfig?.executionConfig;
  const endpoints = Object.entries(session.runtimeInfo?.endpoints ?? {});
  const usage = usageRows(
    session.runtimeInfo?.currentUsage,
    session.runtimeInfo?.approximateUsage
  );
  const labels = splitLabels(session.labels);
  const properties = Object.entries(
    session.runtimeConfig?.properties ?? {}
  ).sort(([a], [b]) => a.localeCompare(b));
  return (
    <>
      <div className="jp-sessions-actions">
        {OPERATIONS.map(([verb, variant, allowed, hint, run]) => (
          <ActionButton
            key={verb}
            variant={variant}
            disabled={!allowed(session.state) || busy}
            title={busy ? 'An operation is in progress' : hint(session.state)}
            onClick={() => props[run](session.name)}
          >
            {verb}
          </ActionButton>
        ))}
        <CopyButton text={session.name} label="Copy name" />
      </div>
      {props.onOpenNotebook && session.state === 'ACTIVE' ? (
        <div className="jp-sessions-actions">
          <button
            type="button"
            className="jp-sessions-button jp-sessions-open-notebook"
            disabled={!props.canOpenNotebook}
            title={openNotebookHint(props.canOpenNotebook)}
            onClick={() => props.onOpenNotebook?.(session)}
          >
            Open a notebook on this session
          </button>
        </div>
      ) : null}
      {props.onSaveAsTemplate ? (
        <div className="jp-sessions-actions">
          <button
            type="button"
            className="jp-sessions-button"
            title="A new template with this session's configuration (runtime, properties, TTLs, labels)"
            onClick={() => props.onSaveAsTemplate?.(session)}
          >
            Save as template
          </button>
        </div>
      ) : null}
      {session.stateMessage ? (
        <div
          className={`jp-sessions-message ${
            state === 'FAILED' ? 'jp-sessions-message-error' : ''
          }`}
          role={state === 'FAILED' ? 'alert' : undefined}
        >
          {session.stateMessage}
        </div>
      ) : null}
      <Countdowns session={session} now={now} />
      <Section title="Overview">
        <dl className="jp-sessions-fields">
          <Field
            label="Created"
            value={formatShortTime(session.createTime, now)}
            title={formatTimestamp(session.createTime)}
          />
          <Field label="Creator" value={session.creator} />
          <Field label="User" value={session.user} />
          <Field label="Runtime" value={runtimeKind(session)} />
          <Field label="Version" value={session.runtimeConfig?.version} />
          <Field
            label="Template"
            value={
              session.sessionTemplate
                ? resourceId(session.sessionTemplate)
                : undefined
            }
            title={session.sessionTemplate}
          />
          <Field label="TTL" value={durationText(exec?.ttl)} />
          <Field label="Idle TTL" value={durationText(exec?.idleTtl)} />
          <Field label="Service account" value={exec?.serviceAccount} />
          <Field label="UUID" value={session.uuid} mono />
          <Field label="Notebooks" value={props.notebooks.join(', ')} />
        </dl>
      </Section>
      <Section title="Endpoints">
        {endpoints.length ||
        session.runtimeInfo?.outputUri ||
        session.runtimeInfo?.diagnosticOutputUri ? (
          <ul className="jp-sessions-endpoints">
            {endpoints
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([key, uri]) => (
                <Endpoint
                  key={key}
                  label={key}
                  uri={uri}
                  onView={
                    key === KERNEL_LOG_ENDPOINT && props.onOpenLog
                      ? () => props.onOpenLog?.(session)
                      : undefined
                  }
                />
              ))}
            {session.runtimeInfo?.outputUri ? (
              <Endpoint label="Output" uri={session.runtimeInfo.outputUri} />
            ) : null}
            {session.runtimeInfo?.diagnosticOutputUri ? (
              <Endpoint
                label="Diagnostics"
                uri={session.runtimeInfo.diagnosticOutputUri}
              />
            ) : null}
          </ul>
        ) : (
          <div className="jp-sessions-muted">
            {state === 'CREATING' ? 'Available once ACTIVE.' : 'None.'}
          </div>
        )}
      </Section>
      <Section title="Usage">
        {usage.length ? (
          <dl className="jp-sessions-fields">
            {usage.map(row => (
              <Field
                key={row.label}
                label={row.label}
                value={row.value}
                title={row.title}
              />
            ))}
          </dl>
        ) : (
          <div className="jp-sessions-muted">No usage reported yet.</div>
        )}
      </Section>
      <Section title="Timeline">
        <Timeline session={session} now={now} />
      </Section>
      {labels.user.length || labels.system.length ? (
        <Section title="Labels">
          <LabelChips labels={labels.user} />
          {labels.system.length ? (
            <details className="jp-sessions-more">
              <summary>System labels ({labels.system.length})</summary>
              <MonoFields entries={labels.system} />
            </details>
          ) : null}
        </Section>
      ) : null}
      {properties.length ? (
        <Section title="Properties">
          <details className="jp-sessions-more">
            <summary>{properties.length} runtime properties</summary>
            <MonoFields entries={properties} />
          </details>
        </Section>
      ) : null}
    </>
  );
}

/** Terminate and Delete: label, class, when allowed, why not, and the prop it calls. */
type SessionOperation = [
  verb: string,
  variant: string,
  allowed: (state: SessionState | undefined) => boolean,
  hint: (state: SessionState | undefined) => string,
  run: 'onTerminate' | 'onDelete'
];

const OPERATIONS: SessionOperation[] = [
  ['Terminate', 'jp-mod-warn', canTerminate, terminateHint, 'onTerminate'],
  ['Delete', 'jp-mod-reject', canDelete, deleteHint, 'onDelete']
];

function openNotebookHint(ok: boolean): string {
  return ok
    ? 'Create a new notebook whose kernel is the one running in this session'
    : 'The session has no kernel a notebook can attach to (yet)';
}

function CopyButton(props: { text: string; label: string }): JSX.Element {
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <button
      type="button"
      className="jp-sessions-icon-button"
      title={copied === null ? props.label : copied ? 'Copied' : 'Copy failed'}
      aria-label={props.label}
      onClick={() => {
        void copyText(props.text).then(ok => {
          setCopied(ok);
          setTimeout(() => setCopied(null), 1500);
        });
      }}
    >
      <CopyIcon />
      {copied ? <span className="jp-sessions-copied">Copied</span> : null}
    </button>
  );
}

function Endpoint(props: {
  label: string;
  uri: string;
  onView?: () => void;
}): JSX.Element {
  const web = /^https?:\/\//i.test(props.uri);
  return (
    <li className="jp-sessions-endpoint">
      <span className="jp-sessions-endpoint-label">{props.label}</span>
      <span className="jp-sessions-endpoint-value" title={props.uri}>
        {web ? (
          <a href={props.uri} target="_blank" rel="noopener noreferrer">
            {props.uri}
          </a>
        ) : (
          <code>{props.uri}</code>
        )}
      </span>
      {props.onView ? (
        <button
          type="button"
          className="jp-sessions-link-button jp-sessions-endpoint-view"
          title={`Open the ${props.label.toLowerCase()} in JupyterLab (read-only)`}
          onClick={props.onView}
        >
          View
        </button>
      ) : null}
      <CopyButton text={props.uri} label={`Copy ${props.label}`} />
    </li>
  );
}

function Countdowns(props: {
  session: ISession;
  now: number;
}): JSX.Element | null {
  const idle = idleCountdown(props.session, props.now);
  const ttl = ttlCountdown(props.session, props.now);
  if (!idle && !ttl) {
    return null;
  }
  return (
    <div className="jp-sessions-countdowns">
      {idle ? (
        <Countdown
          label="Idle shutdown"
          countdown={idle}
          note={`after ${formatDuration(idle.total)} without activity; activity postpones it`}
        />
      ) : null}
      {ttl ? (
        <Countdown
          label="Max lifetime"
          countdown={ttl}
          note={`TTL ${formatDuration(ttl.total)}`}
        />
      ) : null}
    </div>
  );
}

function Countdown(props: {
  label: string;
  countdown: ICountdown;
  note: string;
}): JSX.Element {
  const { remaining, total, dueAt } = props.countdown;
  const fraction = total > 0 ? Math.min(1, Math.max(0, remaining / total)) : 0;
  const low = remaining < Math.min(600, total * 0.1);
  return (
    <div
      className={`jp-sessions-countdown ${low ? 'jp-sessions-countdown-low' : ''}`}
      title={`${props.note}; due ${formatTimestamp(new Date(dueAt).toISOString())}`}
    >
      <div className="jp-sessions-countdown-text">
        <span>{props.label}</span>
        <span className="jp-sessions-countdown-value">
          {remaining > 0 ? `in ${formatDuration(remaining)}` : 'due now'}
        </span>
      </div>
      <div className="jp-sessions-meter" aria-hidden="true">
        <div
          className="jp-sessions-meter-fill"
          style={{ width: `${Math.round(fraction * 100)}%` }}
        />
      </div>
    </div>
  );
}

interface ITimelineEntry {
  state: SessionState;
  start?: string;
  end?: string;
  message?: string;
  current: boolean;
}

/** Earlier states then the current one, each with how long it lasted. */
export function timelineEntries(session: ISession): ITimelineEntry[] {
  const history = session.stateHistory ?? [];
  const entries: ITimelineEntry[] = history.map((entry, index) => ({
    state: entry.state ?? 'STATE_UNSPECIFIED',
    start: entry.stateStartTime,
    end: history[index + 1]?.stateStartTime ?? session.stateTime,
    message: entry.stateMessage,
    current: false
  }));
  entries.push({
    state: session.state ?? 'STATE_UNSPECIFIED',
    start: session.stateTime,
    message: session.stateMessage,
    current: true
  });
  return entries;
}

function Timeline(props: { session: ISession; now: number }): JSX.Element {
  const entries = timelineEntries(props.session);
  return (
    <ol className="jp-sessions-timeline">
      {entries.map((entry, index) => {
        const start = parseTime(entry.start);
        // A final state has no duration; a running one counts up to now.
        const final =
          entry.current &&
          (entry.state === 'TERMINATED' || entry.state === 'FAILED');
        const end = entry.current ? props.now : parseTime(entry.end);
        const lasted =
          !final && start !== null && end !== null
            ? formatDuration((end - start) / 1000)
            : '';
        return (
          <li
            key={index}
            className={`jp-sessions-timeline-entry ${badgeClass(entry.state)} ${
              entry.current ? 'jp-sessions-timeline-current' : ''
            }`}
          >
            <span className="jp-sessions-timeline-dot" aria-hidden="true" />
            <div className="jp-sessions-timeline-body">
              <div>
                <strong>{entry.state}</strong>
                {lasted ? (
                  <span className="jp-sessions-muted">
                    {entry.current ? ` · for ${lasted}` : ` · ${lasted}`}
                  </span>
                ) : null}
              </div>
              <div
                className="jp-sessions-muted"
                title={formatTimestamp(entry.start)}
              >
                {formatShortTime(entry.start, props.now)}
              </div>
              {entry.message && !entry.current ? (
                <div className="jp-sessions-timeline-message">
                  {entry.message}
                </div>
              ) : null}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
