import React from 'react';
import type { IModelSnapshot } from '../model';
import { statusLine } from '../state';

export interface IStatusLineProps {
  snapshot: IModelSnapshot;
  now: number;
  onRetry: () => void;
}

/** A warning line while the server or the backend cannot be reached. */
export function StatusLine(props: IStatusLineProps): JSX.Element | null {
  const { snapshot, now } = props;
  let text: string | null;
  if (snapshot.configError) {
    text = `Sessions server extension unreachable: ${snapshot.configError}`;
  } else {
    text = statusLine(snapshot.state, now);
  }
  if (!text) {
    return null;
  }
  const polling =
    snapshot.state.connection === 'disconnected' && snapshot.visible;
  return (
    <div className="jp-sessions-status" role="status" aria-live="polite">
      <span className="jp-sessions-status-text">{text}</span>
      {polling ? (
        <span className="jp-sessions-status-note">polling meanwhile</span>
      ) : null}
      <button
        type="button"
        className="jp-sessions-link-button"
        onClick={props.onRetry}
      >
        Retry now
      </button>
    </div>
  );
}
