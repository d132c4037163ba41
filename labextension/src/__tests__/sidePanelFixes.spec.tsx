/**
 * Side panel fixes: endpoint tooltips and the kernel log button, Escape and
 * Delete leading back to the list, runtimes the backend cannot run, and a
 * refused create that does not show the existing session's state.
 */
import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import {
  ISessionDetailsProps,
  KERNEL_LOG_ENDPOINT,
  SessionDetails
} from '../components/SessionDetails';
import { CreateSessionForm } from '../components/CreateSessionForm';
import type { IOperationView } from '../model';
import { PARENT, makeSession, refusedCreate } from './fakes';

const NOW = Date.parse('2025-01-01T10:30:00Z');
const LOG = '/very/long/path/to/the/emulator/runtime/kernels/kernel-abc.log';

describe('SessionDetails', () => {
  const session = makeSession('alpha', 'ACTIVE', {
    runtimeInfo: { endpoints: { [KERNEL_LOG_ENDPOINT]: LOG } }
  });
  const base = {
    name: session.name,
    now: NOW,
    onTerminate: jest.fn(),
    onDelete: jest.fn()
  };
  const show = (extra: Partial<ISessionDetailsProps>) =>
    render(
      <SessionDetails
        {...base}
        session={session}
        onBack={jest.fn()}
        {...extra}
      />
    );

  it('gives endpoint values a tooltip and the kernel log a View button', () => {
    const onOpenLog = jest.fn();
    show({ onOpenLog });
    expect(screen.getByTitle(LOG)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'View' }));
    expect(onOpenLog).toHaveBeenCalledWith(session);
  });

  it('has no View button without a way to open the log', () => {
    show({});
    expect(screen.queryByRole('button', { name: 'View' })).toBeNull();
  });

  it('goes back to the list on Escape', () => {
    const onBack = jest.fn();
    show({ onBack, onOpenLog: jest.fn() });
    fireEvent.keyDown(screen.getByRole('button', { name: 'View' }), {
      key: 'Enter'
    });
    expect(onBack).not.toHaveBeenCalled();
    fireEvent.keyDown(screen.getByRole('button', { name: 'View' }), {
      key: 'Escape'
    });
    expect(onBack).toHaveBeenCalledTimes(1);
  });

  it('goes back to the list once its delete is done', () => {
    const onBack = jest.fn();
    const deleted: IOperationView = {
      id: 'op',
      kind: 'delete',
      sessionName: session.name,
      sessionId: 'alpha',
      phase: 'succeeded',
      message: 'Deleted alpha',
      startedAt: 0,
      finishedAt: NOW
    };
    show({ session: undefined, operation: deleted, onBack });
    expect(onBack).toHaveBeenCalledTimes(1);
  });
});

describe('CreateSessionForm', () => {
  const props = {
    parent: PARENT,
    loadTemplates: () => Promise.resolve([]),
    onCreate: jest.fn(),
    findOperation: () => undefined,
    findSession: () => undefined,
    onClose: jest.fn(),
    onOpenSession: jest.fn()
  };

  it('offers only what the backend can run, and says why', async () => {
    render(
      <CreateSessionForm
        {...props}
        runtimes={{
          PYTHON: '',
          SCALA: 'Scala kernels are not available in the local emulator',
          SPARK_CONNECT: ''
        }}
      />
    );
    await waitFor(() => expect(screen.getByLabelText('Runtime')).toBeTruthy());
    const select = screen.getByLabelText('Runtime') as HTMLSelectElement;
    const options = Array.from(select.options);
    expect(options.map(o => [o.value, o.disabled])).toEqual([
      ['PYTHON', false],
      ['SCALA', true],
      ['SPARK_CONNECT', false]
    ]);
    expect(options[1].title).toContain('not available in the local emulator');
    expect(
      document.getElementById('jp-sessions-runtime-hint')?.textContent
    ).toContain('Jupyter, Scala kernel: Scala kernels are not available');
  });

  it('offers everything when the server says nothing', async () => {
    render(<CreateSessionForm {...props} />);
    await waitFor(() => expect(screen.getByLabelText('Runtime')).toBeTruthy());
    const select = screen.getByLabelText('Runtime') as HTMLSelectElement;
    expect(Array.from(select.options).some(o => o.disabled)).toBe(false);
    expect(document.getElementById('jp-sessions-runtime-hint')).toBeNull();
  });

  it('does not show the state of the session that took the id', async () => {
    const existing = makeSession('my-session', 'TERMINATED');
    const failed = refusedCreate('my-session');
    render(
      <CreateSessionForm
        {...props}
        initialValues={{ sessionId: 'my-session' }}
        findOperation={() => failed}
        findSession={() => existing}
      />
    );
    await waitFor(() => expect(screen.getByLabelText('Runtime')).toBeTruthy());
    const form = document.querySelector('form');
    expect(form).toBeTruthy();
    fireEvent.submit(form as HTMLFormElement);
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toContain('already exists')
    );
    expect(document.querySelector('[data-state="TERMINATED"]')).toBeNull();
  });

  it('while creating, offers the way back to the list where the session shows', async () => {
    const running: IOperationView = {
      id: 'op-2',
      kind: 'create',
      sessionName: `${PARENT}/sessions/my-session`,
      sessionId: 'my-session',
      phase: 'running',
      message: 'Creating my-session',
      startedAt: 0
    };
    const onClose = jest.fn();
    render(
      <CreateSessionForm
        {...props}
        onClose={onClose}
        initialValues={{ sessionId: 'my-session' }}
        findOperation={() => running}
      />
    );
    await waitFor(() => expect(screen.getByLabelText('Runtime')).toBeTruthy());
    fireEvent.submit(document.querySelector('form') as HTMLFormElement);
    await waitFor(() =>
      expect(screen.getByText(/go back to the list to see it/)).toBeTruthy()
    );
    fireEvent.click(screen.getByRole('button', { name: 'Back to the list' }));
    expect(onClose).toHaveBeenCalled();
  });
});
