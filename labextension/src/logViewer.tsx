/**
 * A session's kernel log in JupyterLab's main area: read-only text fetched
 * through the extension (`jupyter-sessions/log`), with a Refresh button.
 */
import React from 'react';
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { ReactWidget, refreshIcon } from '@jupyterlab/ui-components';
import { resourceId } from './api';

export interface ILogSource {
  getKernelLog(sessionName: string): Promise<string>;
}

/** The log as read-only text; the view keeps the reader at its end. */
export class KernelLogView extends ReactWidget {
  constructor(source: ILogSource, sessionName: string) {
    super();
    this._source = source;
    this._sessionName = sessionName;
    this.addClass('jp-sessions-log');
  }

  /** Fetch the log again; on failure, show why. */
  async refresh(): Promise<void> {
    try {
      const text = await this._source.getKernelLog(this._sessionName);
      this._text = text || '(The log is empty.)';
      this._error = false;
    } catch (reason) {
      this._text = `Could not read the kernel log: ${
        reason instanceof Error ? reason.message : String(reason)
      }`;
      this._error = true;
    }
    this.update();
    requestAnimationFrame(() => {
      this.node.scrollTop = this.node.scrollHeight;
    });
  }

  protected render(): JSX.Element {
    return (
      <pre
        className={`jp-sessions-log-text${this._error ? ' jp-sessions-log-error' : ''}`}
        aria-readonly="true"
        aria-label={`Kernel log of ${resourceId(this._sessionName)}`}
      >
        {this._text}
      </pre>
    );
  }

  private _source: ILogSource;
  private _sessionName: string;
  private _text = 'Reading the kernel log…';
  private _error = false;
}

/** A main-area widget showing a session's kernel log. */
export function createKernelLogWidget(
  source: ILogSource,
  sessionName: string
): MainAreaWidget<KernelLogView> {
  const content = new KernelLogView(source, sessionName);
  const widget = new MainAreaWidget({ content });
  widget.id = `jp-sessions-log-${resourceId(sessionName)}`;
  widget.title.label = `Kernel log: ${resourceId(sessionName)}`;
  widget.title.caption = `${sessionName}: kernel log (read-only)`;
  widget.title.closable = true;
  widget.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      label: 'Refresh',
      tooltip: 'Read the log again',
      onClick: () => void content.refresh()
    })
  );
  void content.refresh();
  return widget;
}

/** Open (or bring back and refresh) the kernel log of a session. */
export function openKernelLog(
  app: JupyterFrontEnd,
  source: ILogSource,
  sessionName: string
): void {
  const id = `jp-sessions-log-${resourceId(sessionName)}`;
  for (const widget of app.shell.widgets('main')) {
    if (widget.id === id && widget instanceof MainAreaWidget) {
      app.shell.activateById(id);
      const content: unknown = widget.content;
      if (content instanceof KernelLogView) {
        void content.refresh();
      }
      return;
    }
  }
  const widget = createKernelLogWidget(source, sessionName);
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
}
