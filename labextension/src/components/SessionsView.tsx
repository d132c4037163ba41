import React, { useCallback, useMemo, useState } from 'react';
import type { SessionsModel } from '../model';
import type { ISession, ISessionInput } from '../types';
import { SESSION_STATES } from '../types';
import { Confirm, confirmDelete, confirmTerminate } from '../actions';
import { StateFilter, countByState, visibleSessions } from '../state';
import { ActivityList } from './ActivityList';
import { CreateSessionForm } from './CreateSessionForm';
import { SessionDetails } from './SessionDetails';
import { SessionList } from './SessionList';
import { STATE_LABELS } from './StateBadge';
import { StatusLine } from './StatusLine';
import { AddIcon, RefreshIcon } from './icons';
import { useModel, useNow } from './hooks';
import { canOpenNotebook, notebooksOf } from '../sessionKernels';
import type { TemplatesModel } from '../templates';
import { TemplatesView, usePanelTab } from './TemplatesView';

export interface ISessionsViewProps {
  model: SessionsModel;
  /** Ask the user; resolves true to go ahead. */
  confirm: Confirm;
  /** Clock tick of the list (ms). Default 1 s, so ages move as time does. */
  tickMs?: number;
  /** Open a new notebook on an ACTIVE session's kernel. */
  onOpenNotebook?: (session: ISession) => void;
  /** Show a session's kernel log in the main area (the embedded emulator's sessions). */
  onOpenLog?: (session: ISession) => void;
  /** The Templates tab (none without it). */
  templates?: TemplatesModel;
}

/** The whole side panel. */
export function SessionsView(props: ISessionsViewProps): JSX.Element {
  const { model, confirm } = props;
  const snapshot = useModel(model);
  const templates = props.templates;
  const tab = usePanelTab(templates);
  const page = snapshot.view.page;
  const now = useNow(page === 'details' ? 1000 : (props.tickMs ?? 1000));
  const [text, setText] = useState('');
  const [stateFilter, setStateFilter] = useState<StateFilter>('all');

  const sessions = useMemo(
    () => visibleSessions(snapshot.state, text, stateFilter),
    [snapshot.state, text, stateFilter]
  );
  const counts = useMemo(() => countByState(snapshot.state), [snapshot.state]);
  const total = Object.keys(snapshot.state.sessions).length;
  const liveCount = counts.CREATING + counts.ACTIVE + counts.TERMINATING;

  const onTerminate = useCallback(
    (name: string) => void confirmTerminate(model, confirm, name),
    [model, confirm]
  );
  const onDelete = useCallback(
    (name: string) => void confirmDelete(model, confirm, name),
    [model, confirm]
  );

  const onCreate = useCallback(
    (sessionId: string, session: ISessionInput) => {
      void model.create(sessionId, session);
    },
    [model]
  );

  const loadTemplates = useCallback(() => model.listTemplates(), [model]);

  const config = snapshot.config;
  let body: JSX.Element;
  if (tab === 'templates' && templates && config) {
    body = (
      <TemplatesView
        templates={templates}
        parent={config.parent}
        confirm={confirm}
        now={now}
        onNewSession={name => {
          templates.showTab('sessions');
          model.showCreate(name);
        }}
      />
    );
  } else if (page === 'create' && config) {
    const from = snapshot.view.template;
    body = (
      <CreateSessionForm
        key={from ?? ''}
        initialValues={
          from ? { source: 'template', template: from } : undefined
        }
        parent={config.parent}
        runtimes={config.runtimes}
        loadTemplates={loadTemplates}
        onCreate={onCreate}
        findOperation={name =>
          snapshot.operations.find(
            op => op.kind === 'create' && op.sessionName === name
          )
        }
        findSession={name => snapshot.state.sessions[name]}
        onClose={() => model.showList()}
        onOpenSession={name => model.showDetails(name)}
      />
    );
  } else if (page === 'details' && snapshot.view.selected) {
    const name = snapshot.view.selected;
    body = (
      <SessionDetails
        name={name}
        session={snapshot.state.sessions[name]}
        now={now}
        operation={snapshot.operations.find(op => op.sessionName === name)}
        onBack={() => model.showList()}
        onTerminate={onTerminate}
        onDelete={onDelete}
        onDismiss={id => model.dismiss(id)}
        notebooks={notebooksOf(snapshot.kernels, snapshot.state.sessions[name])}
        canOpenNotebook={canOpenNotebook(
          snapshot.kernels,
          snapshot.state.sessions[name]
        )}
        onOpenNotebook={props.onOpenNotebook}
        onOpenLog={config?.backend === 'local' ? props.onOpenLog : undefined}
        onSaveAsTemplate={
          templates ? session => templates.saveSession(session) : undefined
        }
      />
    );
  } else {
    body = (
      <>
        <ActivityList
          operations={snapshot.operations}
          onDismiss={id => model.dismiss(id)}
          onShow={name => model.showDetails(name)}
          now={now}
        />
        <div className="jp-sessions-filters">
          <input
            type="search"
            className="jp-sessions-input jp-sessions-filter"
            placeholder="Filter…"
            title="Words to find in the id, state, creator, template or labels (key=value)"
            aria-label="Filter sessions"
            value={text}
            onChange={event => setText(event.target.value)}
          />
          <select
            className="jp-sessions-select"
            aria-label="Filter by state"
            value={stateFilter}
            onChange={event =>
              setStateFilter(event.target.value as StateFilter)
            }
          >
            <option value="all">All ({total})</option>
            <option value="live">Running ({liveCount})</option>
            {SESSION_STATES.filter(
              state => state !== 'STATE_UNSPECIFIED' || counts[state] > 0
            ).map(state => (
              <option key={state} value={state}>
                {STATE_LABELS[state]} ({counts[state]})
              </option>
            ))}
          </select>
        </div>
        <SessionList
          sessions={sessions}
          now={now}
          loaded={snapshot.state.loaded}
          total={total}
          onSelect={name => model.showDetails(name)}
          kernels={snapshot.kernels}
        />
      </>
    );
  }

  return (
    <div
      className="jp-sessions-panel"
      onPointerDown={() => model.noteActivity()}
      onKeyDown={() => model.noteActivity()}
    >
      <header className="jp-sessions-header">
        <h2 className="jp-sessions-title">Sessions</h2>
        <div className="jp-sessions-toolbar">
          <button
            type="button"
            className="jp-sessions-icon-button"
            title={tab === 'templates' ? 'New template' : 'New session'}
            aria-label={tab === 'templates' ? 'New template' : 'New session'}
            disabled={!config}
            onClick={() =>
              tab === 'templates' && templates
                ? templates.showCreate()
                : model.showCreate()
            }
          >
            <AddIcon />
          </button>
          <button
            type="button"
            className="jp-sessions-icon-button"
            title="Refresh"
            aria-label="Refresh"
            onClick={() => {
              void model.refresh();
              if (tab === 'templates') {
                void templates?.refresh();
              }
            }}
          >
            <RefreshIcon />
          </button>
        </div>
      </header>
      {config ? (
        <div className="jp-sessions-context" title={config.endpoint}>
          <span title={`Project ${config.project}`}>{config.project}</span>
          <span className="jp-sessions-sep">/</span>
          <span title={`Location ${config.location}`}>{config.location}</span>
          <span className="jp-sessions-backend">
            {backendLabel(config.backend)}
          </span>
          <ConnectionDot
            connection={snapshot.state.connection}
            reachable={snapshot.state.backend.reachable}
          />
        </div>
      ) : null}
      {templates && config ? (
        <div className="jp-sessions-tabs" role="tablist">
          {(['sessions', 'templates'] as const).map(name => (
            <button
              key={name}
              type="button"
              role="tab"
              className="jp-sessions-tab"
              aria-selected={tab === name}
              title={
                tab === name
                  ? `Back to the list of ${name}`
                  : `Show the ${name}`
              }
              onClick={() => {
                if (tab !== name) {
                  templates.showTab(name);
                } else if (name === 'templates') {
                  templates.showList();
                } else {
                  model.showList();
                }
              }}
            >
              {name === 'sessions' ? 'Sessions' : 'Templates'}
            </button>
          ))}
        </div>
      ) : null}
      <StatusLine
        snapshot={snapshot}
        now={now}
        onRetry={() => void model.refresh()}
      />
      <div className="jp-sessions-body">{body}</div>
    </div>
  );
}

function backendLabel(backend: string): string {
  switch (backend) {
    case 'local':
      return 'local emulator';
    case 'dataproc':
      return 'Dataproc';
    default:
      return backend;
  }
}

function ConnectionDot(props: {
  connection: string;
  reachable: boolean;
}): JSX.Element {
  // The stream being open says nothing of the backend behind it: one truthful dot.
  const kind =
    props.connection === 'live' && !props.reachable
      ? 'unreachable'
      : props.connection;
  const title =
    kind === 'live'
      ? 'Live updates on'
      : kind === 'unreachable'
        ? 'Backend unreachable'
        : kind === 'disconnected'
          ? 'Live updates off'
          : 'Connecting…';
  return (
    <span
      className={`jp-sessions-connection jp-sessions-connection-${kind}`}
      title={title}
      aria-label={title}
      role="img"
    />
  );
}
