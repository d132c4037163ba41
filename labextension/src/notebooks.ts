/**
 * Session kernels in JupyterLab: the launcher's "Sessions" cards, the
 * notebook toolbar item, the notebook badges of the side panel, and
 * "Open a notebook on this session".
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { ILauncher } from '@jupyterlab/launcher';
import type { Contents } from '@jupyterlab/services';
import { serverRequester } from './connection';
import { sessionsIcon } from './icon';
import {
  NEW_NOTEBOOK_COMMAND,
  SessionLauncher,
  cardCaption,
  cardLabel
} from './launcher';
import type { SessionsModel } from './model';
import { messageOf } from './model';
import {
  KernelsApi,
  kernelLinks,
  sessionSpecs,
  specsOutOfDate
} from './sessionKernels';
import { sessionKernelToolbar } from './toolbar';
import type { ISession, ISessionTemplate } from './types';

export interface ISessionKernelsUiOptions {
  model: SessionsModel;
  launcher: ILauncher | null;
  /** Show a session's details in the side panel. */
  showDetails: (session: string) => void;
}

export interface ISessionKernelsUi {
  /** "Open a notebook on this session". */
  openNotebook: (session: ISession) => void;
  /** The side panel listed the templates: refresh the kernelspecs if they miss some. */
  templatesListed: (templates: ISessionTemplate[]) => void;
}

/** Set up everything. */
export function setUpSessionKernels(
  app: JupyterFrontEnd,
  options: ISessionKernelsUiOptions
): ISessionKernelsUi {
  const { model } = options;
  const services = app.serviceManager;
  const specs = () => sessionSpecs(services.kernelspecs.specs);
  const kernels = new KernelsApi(serverRequester());

  // Launcher cards, kept in step with the kernelspecs.
  const cards = options.launcher ? new SessionLauncher(options.launcher) : null;
  app.commands.addCommand(NEW_NOTEBOOK_COMMAND, {
    label: args => {
      const name = String(args.kernelName ?? '');
      return cardLabel(
        specs().find(s => s.name === name),
        args.isLauncher === true
      );
    },
    caption: args =>
      cardCaption(specs().find(s => s.name === String(args.kernelName ?? ''))),
    icon: args => (args.isLauncher ? sessionsIcon : undefined),
    execute: args =>
      app.commands.execute('notebook:create-new', {
        cwd: String(args.cwd ?? ''),
        kernelName: String(args.kernelName ?? '')
      })
  });
  if (cards) {
    const syncCards = () => {
      cards.update(specs());
    };
    services.kernelspecs.specsChanged.connect(syncCards);
    void services.kernelspecs.ready.then(syncCards);
    // A launcher just opened: look for new templates (the server answers from a short cache).
    app.commands.commandExecuted.connect((_, executed) => {
      if (executed.id === 'launcher:create') {
        void services.kernelspecs.refreshSpecs();
      }
    });
  }

  // The toolbar item of every notebook.
  app.docRegistry.addWidgetExtension(
    'Notebook',
    sessionKernelToolbar({
      model,
      specs,
      fetchKernel: id => kernels.getKernel(id),
      onOpen: options.showDetails,
      onChangeKernel: widgetId => {
        app.shell.activateById(widgetId);
        void app.commands.execute('notebook:change-kernel');
      }
    })
  );

  // Which sessions have a notebook attached.
  const syncLinks = () => {
    model.setKernelLinks(
      kernelLinks(services.kernels.running(), services.sessions.running())
    );
  };
  services.kernels.runningChanged.connect(syncLinks);
  services.sessions.runningChanged.connect(syncLinks);
  syncLinks();
  // A session that turns ACTIVE has a kernel: ask for the running kernels soon.
  let activeKey = '';
  let refreshTimer: ReturnType<typeof setTimeout> | null = null;
  model.subscribe(() => {
    const key = Object.values(model.getSnapshot().state.sessions)
      .filter(s => s.state === 'ACTIVE' && s.uuid)
      .map(s => s.uuid)
      .sort()
      .join(',');
    if (key === activeKey) {
      return;
    }
    activeKey = key;
    if (refreshTimer === null) {
      refreshTimer = setTimeout(() => {
        refreshTimer = null;
        void services.kernels.refreshRunning();
        void services.sessions.refreshRunning();
      }, 500);
    }
  });

  return {
    openNotebook: (session: ISession) => {
      void openNotebookOn(app, session).catch(reason => {
        Notification.error(
          `Could not open a notebook on ${session.name.slice(session.name.lastIndexOf('/') + 1)}: ${messageOf(reason)}`,
          { autoClose: false }
        );
      });
    },
    templatesListed: templates => {
      if (specsOutOfDate(templates, specs())) {
        void services.kernelspecs.refreshSpecs();
      }
    }
  };
}

/** A new untitled notebook whose kernel is the session's running kernel (id = uuid). */
async function openNotebookOn(
  app: JupyterFrontEnd,
  session: ISession
): Promise<void> {
  const id = session.uuid;
  if (!id) {
    throw new Error('the session has no uuid');
  }
  const kernel = Array.from(app.serviceManager.kernels.running()).find(
    k => k.id === id
  );
  if (!kernel) {
    throw new Error('its kernel is not running');
  }
  const model = (await app.commands.execute('docmanager:new-untitled', {
    path: '',
    type: 'notebook'
  })) as Contents.IModel;
  await app.commands.execute('docmanager:open', {
    path: model.path,
    factory: 'Notebook',
    kernel: { id: kernel.id, name: kernel.name }
  });
}
