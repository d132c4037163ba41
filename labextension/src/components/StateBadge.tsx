import React from 'react';
import type { SessionState } from '../types';

export const STATE_LABELS: Record<SessionState, string> = {
  STATE_UNSPECIFIED: 'Unknown',
  CREATING: 'Creating',
  ACTIVE: 'Active',
  TERMINATING: 'Terminating',
  TERMINATED: 'Terminated',
  FAILED: 'Failed'
};

export const STATE_DESCRIPTIONS: Record<SessionState, string> = {
  STATE_UNSPECIFIED: 'The state is not known',
  CREATING: 'Being created; not running yet',
  ACTIVE: 'Running',
  TERMINATING: 'Shutting down',
  TERMINATED: 'Terminated; delete it to reuse its ID',
  FAILED: 'No longer running because of an error'
};

/** The theme variable each state is drawn in (the same in the magics and the widget panel). */
export const STATE_COLOUR_VARS: Record<SessionState, string> = {
  STATE_UNSPECIFIED: '--jp-ui-font-color3',
  CREATING: '--jp-brand-color1',
  ACTIVE: '--jp-success-color1',
  TERMINATING: '--jp-warn-color1',
  TERMINATED: '--jp-ui-font-color2',
  FAILED: '--jp-error-color1'
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
      style={
        {
          '--jp-sessions-state-color': `var(${STATE_COLOUR_VARS[state]})`
        } as React.CSSProperties
      }
      title={`${state}: ${STATE_DESCRIPTIONS[state]}`}
    >
      {isTransitional(state) ? (
        <span
          className="jp-sessions-spinner"
          role="progressbar"
          aria-label={`${STATE_LABELS[state]}…`}
        />
      ) : (
        <span className="jp-sessions-badge-dot" aria-hidden="true" />
      )}
      {STATE_LABELS[state]}
    </span>
  );
}
