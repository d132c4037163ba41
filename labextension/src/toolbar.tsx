/**
 * The notebook toolbar item of session kernels (see `SessionKernelStatus`),
 * added to every notebook by a document widget extension, and the
 * notification when a notebook's session ends under its kernel.
 */

import React from 'react';
import type { ISessionContext } from '@jupyterlab/apputils';
import { Notification } from '@jupyterlab/apputils';
import type {
  DocumentRegistry,
  IDocumentWidget
} from '@jupyterlab/docregistry';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { SessionsModel } from './model';
import type {
  IEndNotice,
  IKernelHostState,
  IKernelInfo,
  ISessionSpec
} from './sessionKernels';
import { SessionBinding, toolbarView } from './sessionKernels';
import { SessionKernelStatus } from './components/SessionKernelStatus';

/** The toolbar item's name; it goes before the toolbar's spacer (else the kernel name). */
export const TOOLBAR_ITEM = 'jupyterSessionsKernel';

export interface ISessionKernelToolbarOptions {
  model: SessionsModel;
  specs: () => ISessionSpec[];
  fetchKernel: (id: string) => Promise<IKernelInfo | null>;
  /** Show a session's details in the side panel. */
  onOpen: (session: string) => void;
  /** Let the user pick a kernel for the notebook of this widget id. */
  onChangeKernel: (widgetId: string) => void;
}

class SessionKernelItem extends ReactWidget {
  constructor(
    private _binding: SessionBinding,
    private _options: ISessionKernelToolbarOptions
  ) {
    super();
    this.addClass('jp-sessions-kernel-item');
  }

  protected render(): JSX.Element {
    return (
      <SessionKernelStatus
        binding={this._binding}
        model={this._options.model}
        onOpen={this._options.onOpen}
      />
    );
  }
}

function hostState(context: ISessionContext): IKernelHostState {
  const kernel = context.session?.kernel;
  return {
    kernelId: kernel?.id ?? null,
    kernelName: kernel?.name ?? null,
    displayName: context.kernelDisplayName,
    status: context.kernelDisplayStatus,
    preferredName: context.kernelPreference.name
  };
}

function notify(notice: IEndNotice, onChangeKernel: () => void): void {
  const options = {
    autoClose: false as const,
    actions: [
      {
        label: 'Change kernel…',
        caption: 'Pick a kernel for this notebook',
        callback: onChangeKernel
      }
    ]
  };
  if (notice.type === 'error') {
    Notification.error(notice.message, options);
  } else {
    Notification.warning(notice.message, options);
  }
}

/** The widget extension that puts the item on each notebook's toolbar. */
export function sessionKernelToolbar(
  options: ISessionKernelToolbarOptions
): DocumentRegistry.IWidgetExtension<IDocumentWidget, DocumentRegistry.IModel> {
  return {
    createNew: (widget, context) => {
      const toolbar = widget.toolbar;
      const sessionContext = context.sessionContext;
      const binding = new SessionBinding({
        specs: options.specs,
        fetchKernel: options.fetchKernel
      });
      const item = new SessionKernelItem(binding, options);
      const sync = () => {
        if (!sessionContext.isDisposed) {
          binding.update(hostState(sessionContext));
        }
      };
      const showOrHide = () => {
        item.setHidden(
          toolbarView(binding.getSnapshot(), undefined, Date.now()) === null
        );
        checkEnd();
      };
      const checkEnd = () => {
        const name = binding.getSnapshot().session;
        const notice = name
          ? binding.endNotice(options.model.session(name))
          : null;
        if (notice) {
          notify(notice, () => options.onChangeKernel(widget.id));
        }
      };
      sessionContext.kernelChanged.connect(sync);
      sessionContext.statusChanged.connect(sync);
      sessionContext.kernelPreferenceChanged.connect(sync);
      sessionContext.specsManager.specsChanged.connect(sync);
      const unbind = binding.subscribe(showOrHide);
      const unwatch = options.model.subscribe(checkEnd);
      // Before the spacer: a narrow toolbar moves its last items (kernel name, other
      // extensions' buttons) to the overflow menu first, and the session's state stays.
      if (
        !toolbar.insertBefore('spacer', TOOLBAR_ITEM, item) &&
        !toolbar.insertBefore('kernelName', TOOLBAR_ITEM, item)
      ) {
        toolbar.addItem(TOOLBAR_ITEM, item);
      }
      showOrHide();
      sync();
      let disposed = false;
      const dispose = () => {
        if (disposed) {
          return;
        }
        disposed = true;
        sessionContext.kernelChanged.disconnect(sync);
        sessionContext.statusChanged.disconnect(sync);
        sessionContext.kernelPreferenceChanged.disconnect(sync);
        sessionContext.specsManager.specsChanged.disconnect(sync);
        unbind();
        unwatch();
        binding.dispose();
        item.dispose();
      };
      widget.disposed.connect(dispose);
      return {
        get isDisposed() {
          return disposed;
        },
        dispose
      };
    }
  };
}
