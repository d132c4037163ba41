/**
 * Terminate and delete behind a confirmation, shared by the panel's buttons
 * and the command palette.
 */

import { resourceId } from './api';
import type { IOperationView, SessionsModel } from './model';

/** What a confirmation asks. */
export interface IConfirmRequest {
  title: string;
  body: string;
  /** Label of the accepting button. */
  accept: string;
}

export type Confirm = (request: IConfirmRequest) => Promise<boolean>;

/** Ask, then terminate; resolves null when the user declined. */
export async function confirmTerminate(
  model: SessionsModel,
  confirm: Confirm,
  name: string
): Promise<IOperationView | null> {
  const id = resourceId(name);
  const ok = await confirm({
    title: `Terminate ${id}?`,
    body: `The session ${id} stops running; its kernel and anything held only in memory are lost. It stays listed as TERMINATED until you delete it.`,
    accept: 'Terminate'
  });
  return ok ? model.terminate(name) : null;
}

/** Ask, then delete; resolves null when the user declined. */
export async function confirmDelete(
  model: SessionsModel,
  confirm: Confirm,
  name: string
): Promise<IOperationView | null> {
  const id = resourceId(name);
  const state = model.session(name)?.state;
  const running = state === 'ACTIVE' || state === 'TERMINATING';
  const ok = await confirm({
    title: `Delete ${id}?`,
    body: running
      ? `The session ${id} is still running: it is terminated first, then removed. This cannot be undone.`
      : `The session ${id} and its history are removed. This cannot be undone.`,
    accept: 'Delete'
  });
  return ok ? model.delete(name) : null;
}
