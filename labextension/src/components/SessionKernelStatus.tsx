import React, { useSyncExternalStore } from 'react';
import type { SessionsModel } from '../model';
import type { SessionBinding } from '../sessionKernels';
import { toolbarView } from '../sessionKernels';
import { useModel, useNow } from './hooks';

export interface ISessionKernelStatusProps {
  binding: SessionBinding;
  model: SessionsModel;
  /** Show a session's details (full name). */
  onOpen: (session: string) => void;
}

/**
 * The notebook toolbar item of a session kernel: "Starting a session… m:ss"
 * while the kernel starts, then the bound session's id and live state.
 * Renders nothing for a local kernel.
 */
export function SessionKernelStatus(
  props: ISessionKernelStatusProps
): JSX.Element | null {
  const binding = useSyncExternalStore(
    props.binding.subscribe,
    props.binding.getSnapshot
  );
  const snapshot = useModel(props.model);
  const session = binding.session
    ? snapshot.state.sessions[binding.session]
    : undefined;
  const ticking =
    binding.phase === 'starting' ||
    binding.phase === 'resolving' ||
    session?.state === 'CREATING';
  const now = useNow(ticking ? 1000 : 60000);
  const view = toolbarView(binding, session, now);
  if (!view) {
    return null;
  }
  const target = view.session;
  const state = view.state.toLowerCase().replace(/_/g, '-');
  return (
    <button
      type="button"
      className={`jp-sessions-kernel-status jp-sessions-kernel-status-${state}`}
      data-state={view.state}
      title={view.title}
      aria-label={view.text}
      disabled={!target}
      onClick={() => {
        if (target) {
          props.onOpen(target);
        }
      }}
    >
      {view.busy ? (
        <span className="jp-sessions-spinner" aria-hidden="true" />
      ) : (
        <span className="jp-sessions-badge-dot" aria-hidden="true" />
      )}
      <span className="jp-sessions-kernel-status-text">
        {view.id ? (
          <span className="jp-sessions-kernel-status-id">{view.id}</span>
        ) : null}
        {view.id && view.status ? (
          <span className="jp-sessions-kernel-status-sep"> · </span>
        ) : null}
        {view.status ? (
          <span className="jp-sessions-kernel-status-state">{view.status}</span>
        ) : null}
      </span>
    </button>
  );
}
