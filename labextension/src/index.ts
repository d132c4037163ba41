import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { SessionsApi } from './api';
import { Confirm, confirmDelete, confirmTerminate } from './actions';
import { serverRequester } from './connection';
import { sessionsIcon } from './icon';
import { IOperationView, SessionsModel } from './model';
import { SessionsPanel } from './panel';
import { canDelete, canTerminate } from './state';
import { setUpSessionKernels } from './notebooks';
import { TemplatesModel } from './templates';
import { openKernelLog } from './logViewer';
import type { ISessionTemplate } from './types';

/** Command ids. */
export namespace CommandIDs {
  export const open = 'jupyter-sessions:open';
  export const create = 'jupyter-sessions:create';
  export const refresh = 'jupyter-sessions:refresh';
  export const terminate = 'jupyter-sessions:terminate';
  export const remove = 'jupyter-sessions:delete';
}

const CATEGORY = 'Sessions';

/** A JupyterLab dialog for terminate and delete. */
const confirmWithDialog: Confirm = async request => {
  const result = await showDialog({
    title: request.title,
    body: request.body,
    buttons: [
      Dialog.cancelButton(),
      Dialog.warnButton({ label: request.accept })
    ],
    defaultButton: 0
  });
  return result.button.accept;
};

/**
 * A toast when an operation started from the panel ends while the panel is
 * out of sight (in sight, the panel shows the outcome itself).
 */
function notify(operation: IOperationView, panelVisible: boolean): void {
  if (panelVisible) {
    return;
  }
  switch (operation.phase) {
    case 'succeeded':
      Notification.success(operation.message, { autoClose: 5000 });
      break;
    case 'failed':
      Notification.error(operation.message, { autoClose: false });
      break;
    case 'timeout':
      Notification.warning(operation.message, { autoClose: 10000 });
      break;
    default:
      break;
  }
}

/**
 * The "Sessions" side panel: lists the interactive sessions of the
 * configured project and location, live, and creates, terminates and
 * deletes them.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-sessions-labextension:plugin',
  description:
    'A side panel to manage Dataproc interactive sessions through the jupyter-sessions server extension.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    launcher: ILauncher | null
  ): void => {
    const api = new SessionsApi(serverRequester());
    // Bound once the session kernels' side is set up (it needs the model).
    let templatesListed: (templates: ISessionTemplate[]) => void = () =>
      undefined;
    const model: SessionsModel = new SessionsModel({
      api,
      onOperationFinished: operation =>
        notify(operation, model.getSnapshot().visible),
      onTemplatesListed: templates => templatesListed(templates)
    });
    const kernelsUi = setUpSessionKernels(app, {
      model,
      launcher,
      showDetails: name => {
        app.shell.activateById(panel.id);
        model.showDetails(name);
      }
    });
    // Template changes (here, in other tabs, from magics) refresh the launcher cards.
    const templates = new TemplatesModel({
      sessions: model,
      onChanged: () => void app.serviceManager.kernelspecs.refreshSpecs()
    });
    const panel = new SessionsPanel({
      model,
      confirm: confirmWithDialog,
      onOpenNotebook: kernelsUi.openNotebook,
      templates,
      onOpenLog: session => openKernelLog(app, api, session.name)
    });
    templatesListed = kernelsUi.templatesListed;
    panel.title.icon = sessionsIcon;
    panel.title.caption = 'Sessions';
    app.shell.add(panel, 'left', { rank: 350 });
    if (restorer) {
      restorer.add(panel, 'jupyter-sessions');
    }
    model.start();

    const selected = (): string | null => {
      const view = model.getSnapshot().view;
      return view.page === 'details' ? view.selected : null;
    };
    // Tell the palette when what enables a command changes (not on every event).
    let commandKey = '';
    model.subscribe(() => {
      const name = selected();
      const key = [
        model.getSnapshot().config ? 'configured' : '',
        name ?? '',
        name ? (model.session(name)?.state ?? 'gone') : ''
      ].join('|');
      if (key !== commandKey) {
        commandKey = key;
        app.commands.notifyCommandChanged(CommandIDs.terminate);
        app.commands.notifyCommandChanged(CommandIDs.remove);
        app.commands.notifyCommandChanged(CommandIDs.create);
      }
    });

    app.commands.addCommand(CommandIDs.open, {
      label: 'Show Sessions Panel',
      caption: 'Show the list of interactive sessions',
      icon: sessionsIcon,
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.create, {
      label: 'New Session…',
      caption: 'Create an interactive session',
      isEnabled: () => model.getSnapshot().config !== null,
      execute: () => {
        app.shell.activateById(panel.id);
        model.showCreate();
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Sessions',
      caption: 'Reload the sessions and reconnect live updates',
      execute: () => model.refresh()
    });
    app.commands.addCommand(CommandIDs.terminate, {
      label: 'Terminate Selected Session…',
      isEnabled: () => {
        const name = selected();
        return !!name && canTerminate(model.session(name)?.state);
      },
      execute: async () => {
        const name = selected();
        if (name) {
          await confirmTerminate(model, confirmWithDialog, name);
        }
      }
    });
    app.commands.addCommand(CommandIDs.remove, {
      label: 'Delete Selected Session…',
      isEnabled: () => {
        const name = selected();
        return (
          !!name &&
          !!model.session(name) &&
          canDelete(model.session(name)?.state)
        );
      },
      execute: async () => {
        const name = selected();
        if (name) {
          await confirmDelete(model, confirmWithDialog, name);
        }
      }
    });

    if (palette) {
      for (const command of [
        CommandIDs.open,
        CommandIDs.create,
        CommandIDs.refresh,
        CommandIDs.terminate,
        CommandIDs.remove
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }
  }
};

export default plugin;
