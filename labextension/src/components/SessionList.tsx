import React from 'react';
import type { ISession } from '../types';
import { resourceId } from '../api';
import {
  formatAge,
  formatTimestamp,
  runtimeKind,
  splitLabels
} from '../format';
import { StateBadge } from './StateBadge';
import { NotebookBadge } from './NotebookBadge';
import type { IKernelLinks } from '../sessionKernels';
import { notebooksOf } from '../sessionKernels';

export interface ISessionListProps {
  sessions: ISession[];
  now: number;
  /** Whether any data arrived yet. */
  loaded: boolean;
  /** Total sessions before filtering. */
  total: number;
  onSelect: (name: string) => void;
  /** Running kernels and the notebooks on them, for the notebook badge. */
  kernels?: IKernelLinks;
}

/** The compact list of sessions. */
export function SessionList(props: ISessionListProps): JSX.Element {
  if (!props.loaded) {
    return (
      <div className="jp-sessions-empty">
        <span
          className="jp-sessions-spinner"
          role="progressbar"
          aria-label="Loading"
        />
        Loading sessions…
      </div>
    );
  }
  if (!props.sessions.length) {
    return (
      <div className="jp-sessions-empty">
        {props.total
          ? 'No session matches the filter.'
          : 'No sessions yet. Create one with + (New session) above.'}
      </div>
    );
  }
  return (
    <ul className="jp-sessions-list" aria-label="Sessions">
      {props.sessions.map(session => (
        <SessionRow
          key={session.name}
          session={session}
          now={props.now}
          onSelect={props.onSelect}
          notebooks={
            props.kernels ? notebooksOf(props.kernels, session) : undefined
          }
        />
      ))}
    </ul>
  );
}

export function SessionRow(props: {
  session: ISession;
  now: number;
  onSelect: (name: string) => void;
  /** Notebooks open on the session's kernel. */
  notebooks?: readonly string[];
}): JSX.Element {
  const { session, now } = props;
  const id = resourceId(session.name);
  const labels = splitLabels(session.labels).user;
  const kind = runtimeKind(session);
  const open = () => props.onSelect(session.name);
  return (
    <li
      className="jp-sessions-row"
      data-session={id}
      tabIndex={0}
      role="button"
      aria-label={`${id}, ${session.state ?? 'unknown state'}`}
      onClick={open}
      onKeyDown={event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          open();
        }
      }}
    >
      <div className="jp-sessions-row-main">
        <span className="jp-sessions-row-id" title={session.name}>
          {id}
        </span>
        <span className="jp-sessions-row-badges">
          <NotebookBadge paths={props.notebooks ?? []} />
          <StateBadge state={session.state} />
        </span>
      </div>
      <div className="jp-sessions-row-meta">
        <span title={`Created ${formatTimestamp(session.createTime)}`}>
          {formatAge(session.createTime, now)}
        </span>
        {session.creator ? (
          <span className="jp-sessions-row-creator" title={session.creator}>
            {session.creator}
          </span>
        ) : null}
        {kind ? <span>{kind}</span> : null}
      </div>
      {labels.length ? (
        <div className="jp-sessions-labels">
          {labels.slice(0, 4).map(([key, value]) => (
            <span
              key={key}
              className="jp-sessions-label"
              title={`${key}=${value}`}
            >
              {value ? `${key}=${value}` : key}
            </span>
          ))}
          {labels.length > 4 ? (
            <span className="jp-sessions-label jp-sessions-label-more">
              +{labels.length - 4}
            </span>
          ) : null}
        </div>
      ) : null}
      {session.state === 'FAILED' && session.stateMessage ? (
        <div className="jp-sessions-row-error" title={session.stateMessage}>
          {session.stateMessage}
        </div>
      ) : null}
    </li>
  );
}
