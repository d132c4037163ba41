import React from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import type { SessionsModel } from './model';
import type { Confirm } from './actions';
import type { ISession } from './types';
import { SessionsView } from './components/SessionsView';
import type { TemplatesModel } from './templates';

export interface ISessionsPanelOptions {
  model: SessionsModel;
  confirm: Confirm;
  /** Open a new notebook on an ACTIVE session's kernel. */
  onOpenNotebook?: (session: ISession) => void;
  /** The Templates tab. */
  templates?: TemplatesModel;
  /** Show a session's kernel log in the main area. */
  onOpenLog?: (session: ISession) => void;
}

/**
 * The left side panel. It tells the model whether it is visible, so the
 * fallback poll runs only while someone can see the list.
 */
export class SessionsPanel extends ReactWidget {
  constructor(options: ISessionsPanelOptions) {
    super();
    this._model = options.model;
    this._confirm = options.confirm;
    this._onOpenNotebook = options.onOpenNotebook;
    this._templates = options.templates;
    this._onOpenLog = options.onOpenLog;
    this.id = 'jp-sessions-panel';
    this.addClass('jp-sessions-widget');
  }

  get model(): SessionsModel {
    return this._model;
  }

  protected render(): JSX.Element {
    return (
      <SessionsView
        model={this._model}
        confirm={this._confirm}
        onOpenNotebook={this._onOpenNotebook}
        templates={this._templates}
        onOpenLog={this._onOpenLog}
      />
    );
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.setVisible(false);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._model.setVisible(this.isVisible);
  }

  protected onBeforeDetach(msg: Message): void {
    this._model.setVisible(false);
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._templates?.dispose();
    this._model.dispose();
    super.dispose();
  }

  private _model: SessionsModel;
  private _confirm: Confirm;
  private _onOpenNotebook?: (session: ISession) => void;
  private _templates?: TemplatesModel;
  private _onOpenLog?: (session: ISession) => void;
}
