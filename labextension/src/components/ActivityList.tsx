import React from 'react';
import type { IOperationView } from '../model';
import { CloseIcon } from './icons';

export interface IActivityListProps {
  operations: IOperationView[];
  onDismiss: (id: string) => void;
  onShow: (sessionName: string) => void;
  /** Show at most this many. */
  limit?: number;
  /** Current time (ms): successes older than `keepSucceededMs` are left out. */
  now?: number;
  keepSucceededMs?: number;
}

const PHASE_LABEL: Record<IOperationView['phase'], string> = {
  sending: 'Sending',
  running: 'In progress',
  succeeded: 'Done',
  failed: 'Failed',
  timeout: 'Still running'
};

/** Operations started from the panel and how they ended. */
export function ActivityList(props: IActivityListProps): JSX.Element | null {
  const keep = props.keepSucceededMs ?? 15000;
  // Running operations, then only the latest outcome: older outcomes do not
  // pile up (the session's own page keeps its last operation).
  let outcomes = 0;
  const operations = props.operations
    .filter(
      op =>
        props.now === undefined ||
        op.phase !== 'succeeded' ||
        op.finishedAt === undefined ||
        props.now - op.finishedAt < keep
    )
    .filter(op => {
      if (op.phase === 'sending' || op.phase === 'running') {
        return true;
      }
      outcomes += 1;
      return outcomes === 1;
    })
    .slice(0, props.limit ?? 4);
  if (!operations.length) {
    return null;
  }
  return (
    <ul className="jp-sessions-activity" aria-label="Recent operations">
      {operations.map(op => (
        <OperationItem
          key={op.id}
          operation={op}
          onDismiss={props.onDismiss}
          onShow={props.onShow}
        />
      ))}
    </ul>
  );
}

export function OperationItem(props: {
  operation: IOperationView;
  onDismiss?: (id: string) => void;
  onShow?: (sessionName: string) => void;
}): JSX.Element {
  const op = props.operation;
  const busy = op.phase === 'sending' || op.phase === 'running';
  return (
    <li
      className={`jp-sessions-operation jp-sessions-operation-${op.phase}`}
      data-phase={op.phase}
      title={PHASE_LABEL[op.phase]}
    >
      {busy ? (
        <span
          className="jp-sessions-spinner"
          role="progressbar"
          aria-label="In progress"
        />
      ) : (
        <span className="jp-sessions-operation-mark" aria-hidden="true">
          {op.phase === 'succeeded' ? '✓' : op.phase === 'failed' ? '✕' : '…'}
        </span>
      )}
      <span className="jp-sessions-operation-message">
        {props.onShow && op.kind !== 'delete' && op.phase !== 'failed' ? (
          <button
            type="button"
            className="jp-sessions-link-button"
            onClick={() => props.onShow?.(op.sessionName)}
          >
            {op.message}
          </button>
        ) : (
          op.message
        )}
      </span>
      {!busy && props.onDismiss ? (
        <button
          type="button"
          className="jp-sessions-icon-button"
          aria-label="Dismiss"
          title="Dismiss"
          onClick={() => props.onDismiss?.(op.id)}
        >
          <CloseIcon />
        </button>
      ) : null}
    </li>
  );
}
