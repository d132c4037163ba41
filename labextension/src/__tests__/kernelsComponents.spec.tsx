import React from 'react';
import { act, fireEvent, render, screen } from '@testing-library/react';
import { SessionKernelStatus } from '../components/SessionKernelStatus';
import { SessionList } from '../components/SessionList';
import {
  ISessionDetailsProps,
  SessionDetails
} from '../components/SessionDetails';
import { SessionsView } from '../components/SessionsView';
import { IKernelInfo, SessionBinding, kernelLinks } from '../sessionKernels';
import type { ISession } from '../types';
import { FakeEventSource, PARENT, PLAIN_SPEC, makeSession } from './fakes';
import { liveModel, settle } from './harness';

describe('SessionKernelStatus in the notebook toolbar', () => {
  const SESSION = `${PARENT}/sessions/kernel-abc`;
  const info: IKernelInfo = {
    id: 'uuid-kernel-abc',
    name: 'session',
    session: SESSION,
    startedHere: true
  };

  function binding(): SessionBinding {
    return new SessionBinding({
      specs: () => [PLAIN_SPEC],
      fetchKernel: id =>
        Promise.resolve(id === info.id ? info : { ...info, session: null })
    });
  }

  it('says a session is starting, then shows its id and live state, and opens it', async () => {
    const { model } = await liveModel([]);
    const b = binding();
    const onOpen = jest.fn();
    const { container } = render(
      <SessionKernelStatus binding={b} model={model} onOpen={onOpen} />
    );
    expect(container.textContent).toBe('');
    act(() => {
      b.update({
        kernelId: null,
        kernelName: null,
        displayName: 'Python on a new session',
        status: 'initializing'
      });
    });
    const item = () =>
      container.querySelector('.jp-sessions-kernel-status') as HTMLElement;
    expect(item().textContent).toMatch(/^Starting a session… 0:0\d$/);
    expect(item().dataset.state).toBe('STARTING');
    expect((item() as HTMLButtonElement).disabled).toBe(true);

    act(() => {
      b.update({
        kernelId: info.id,
        kernelName: 'session',
        displayName: 'Python on a new session',
        status: 'idle'
      });
    });
    await settle();
    act(() => {
      FakeEventSource.last.emit('session', makeSession('kernel-abc', 'ACTIVE'));
    });
    expect(item().textContent).toBe('kernel-abc · ACTIVE');
    expect(item().classList).toContain('jp-sessions-kernel-status-active');
    fireEvent.click(item());
    expect(onOpen).toHaveBeenCalledWith(SESSION);

    act(() => {
      FakeEventSource.last.emit('session', {
        ...makeSession('kernel-abc', 'TERMINATED'),
        stateMessage: 'Terminated by the user'
      });
    });
    expect(item().textContent).toBe('kernel-abc · TERMINATED');
    expect(item().getAttribute('title')).toBe(
      'TERMINATED: Terminated by the user (session kernel-abc)'
    );
    model.dispose();
  });

  it('renders nothing for a local kernel', async () => {
    const { model } = await liveModel([]);
    const b = binding();
    const { container } = render(
      <SessionKernelStatus binding={b} model={model} onOpen={jest.fn()} />
    );
    act(() => {
      b.update({
        kernelId: 'local',
        kernelName: 'python3',
        displayName: 'Python 3',
        status: 'idle'
      });
    });
    await settle();
    expect(container.querySelector('.jp-sessions-kernel-status')).toBeNull();
    model.dispose();
  });
});

describe('notebooks attached to sessions in the side panel', () => {
  const attached = makeSession('attached', 'ACTIVE');
  const alone = makeSession('alone', 'ACTIVE');
  const links = kernelLinks(
    [{ id: 'uuid-attached' }, { id: 'uuid-alone' }],
    [
      { path: 'work/a.ipynb', kernel: { id: 'uuid-attached' } },
      { path: 'b.ipynb', kernel: { id: 'uuid-attached' } }
    ]
  );

  it('marks the rows of sessions with notebooks', () => {
    const { container } = render(
      <SessionList
        sessions={[attached, alone]}
        now={Date.now()}
        loaded
        total={2}
        onSelect={jest.fn()}
        kernels={links}
      />
    );
    const badgeOf = (id: string) =>
      container.querySelector(
        `[data-session="${id}"] .jp-sessions-notebook-badge`
      ) as HTMLElement | null;
    expect(badgeOf('attached')?.dataset.count).toBe('2');
    expect(badgeOf('attached')?.getAttribute('title')).toBe(
      '2 notebooks are attached: b.ipynb, work/a.ipynb'
    );
    expect(badgeOf('alone')).toBeNull();
  });

  const detailsOf = (
    session: ISession,
    extra: Partial<ISessionDetailsProps> = {}
  ) => (
    <SessionDetails
      name={session.name}
      session={session}
      now={Date.now()}
      onBack={jest.fn()}
      onTerminate={jest.fn()}
      onDelete={jest.fn()}
      {...extra}
    />
  );

  it('offers a notebook on an ACTIVE session with a kernel', () => {
    const onOpenNotebook = jest.fn();
    render(
      detailsOf(attached, {
        notebooks: ['b.ipynb'],
        canOpenNotebook: true,
        onOpenNotebook
      })
    );
    const button = screen.getByRole('button', {
      name: 'Open a notebook on this session'
    }) as HTMLButtonElement;
    expect(button.disabled).toBe(false);
    fireEvent.click(button);
    expect(onOpenNotebook).toHaveBeenCalledWith(attached);
    expect(
      screen.getByRole('img', { name: 'A notebook is attached: b.ipynb' })
    ).toBeTruthy();
  });

  it('disables the offer without a kernel and drops it unless ACTIVE', () => {
    const noKernel = { canOpenNotebook: false, onOpenNotebook: jest.fn() };
    const { rerender } = render(detailsOf(alone, noKernel));
    const button = screen.getByRole('button', {
      name: 'Open a notebook on this session'
    }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    const ended = makeSession('alone', 'TERMINATED');
    rerender(detailsOf(ended, noKernel));
    expect(
      screen.queryByRole('button', { name: 'Open a notebook on this session' })
    ).toBeNull();
  });

  it('follows the model’s kernel links in the whole panel', async () => {
    const { model } = await liveModel([attached, alone]);
    const onOpenNotebook = jest.fn();
    const { container } = render(
      <SessionsView
        model={model}
        confirm={() => Promise.resolve(false)}
        onOpenNotebook={onOpenNotebook}
      />
    );
    expect(container.querySelector('.jp-sessions-notebook-badge')).toBeNull();
    const seen: number[] = [];
    model.subscribe(() => seen.push(1));
    act(() => model.setKernelLinks(links));
    act(() =>
      model.setKernelLinks(
        kernelLinks(
          [...links.running].map(id => ({ id })),
          [
            { path: 'b.ipynb', kernel: { id: 'uuid-attached' } },
            { path: 'work/a.ipynb', kernel: { id: 'uuid-attached' } }
          ]
        )
      )
    );
    expect(seen).toHaveLength(1); // the same links again change nothing
    expect(
      container.querySelectorAll('.jp-sessions-notebook-badge')
    ).toHaveLength(1);
    act(() => model.showDetails(alone.name));
    fireEvent.click(
      screen.getByRole('button', { name: 'Open a notebook on this session' })
    );
    expect(onOpenNotebook).toHaveBeenCalledWith(alone);
    model.dispose();
  });
});
