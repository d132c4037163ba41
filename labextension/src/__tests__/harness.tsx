/**
 * Shared setup of the component specs: a live sessions model on the fakes,
 * and settling its promises inside act().
 */

import { act } from '@testing-library/react';
import type { ISessionsModelOptions, SessionsModel } from '../model';
import type { ISession } from '../types';
import { FakeEventSource, FakeServer, fakeModel, flush } from './fakes';

/** Let pending promises settle inside act(). */
export const settle = (): Promise<void> =>
  act(async () => {
    await flush(10);
  });

/** A started model whose event stream has sent `sessions` as its snapshot. */
export async function liveModel(
  sessions: ISession[],
  configure?: (server: FakeServer) => void,
  options: Partial<ISessionsModelOptions> = {}
): Promise<{ model: SessionsModel; server: FakeServer }> {
  const { model, server } = fakeModel(configure, options);
  model.start();
  await settle();
  act(() => {
    FakeEventSource.last.emit('snapshot', { sessions });
  });
  return { model, server };
}
