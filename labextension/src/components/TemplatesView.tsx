import React, { useSyncExternalStore } from 'react';
import type { Confirm } from '../actions';
import { resourceId } from '../api';
import { formatShortTime, formatTimestamp, runtimeKind } from '../format';
import type {
  ITemplatesSnapshot,
  PanelTab,
  TemplatesModel
} from '../templates';
import { SYSTEM_LABEL_PREFIX } from '../templates';
import type { ISessionTemplate } from '../types';
import { TemplateForm } from './TemplateForm';
import {
  ActionButton,
  DetailsHeader,
  Field,
  LabelChips,
  MonoFields,
  Section,
  durationText
} from './DetailsLayout';

export interface ITemplatesViewProps {
  templates: TemplatesModel;
  parent: string;
  confirm: Confirm;
  now: number;
  /** "New session from this template". */
  onNewSession: (templateName: string) => void;
}

/** The templates' own snapshot; re-renders on every change. */
export function useTemplates(model: TemplatesModel): ITemplatesSnapshot {
  return useSyncExternalStore(model.subscribe, model.getSnapshot);
}

/** The Templates tab of the side panel: list, details, create and edit. */
export function TemplatesView(props: ITemplatesViewProps): JSX.Element {
  const { templates } = props;
  const snapshot = useTemplates(templates);
  if (
    (snapshot.page === 'create' || snapshot.page === 'edit') &&
    snapshot.draft
  ) {
    const editing = snapshot.page === 'edit';
    const from = snapshot.draft.fromSession;
    return (
      <TemplateForm
        key={`${snapshot.page}|${snapshot.selected ?? ''}|${from?.name ?? ''}`}
        parent={props.parent}
        initialValues={snapshot.draft.values}
        editing={editing}
        fromSession={from ? resourceId(from.name) : undefined}
        write={snapshot.write}
        onSave={values => void templates.save(values)}
        onClose={() =>
          editing && snapshot.selected
            ? templates.showDetails(snapshot.selected)
            : templates.showList()
        }
      />
    );
  }
  if (snapshot.page === 'details' && snapshot.selected) {
    return (
      <TemplateDetails
        {...props}
        name={snapshot.selected}
        template={templates.template(snapshot.selected)}
        snapshot={snapshot}
      />
    );
  }
  return <TemplateList {...props} snapshot={snapshot} />;
}

function WriteMessage(props: {
  snapshot: ITemplatesSnapshot;
  name?: string;
  onDismiss: () => void;
}): JSX.Element | null {
  const write = props.snapshot.write;
  if (!write || (props.name && write.name !== props.name)) {
    return null;
  }
  if (write.phase === 'failed' && write.kind !== 'delete') {
    return null; // the form showed it, and nothing was written
  }
  const failed = write.phase === 'failed';
  return (
    <div
      className={`jp-sessions-outcome jp-sessions-operation-${write.phase}`}
      role={failed ? 'alert' : 'status'}
      data-phase={write.phase}
    >
      {write.phase === 'sending' ? (
        <span
          className="jp-sessions-spinner"
          role="progressbar"
          aria-label="In progress"
        />
      ) : null}
      <span className="jp-sessions-grow">{write.message}</span>
      {write.phase !== 'sending' ? (
        <button
          type="button"
          className="jp-sessions-link-button"
          onClick={props.onDismiss}
        >
          Dismiss
        </button>
      ) : null}
    </div>
  );
}

function TemplateList(
  props: ITemplatesViewProps & { snapshot: ITemplatesSnapshot }
): JSX.Element {
  const { snapshot, templates } = props;
  return (
    <>
      <WriteMessage
        snapshot={snapshot}
        onDismiss={() => templates.dismissWrite()}
      />
      {snapshot.error ? (
        <div
          className="jp-sessions-message jp-sessions-message-error"
          role="alert"
        >
          Cannot list templates: {snapshot.error}
        </div>
      ) : null}
      {!snapshot.loaded ? (
        <div className="jp-sessions-empty">
          {snapshot.loading ? 'Loading templates…' : 'Templates not loaded.'}
        </div>
      ) : snapshot.templates.length === 0 ? (
        <div className="jp-sessions-empty jp-sessions-templates-empty">
          No templates in {props.parent} yet. Create one with +, or save a
          session’s configuration from its details (Save as template).
        </div>
      ) : (
        <ul className="jp-sessions-list" aria-label="Templates">
          {snapshot.templates.map(t => (
            <TemplateRow
              key={t.name}
              template={t}
              onSelect={() => templates.showDetails(t.name)}
            />
          ))}
        </ul>
      )}
    </>
  );
}

function TemplateRow(props: {
  template: ISessionTemplate;
  onSelect: () => void;
}): JSX.Element {
  const t = props.template;
  const id = resourceId(t.name);
  const exec = t.environmentConfig?.executionConfig;
  const facts = [
    runtimeKind(t),
    t.runtimeConfig?.version ? `runtime ${t.runtimeConfig.version}` : '',
    exec?.ttl ? `TTL ${durationText(exec.ttl) ?? ''}` : ''
  ].filter(Boolean);
  return (
    <li
      className="jp-sessions-row jp-sessions-template-row"
      data-template={id}
      tabIndex={0}
      role="button"
      aria-label={`Template ${id}`}
      title={t.name}
      onClick={props.onSelect}
      onKeyDown={event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          props.onSelect();
        }
      }}
    >
      <div className="jp-sessions-row-main">
        <span className="jp-sessions-row-id">{id}</span>
        {t.jupyterSession ? (
          <span
            className="jp-sessions-template-card"
            title="Its card in the launcher's Sessions section"
          >
            {t.jupyterSession.displayName || id}
          </span>
        ) : null}
      </div>
      {t.description ? (
        <div className="jp-sessions-template-description">{t.description}</div>
      ) : null}
      <div className="jp-sessions-row-meta">
        {facts.map(fact => (
          <span key={fact}>{fact}</span>
        ))}
      </div>
    </li>
  );
}

function TemplateDetails(
  props: ITemplatesViewProps & {
    name: string;
    template?: ISessionTemplate;
    snapshot: ITemplatesSnapshot;
  }
): JSX.Element {
  const { template: t, templates, snapshot, now } = props;
  const id = resourceId(props.name);
  const busy =
    snapshot.write?.phase === 'sending' && snapshot.write.name === props.name;
  const onDelete = async () => {
    const starting = templates.startingSessionsOf(props.name);
    const ok = await props.confirm({
      title: `Delete template ${id}?`,
      body: starting.length
        ? `Session ${starting.map(s => resourceId(s.name)).join(', ')} is still starting from ${id}; the server may refuse until it is ACTIVE. Sessions keep their own copy of the configuration.`
        : `The template ${id} and its launcher card are removed. Sessions created from it keep their configuration. This cannot be undone.`,
      accept: 'Delete'
    });
    if (ok) {
      await templates.delete(props.name);
    }
  };
  const exec = t?.environmentConfig?.executionConfig;
  const labels = Object.entries(t?.labels ?? {})
    .filter(([key]) => !key.startsWith(SYSTEM_LABEL_PREFIX))
    .sort(([a], [b]) => a.localeCompare(b));
  const properties = Object.entries(t?.runtimeConfig?.properties ?? {}).sort(
    ([a], [b]) => a.localeCompare(b)
  );
  return (
    <div className="jp-sessions-details" aria-label={`Template ${id}`}>
      <DetailsHeader
        title={id}
        titleTip={props.name}
        backLabel="Back to the templates"
        onBack={() => templates.showList()}
      />
      <WriteMessage
        snapshot={snapshot}
        name={props.name}
        onDismiss={() => templates.dismissWrite()}
      />
      {!t ? (
        <div className="jp-sessions-empty">This template no longer exists.</div>
      ) : (
        <>
          <div className="jp-sessions-actions">
            <ActionButton
              variant="jp-mod-accept"
              disabled={busy}
              onClick={() => props.onNewSession(t.name)}
            >
              New session from this template
            </ActionButton>
          </div>
          <div className="jp-sessions-actions">
            <ActionButton
              disabled={busy}
              onClick={() => templates.showEdit(t.name)}
            >
              Edit
            </ActionButton>
            <ActionButton
              variant="jp-mod-reject"
              disabled={busy}
              onClick={() => void onDelete()}
            >
              Delete
            </ActionButton>
          </div>
          {t.description ? (
            <div className="jp-sessions-message">{t.description}</div>
          ) : null}
          <Section title="Configuration">
            <dl className="jp-sessions-fields">
              <Field label="Runtime" value={runtimeKind(t)} />
              <Field
                label="Launcher card"
                value={
                  t.jupyterSession
                    ? t.jupyterSession.displayName || id
                    : undefined
                }
                title={
                  t.jupyterSession
                    ? `kernelspec session-template-${id}`
                    : undefined
                }
              />
              <Field label="Version" value={t.runtimeConfig?.version} />
              <Field label="TTL" value={durationText(exec?.ttl)} />
              <Field label="Idle TTL" value={durationText(exec?.idleTtl)} />
              <Field label="Service account" value={exec?.serviceAccount} />
              <Field label="Subnetwork" value={exec?.subnetworkUri} />
              <Field label="Network" value={exec?.networkUri} />
              <Field label="Creator" value={t.creator} />
              <Field
                label="Created"
                value={formatShortTime(t.createTime, now)}
                title={formatTimestamp(t.createTime)}
              />
              <Field
                label="Updated"
                value={formatShortTime(t.updateTime, now)}
                title={formatTimestamp(t.updateTime)}
              />
            </dl>
          </Section>
          {labels.length ? (
            <Section title="Labels">
              <LabelChips labels={labels} />
            </Section>
          ) : null}
          {properties.length ? (
            <Section title={<>Runtime properties ({properties.length})</>}>
              <MonoFields entries={properties} />
            </Section>
          ) : null}
        </>
      )}
    </div>
  );
}

const noSubscribe = () => () => undefined;
const sessionsTab = (): PanelTab => 'sessions';

/** Which tab of the side panel is shown ('sessions' without a templates model). */
export function usePanelTab(model: TemplatesModel | undefined): PanelTab {
  return useSyncExternalStore(
    model ? model.subscribe : noSubscribe,
    model ? () => model.getSnapshot().tab : sessionsTab
  );
}
