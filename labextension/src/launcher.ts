/**
 * The launcher's "Sessions" section: one card per session kernelspec (a plain
 * session, then one per template), each creating a notebook on that kernel.
 */

import type { ILauncher } from '@jupyterlab/launcher';
import type { ISessionSpec } from './sessionKernels';
import { specsKey } from './sessionKernels';

/** The launcher section's title. */
export const LAUNCHER_CATEGORY = 'Sessions';

/** Between Notebook (0) and Console (20). */
export const LAUNCHER_CATEGORY_RANK = 10;

/** The command each card runs, with `{ kernelName, cwd }`. */
export const NEW_NOTEBOOK_COMMAND = 'jupyter-sessions:new-notebook';

export interface ILauncherLike {
  add(options: ILauncher.IItemOptions): { dispose(): void };
}

/**
 * Keeps the cards in step with the session specs: `update` with the current
 * specs replaces the cards only when the specs changed.
 */
export class SessionLauncher {
  constructor(launcher: ILauncherLike) {
    this._launcher = launcher;
  }

  /** The spec names that have a card, in order. */
  get names(): string[] {
    return this._specs.map(spec => spec.name);
  }

  /** A spec that has a card, by kernelspec name. */
  spec(name: string): ISessionSpec | undefined {
    return this._specs.find(spec => spec.name === name);
  }

  /** Show these specs; returns whether the cards changed. */
  update(specs: ISessionSpec[]): boolean {
    const key = specsKey(specs);
    if (key === this._key) {
      return false;
    }
    this.clear();
    this._key = key;
    this._specs = specs;
    specs.forEach((spec, index) => {
      this._items.push(
        this._launcher.add({
          command: NEW_NOTEBOOK_COMMAND,
          args: { kernelName: spec.name, isLauncher: true },
          category: LAUNCHER_CATEGORY,
          categoryRank: LAUNCHER_CATEGORY_RANK,
          rank: index
        })
      );
    });
    return true;
  }

  clear(): void {
    for (const item of this._items) {
      item.dispose();
    }
    this._items = [];
    this._specs = [];
    this._key = '';
  }

  private _launcher: ILauncherLike;
  private _items: { dispose(): void }[] = [];
  private _specs: ISessionSpec[] = [];
  private _key = '';
}

/** The card's (or menu item's) label for a spec. */
export function cardLabel(
  spec: ISessionSpec | undefined,
  onCard: boolean
): string {
  if (!spec) {
    return onCard ? 'Session kernel' : 'New Notebook on a Session';
  }
  return onCard ? spec.displayName : `New Notebook: ${spec.displayName}`;
}

/** The card's tooltip. */
export function cardCaption(spec: ISessionSpec | undefined): string {
  if (!spec) {
    return 'Create a session and open a notebook whose kernel runs in it';
  }
  const from = spec.template
    ? `from template ${spec.template.slice(spec.template.lastIndexOf('/') + 1)}`
    : 'with the default settings';
  const what = spec.description ? `${spec.description}\n` : '';
  return `${what}Creates a ${spec.language === 'scala' ? 'Scala' : 'Python'} session ${from} in ${spec.parent} and opens a notebook whose kernel runs in it`;
}
