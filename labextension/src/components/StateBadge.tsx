import React from 'react';
import type { SessionState } from '../types';

const LABELS: Record<SessionState, string> = {
  STATE_UNSPECIFIED: 'Unknown',
  CREATING: 'Creating',
  ACTIVE: 'Active',
  TERMINATING: 'Terminating',
  TERMINATED: 'Terminated',
  FAILED: 'Failed'
};

const DESCRIPTIONS: Record<SessionState, string> = {
  STATE_UNSPECIFIED: 'The state is not known',
  CREATING: 'Being created; not running yet',
  ACTIVE: 'Running',
  TERMINATING: 'Shutting down',
  TERMINATED: 'Terminated; delete it to reuse its ID',
  FAILED: 'No longer running because of an error'
};

/** States shown with a spinner. */
export function isTransitional(state: SessionState): boolean {
  return state === 'CREATING' || state === 'TERMINATING';
}

/** The CSS class of a state, e.g. `jp-sessions-badge-active`. */
export function badgeClass(state: SessionState): string {
  return `jp-sessions-badge-${state.toLowerCase().replace(/_/g, '-')}`;
}

export interface IStateBadgeProps {
  state?: SessionState;
}

/** A coloured pill with the state's name; a spinner while it changes. */
export function StateBadge(props: IStateBadgeProps): JSX.Element {
  const state = props.state ?? 'STATE_UNSPECIFIED';
  return (
    <span
      className={`jp-sessions-badge ${badgeClass(state)}`}
      data-state={state}
      title={`${state}: ${DESCRIPTIONS[state]}`}
    >
      {isTransitional(state) ? (
        <span
          className="jp-sessions-spinner"
          role="progressbar"
          aria-label={`${LABELS[state]}…`}
        />
      ) : (
        <span className="jp-sessions-badge-dot" aria-hidden="true" />
      )}
      {LABELS[state]}
    </span>
  );
}
