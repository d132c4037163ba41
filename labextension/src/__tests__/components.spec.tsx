import React from 'react';
import {
  act,
  fireEvent,
  render,
  screen,
  waitFor,
  within
} from '@testing-library/react';
import { StateBadge } from '../components/StateBadge';
import { SessionList } from '../components/SessionList';
import { SessionDetails, timelineEntries } from '../components/SessionDetails';
import { CreateSessionForm } from '../components/CreateSessionForm';
import { StatusLine } from '../components/StatusLine';
import { ActivityList } from '../components/ActivityList';
import { SessionsView } from '../components/SessionsView';
import type { IModelSnapshot, IOperationView } from '../model';
import { initialState, reduce } from '../state';
import { NO_KERNEL_LINKS } from '../sessionKernels';
import type { ISession, ISessionInput, SessionState } from '../types';
import {
  CONFIG,
  FakeEventSource,
  PARENT,
  doneOperation,
  fakeModel,
  flush,
  makeSession,
  refusedCreate
} from './fakes';
import { settle } from './harness';

const NOW = Date.parse('2025-01-01T10:30:00Z');

describe('StateBadge renders each state', () => {
  it.each([
    ['CREATING', 'Creating', 'jp-sessions-badge-creating', true],
    ['ACTIVE', 'Active', 'jp-sessions-badge-active', false],
    ['TERMINATING', 'Terminating', 'jp-sessions-badge-terminating', true],
    ['TERMINATED', 'Terminated', 'jp-sessions-badge-terminated', false],
    ['FAILED', 'Failed', 'jp-sessions-badge-failed', false],
    [
      'STATE_UNSPECIFIED',
      'Unknown',
      'jp-sessions-badge-state-unspecified',
      false
    ]
  ] as [SessionState, string, string, boolean][])(
    '%s',
    (state, label, cls, spinning) => {
      const { container } = render(<StateBadge state={state} />);
      const badge = container.querySelector(
        '.jp-sessions-badge'
      ) as HTMLElement;
      expect(badge).toHaveProperty('textContent', label);
      expect(badge.classList.contains(cls)).toBe(true);
      expect(badge.dataset.state).toBe(state);
      expect(badge.getAttribute('title')).toMatch(new RegExp(`^${state}: `));
      expect(badge.querySelector('.jp-sessions-spinner') !== null).toBe(
        spinning
      );
      expect(badge.querySelector('.jp-sessions-badge-dot') !== null).toBe(
        !spinning
      );
    }
  );

  it('shows Unknown without a state', () => {
    render(<StateBadge />);
    expect(screen.getByText('Unknown')).toBeTruthy();
  });
});

describe('SessionList', () => {
  /** The list of `sessions`, loaded, out of `total` before the filter. */
  const listOf = (
    sessions: ISession[],
    total = sessions.length,
    onSelect: (name: string) => void = jest.fn()
  ) => (
    <SessionList
      sessions={sessions}
      now={NOW}
      loaded
      total={total}
      onSelect={onSelect}
    />
  );

  it('says it is loading until data arrives', () => {
    render(
      <SessionList
        sessions={[]}
        now={NOW}
        loaded={false}
        total={0}
        onSelect={jest.fn()}
      />
    );
    expect(screen.getByText('Loading sessions…')).toBeTruthy();
  });

  it('tells an empty list from an empty filter result', () => {
    const { rerender } = render(listOf([]));
    expect(screen.getByText(/No sessions yet/)).toBeTruthy();
    rerender(listOf([], 3));
    expect(screen.getByText('No session matches the filter.')).toBeTruthy();
  });

  it('shows id, badge, age, creator, runtime and user labels, and opens a row', () => {
    const onSelect = jest.fn();
    const session = makeSession('etl', 'ACTIVE', {
      labels: { team: 'data', 'goog-dataproc-session-id': 'etl' }
    });
    render(listOf([session], 1, onSelect));
    const row = screen.getByRole('button', { name: 'etl, ACTIVE' });
    expect(within(row).getByText('etl')).toBeTruthy();
    expect(within(row).getByText('Active')).toBeTruthy();
    expect(within(row).getByText('30m ago')).toBeTruthy();
    expect(within(row).getByText('alice@example.com')).toBeTruthy();
    expect(within(row).getByText('Python')).toBeTruthy();
    expect(within(row).getByText('team=data')).toBeTruthy();
    expect(within(row).queryByText(/goog-dataproc/)).toBeNull();
    fireEvent.click(row);
    fireEvent.keyDown(row, { key: 'Enter' });
    expect(onSelect).toHaveBeenCalledTimes(2);
    expect(onSelect).toHaveBeenCalledWith(session.name);
  });

  it('shows why a FAILED session failed', () => {
    const session = makeSession('bad', 'FAILED', {
      stateMessage: 'Kernel exited with code 1'
    });
    render(listOf([session]));
    expect(screen.getByText('Kernel exited with code 1')).toBeTruthy();
  });
});

describe('SessionDetails', () => {
  const renderDetails = (
    state: SessionState,
    extra = {},
    operation?: IOperationView
  ) => {
    const session = makeSession('alpha', state, extra);
    const props = {
      name: session.name,
      session,
      now: NOW,
      operation,
      onBack: jest.fn(),
      onTerminate: jest.fn(),
      onDelete: jest.fn()
    };
    render(<SessionDetails {...props} />);
    return props;
  };
  const button = (name: string) =>
    screen.getByRole('button', { name }) as HTMLButtonElement;

  it.each([
    ['CREATING', true, true],
    ['ACTIVE', false, false],
    ['TERMINATING', true, false],
    ['TERMINATED', true, false],
    ['FAILED', true, false]
  ] as [SessionState, boolean, boolean][])(
    '%s: terminate disabled=%s, delete disabled=%s',
    (state, terminateDisabled, deleteDisabled) => {
      renderDetails(state);
      expect(button('Terminate').disabled).toBe(terminateDisabled);
      expect(button('Delete').disabled).toBe(deleteDisabled);
    }
  );

  it('calls back on terminate and delete', () => {
    const props = renderDetails('ACTIVE');
    fireEvent.click(button('Terminate'));
    fireEvent.click(button('Delete'));
    expect(props.onTerminate).toHaveBeenCalledWith(props.name);
    expect(props.onDelete).toHaveBeenCalledWith(props.name);
  });

  it('disables both while an operation on the session is under way, and shows it', () => {
    renderDetails(
      'ACTIVE',
      {},
      {
        id: 'op-1',
        kind: 'terminate',
        sessionName: `${PARENT}/sessions/alpha`,
        sessionId: 'alpha',
        phase: 'running',
        message: 'Terminating alpha… (TERMINATING, 5s)',
        startedAt: 0
      }
    );
    expect(button('Terminate').disabled).toBe(true);
    expect(button('Delete').disabled).toBe(true);
    expect(
      screen.getByText('Terminating alpha… (TERMINATING, 5s)')
    ).toBeTruthy();
  });

  it('shows the state message of a FAILED session as an alert', () => {
    renderDetails('FAILED', { stateMessage: 'Runtime failed: out of memory' });
    expect(screen.getByRole('alert').textContent).toBe(
      'Runtime failed: out of memory'
    );
  });

  it('shows endpoints as links or copyable text, usage and the idle countdown', () => {
    renderDetails('ACTIVE', {
      stateTime: '2025-01-01T10:00:00Z',
      environmentConfig: {
        executionConfig: { idleTtl: '3600s', ttl: '86400s' }
      },
      runtimeInfo: {
        endpoints: {
          'Spark Connect Server': 'sc://127.0.0.1:15002',
          'Jupyter Server': 'http://127.0.0.1:8899/'
        },
        currentUsage: { milliDcu: '4000' },
        approximateUsage: { milliDcuSeconds: '3600000' }
      }
    });
    const link = screen.getByRole('link', { name: 'http://127.0.0.1:8899/' });
    expect(link.getAttribute('href')).toBe('http://127.0.0.1:8899/');
    expect(link.getAttribute('target')).toBe('_blank');
    expect(screen.getByText('sc://127.0.0.1:15002').tagName).toBe('CODE');
    expect(
      screen.getByRole('button', { name: 'Copy Spark Connect Server' })
    ).toBeTruthy();
    expect(screen.getByText('4 DCU')).toBeTruthy();
    expect(screen.getByText('1 DCU·h')).toBeTruthy();
    expect(screen.getByText('Idle shutdown')).toBeTruthy();
    expect(screen.getByText('in 30m')).toBeTruthy();
    expect(screen.getByText('Max lifetime')).toBeTruthy();
    expect(screen.getByText('in 23h 30m')).toBeTruthy();
    expect(screen.getByText('1h 00m')).toBeTruthy();
  });

  it('has no countdown unless ACTIVE', () => {
    renderDetails('TERMINATED', {
      environmentConfig: { executionConfig: { idleTtl: '3600s' } }
    });
    expect(screen.queryByText('Idle shutdown')).toBeNull();
  });

  it('draws the state history as a timeline ending with the current state', () => {
    const session = makeSession('alpha', 'TERMINATED');
    expect(timelineEntries(session).map(e => [e.state, e.current])).toEqual([
      ['CREATING', false],
      ['ACTIVE', false],
      ['TERMINATING', false],
      ['TERMINATED', true]
    ]);
    renderDetails('TERMINATED');
    const items = screen
      .getAllByRole('listitem')
      .filter(li => li.className.includes('timeline'));
    expect(items.map(li => li.querySelector('strong')?.textContent)).toEqual([
      'CREATING',
      'ACTIVE',
      'TERMINATING',
      'TERMINATED'
    ]);
  });

  it('says so when the session is gone', () => {
    render(
      <SessionDetails
        name={`${PARENT}/sessions/x`}
        now={NOW}
        onBack={jest.fn()}
        onTerminate={jest.fn()}
        onDelete={jest.fn()}
      />
    );
    expect(screen.getByText('This session no longer exists.')).toBeTruthy();
  });
});

describe('CreateSessionForm', () => {
  const TEMPLATE = `${PARENT}/sessionTemplates/small`;
  const setup = (
    options: {
      templates?: () => Promise<{ name: string; description?: string }[]>;
    } = {}
  ) => {
    const onCreate = jest.fn<void, [string, ISessionInput]>();
    const operations: IOperationView[] = [];
    const utils = render(
      <CreateSessionForm
        parent={PARENT}
        loadTemplates={
          options.templates ??
          (() => Promise.resolve([{ name: TEMPLATE, description: 'Small' }]))
        }
        onCreate={onCreate}
        findOperation={name => operations.find(op => op.sessionName === name)}
        findSession={() => undefined}
        onClose={jest.fn()}
        onOpenSession={jest.fn()}
        initialValues={{ sessionId: 'my-session' }}
      />
    );
    return { onCreate, operations, ...utils };
  };
  const field = (label: string) =>
    screen.getByLabelText(new RegExp(`^${label}( \\*)?$`)) as HTMLInputElement;
  const submit = () =>
    screen.getByRole('button', { name: 'Create' }) as HTMLButtonElement;

  it('shows each field’s message under that field as it is typed', async () => {
    setup();
    await settle();
    fireEvent.change(field('Session ID'), { target: { value: 'My-Session' } });
    expect(screen.getByText('Start with a lowercase letter.')).toBeTruthy();
    expect(field('Session ID').getAttribute('aria-invalid')).toBe('true');
    expect(submit().disabled).toBe(true);

    fireEvent.change(field('Session ID'), { target: { value: 'good-id' } });
    expect(screen.queryByText('Start with a lowercase letter.')).toBeNull();
    expect(submit().disabled).toBe(false);

    fireEvent.change(field('Idle TTL'), { target: { value: '5m' } });
    expect(screen.getByText('At least 10 minutes.')).toBeTruthy();
    fireEvent.change(field('Idle TTL'), { target: { value: '20d' } });
    expect(screen.getByText('At most 14 days.')).toBeTruthy();
    fireEvent.change(field('Idle TTL'), { target: { value: '30m' } });

    fireEvent.change(field('TTL'), { target: { value: 'forever' } });
    expect(
      screen.getByText('Write a duration such as 90s, 30m, 2h or 1d.')
    ).toBeTruthy();
    fireEvent.change(field('TTL'), { target: { value: '2h' } });

    fireEvent.change(field('Labels'), { target: { value: 'Team=x' } });
    expect(screen.getByText(/^Label key "Team"/)).toBeTruthy();
    fireEvent.change(field('Labels'), { target: { value: 'team=x' } });
    expect(submit().disabled).toBe(false);
  });

  it('sends the built request', async () => {
    const { onCreate } = setup();
    await settle();
    fireEvent.change(field('TTL'), { target: { value: '2h' } });
    fireEvent.change(field('Idle TTL'), { target: { value: '30m' } });
    fireEvent.change(field('Labels'), { target: { value: 'team=data' } });
    fireEvent.change(screen.getByLabelText('Runtime'), {
      target: { value: 'SCALA' }
    });
    fireEvent.click(submit());
    expect(onCreate).toHaveBeenCalledWith('my-session', {
      jupyterSession: { kernel: 'SCALA' },
      labels: { team: 'data' },
      environmentConfig: { executionConfig: { ttl: '7200s', idleTtl: '1800s' } }
    });
  });

  it('creates from a template', async () => {
    const { onCreate } = setup();
    await settle();
    fireEvent.click(screen.getByLabelText('Template'));
    await waitFor(() =>
      expect(screen.getByRole('combobox', { name: 'Template' })).toBeTruthy()
    );
    expect(submit().disabled).toBe(true);
    fireEvent.change(screen.getByRole('combobox', { name: 'Template' }), {
      target: { value: TEMPLATE }
    });
    fireEvent.click(submit());
    expect(onCreate).toHaveBeenCalledWith('my-session', {
      sessionTemplate: TEMPLATE
    });
  });

  it('shows why templates cannot be listed', async () => {
    setup({ templates: () => Promise.reject(new Error('Permission denied')) });
    await settle();
    fireEvent.click(screen.getByLabelText('Template'));
    await waitFor(() =>
      expect(
        screen.getByText('Cannot list templates: Permission denied')
      ).toBeTruthy()
    );
  });

  it('reports the outcome of the operation after submit', async () => {
    const { operations, rerender, onCreate } = setup();
    await settle();
    operations.push(refusedCreate('my-session'));
    fireEvent.click(submit());
    expect(onCreate).toHaveBeenCalled();
    rerender(
      <CreateSessionForm
        parent={PARENT}
        loadTemplates={() => Promise.resolve([])}
        onCreate={onCreate}
        findOperation={name => operations.find(op => op.sessionName === name)}
        findSession={() => undefined}
        onClose={jest.fn()}
        onOpenSession={jest.fn()}
      />
    );
    await settle();
    expect(screen.getByRole('alert').textContent).toBe(
      'Cannot create my-session: Session my-session already exists'
    );
    fireEvent.click(screen.getByRole('button', { name: 'Edit and retry' }));
    expect(field('Session ID').value).toBe('my-session');
  });
});

describe('ActivityList', () => {
  const op = (
    id: string,
    phase: IOperationView['phase'],
    finishedAt?: number
  ): IOperationView => ({
    id,
    kind: 'terminate',
    sessionName: `${PARENT}/sessions/${id}`,
    sessionId: id,
    phase,
    message: `${id} ${phase}`,
    startedAt: 0,
    finishedAt
  });

  it('keeps running operations and only the latest outcome, drops old successes', () => {
    render(
      <ActivityList
        operations={[
          op('a', 'succeeded', NOW - 1000),
          op('b', 'succeeded', NOW - 120000),
          op('c', 'failed', NOW - 120000),
          op('d', 'running')
        ]}
        onDismiss={jest.fn()}
        onShow={jest.fn()}
        now={NOW}
      />
    );
    expect(screen.getAllByRole('listitem').map(li => li.dataset.phase)).toEqual(
      ['succeeded', 'running']
    );
    expect(screen.queryByText('b succeeded')).toBeNull();
  });

  it('shows a failure as text, not as a link', () => {
    render(
      <ActivityList
        operations={[op('c', 'failed', NOW - 1000)]}
        onDismiss={jest.fn()}
        onShow={jest.fn()}
        now={NOW}
      />
    );
    const item = screen.getByRole('listitem');
    expect(item.dataset.phase).toBe('failed');
    expect(item.querySelector('.jp-sessions-link-button')).toBeNull();
  });
});

describe('StatusLine', () => {
  const snapshot = (patch: Partial<IModelSnapshot>): IModelSnapshot => ({
    state: initialState,
    config: CONFIG,
    configError: null,
    operations: [],
    visible: true,
    view: { page: 'list', selected: null },
    kernels: NO_KERNEL_LINKS,
    ...patch
  });

  it('is hidden while all is well', () => {
    const state = reduce(initialState, {
      type: 'snapshot',
      sessions: [],
      at: NOW
    });
    const { container } = render(
      <StatusLine
        snapshot={snapshot({ state })}
        now={NOW}
        onRetry={jest.fn()}
      />
    );
    expect(container.textContent).toBe('');
  });

  it('shows the backend is unreachable', () => {
    const state = reduce(
      reduce(initialState, { type: 'snapshot', sessions: [], at: NOW }),
      {
        type: 'status',
        status: { reachable: false, message: 'connection refused' }
      }
    );
    render(
      <StatusLine
        snapshot={snapshot({ state })}
        now={NOW}
        onRetry={jest.fn()}
      />
    );
    expect(screen.getByRole('status').textContent).toMatch(
      /^Backend unreachable: connection refused/
    );
  });

  it('shows the stream is down and offers a retry', () => {
    const onRetry = jest.fn();
    const state = reduce(initialState, {
      type: 'connection',
      connection: 'disconnected',
      error: 'cannot open the event stream'
    });
    render(
      <StatusLine snapshot={snapshot({ state })} now={NOW} onRetry={onRetry} />
    );
    expect(screen.getByRole('status').textContent).toMatch(
      /Live updates disconnected: cannot open the event stream.*polling meanwhile/
    );
    fireEvent.click(screen.getByRole('button', { name: 'Retry now' }));
    expect(onRetry).toHaveBeenCalled();
  });

  it('shows a missing server extension', () => {
    render(
      <StatusLine
        snapshot={snapshot({
          config: null,
          configError: 'Not found (retrying in 4s)'
        })}
        now={NOW}
        onRetry={jest.fn()}
      />
    );
    expect(screen.getByRole('status').textContent).toMatch(
      /^Sessions server extension unreachable: Not found/
    );
  });
});

describe('SessionsView with a model', () => {
  const OP = 'projects/demo/regions/local/operations/op-9';

  async function mount(confirmAnswer = true) {
    const { server, model } = fakeModel(
      s => {
        s.on('POST', /:terminate$/, { body: { name: OP } });
        s.on(
          'GET',
          /operations/,
          doneOperation(OP, makeSession('etl', 'TERMINATED'))
        );
      },
      { operationPollMs: 5 }
    );
    const confirm = jest.fn(() => Promise.resolve(confirmAnswer));
    model.start();
    await settle();
    model.setVisible(true);
    render(<SessionsView model={model} confirm={confirm} />);
    act(() => {
      FakeEventSource.last.emit('snapshot', {
        sessions: [
          makeSession('etl', 'ACTIVE', { labels: { team: 'data' } }),
          makeSession('scratch', 'TERMINATED'),
          makeSession('boot', 'CREATING')
        ]
      });
    });
    return { model, server, confirm };
  }

  it('lists, filters by text and by state', async () => {
    const { model } = await mount();
    expect(screen.getAllByRole('button', { name: /, [A-Z]+$/ })).toHaveLength(
      3
    );
    fireEvent.change(screen.getByLabelText('Filter sessions'), {
      target: { value: 'team=data' }
    });
    expect(
      screen
        .getAllByRole('button', { name: /, [A-Z]+$/ })
        .map(b => b.dataset.session)
    ).toEqual(['etl']);
    fireEvent.change(screen.getByLabelText('Filter sessions'), {
      target: { value: '' }
    });
    fireEvent.change(screen.getByLabelText('Filter by state'), {
      target: { value: 'live' }
    });
    expect(screen.getAllByRole('button', { name: /, [A-Z]+$/ })).toHaveLength(
      2
    );
    act(() => {
      FakeEventSource.last.emit('session', makeSession('boot', 'ACTIVE'));
    });
    expect(screen.getByRole('button', { name: 'boot, ACTIVE' })).toBeTruthy();
    model.dispose();
  });

  it('turns the live dot off while the backend is unreachable', async () => {
    const { model } = await mount();
    const dot = () => screen.getByRole('img', { name: /Live updates|Backend/ });
    expect(dot().className).toContain('jp-sessions-connection-live');
    act(() => {
      FakeEventSource.last.emit('status', {
        reachable: false,
        message: 'did not answer within 5s'
      });
    });
    expect(dot().className).toContain('jp-sessions-connection-unreachable');
    expect(dot().className).not.toContain('jp-sessions-connection-live');
    expect(dot().getAttribute('title')).toBe('Backend unreachable');
    expect(screen.getByRole('status').textContent).toMatch(
      /^Backend unreachable: did not answer within 5s/
    );
    act(() => {
      FakeEventSource.last.emit('status', { reachable: true });
    });
    expect(dot().className).toContain('jp-sessions-connection-live');
    model.dispose();
  });

  it('terminates after confirmation and shows the real outcome', async () => {
    const { model, server, confirm } = await mount(true);
    fireEvent.click(screen.getByRole('button', { name: 'etl, ACTIVE' }));
    fireEvent.click(screen.getByRole('button', { name: 'Terminate' }));
    await waitFor(() =>
      expect(screen.getByText('Terminated etl')).toBeTruthy()
    );
    expect(confirm).toHaveBeenCalledWith(
      expect.objectContaining({ title: 'Terminate etl?', accept: 'Terminate' })
    );
    expect(server.requestsTo('POST', /:terminate$/)).toHaveLength(1);
    expect(screen.getAllByText('Terminated').length).toBeGreaterThan(0);
    model.dispose();
  });

  it('does nothing when the confirmation is declined', async () => {
    const { model, server } = await mount(false);
    fireEvent.click(screen.getByRole('button', { name: 'etl, ACTIVE' }));
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Terminate' }));
      await flush();
    });
    expect(server.requestsTo('POST', /:terminate$/)).toHaveLength(0);
    model.dispose();
  });

  it('shows the status line when the stream drops', async () => {
    const { model } = await mount();
    act(() => {
      FakeEventSource.last.fail();
    });
    expect(screen.getByRole('status').textContent).toMatch(
      /Live updates disconnected/
    );
    model.dispose();
  });
});
