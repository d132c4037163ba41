import type { KernelSpec } from '@jupyterlab/services';
import {
  IKernelHostState,
  IKernelInfo,
  KernelsApi,
  NO_KERNEL_LINKS,
  SessionBinding,
  canOpenNotebook,
  endNotice,
  formatClock,
  kernelLinks,
  notebooksOf,
  sessionOfKernel,
  sessionSpecOf,
  sessionSpecs,
  specsKey,
  specsOutOfDate,
  toolbarView
} from '../sessionKernels';
import { ApiError } from '../api';
import { FakeServer, PARENT, fakeModel, flush, makeSession } from './fakes';

const PREFIX = '//dataproc.googleapis.com/';

function spec(
  name: string,
  displayName: string,
  metadata?: Record<string, string>
): KernelSpec.ISpecModel {
  return {
    name,
    display_name: displayName,
    language: 'python',
    argv: [],
    resources: {},
    metadata
  };
}

const SPECS: KernelSpec.ISpecModels = {
  default: 'python3',
  kernelspecs: {
    python3: spec('python3', 'Python 3 (ipykernel)'),
    'session-template-zeta': spec('session-template-zeta', 'Zeta team', {
      endpointParentResource: `${PREFIX}${PARENT}/sessions`,
      sessionTemplate: `${PARENT}/sessionTemplates/zeta`,
      description: 'Big machines'
    }),
    session: spec('session', 'Python on a new session', {
      endpointParentResource: `${PREFIX}${PARENT}/sessions`,
      sessionTemplate: ''
    }),
    'session-template-alpha': spec('session-template-alpha', 'Alpha', {
      endpointParentResource: `${PREFIX}${PARENT}/sessions`,
      sessionTemplate: `${PARENT}/sessionTemplates/alpha`
    }),
    // A session resource (not a parent) is not a spec that starts sessions.
    odd: spec('odd', 'Odd', {
      endpointParentResource: `${PREFIX}${PARENT}/sessions/x`
    })
  }
};

describe('session kernelspecs', () => {
  it('keeps only the specs that start sessions: plain first, then by name', () => {
    const found = sessionSpecs(SPECS);
    expect(found.map(s => s.name)).toEqual([
      'session',
      'session-template-alpha',
      'session-template-zeta'
    ]);
    expect(found[2]).toEqual({
      name: 'session-template-zeta',
      displayName: 'Zeta team',
      description: 'Big machines',
      language: 'python',
      template: `${PARENT}/sessionTemplates/zeta`,
      parent: PARENT
    });
  });

  it('treats a local kernelspec and missing specs as none', () => {
    expect(sessionSpecOf(SPECS.kernelspecs.python3)).toBeNull();
    expect(sessionSpecOf(undefined)).toBeNull();
    expect(sessionSpecs(null)).toEqual([]);
  });

  it('has a key that changes with what a card shows', () => {
    const one = sessionSpecs(SPECS);
    const renamed = one.map(s =>
      s.name === 'session' ? { ...s, displayName: 'Plain' } : s
    );
    expect(specsKey(one)).toBe(specsKey(sessionSpecs(SPECS)));
    expect(specsKey(renamed)).not.toBe(specsKey(one));
  });
});

describe('whether the kernelspecs miss templates', () => {
  const specs = sessionSpecs(SPECS);
  const template = (id: string, jupyter = true) => ({
    name: `${PARENT}/sessionTemplates/${id}`,
    jupyterSession: jupyter ? { kernel: 'PYTHON' as const } : undefined
  });

  it('is up to date when every template with a Jupyter block has a spec', () => {
    expect(
      specsOutOfDate(
        [template('zeta'), template('alpha'), template('spark', false)],
        specs
      )
    ).toBe(false);
  });

  it('is out of date for a new template or a deleted one', () => {
    expect(
      specsOutOfDate(
        [template('zeta'), template('alpha'), template('beta')],
        specs
      )
    ).toBe(true);
    expect(specsOutOfDate([template('zeta')], specs)).toBe(true);
  });
});

describe('the side panel model tells when it lists templates', () => {
  it('passes the listed templates on', async () => {
    const listed: string[][] = [];
    const { model } = fakeModel(
      server =>
        server.on('GET', /sessionTemplates/, {
          body: {
            sessionTemplates: [{ name: `${PARENT}/sessionTemplates/t1` }]
          }
        }),
      {
        onTemplatesListed: templates => listed.push(templates.map(t => t.name))
      }
    );
    model.start();
    await flush(10);
    await model.listTemplates();
    expect(listed).toEqual([[`${PARENT}/sessionTemplates/t1`]]);
    model.dispose();
  });
});

describe('the session of a kernel', () => {
  it('reads endpointParentResource', () => {
    expect(
      sessionOfKernel({
        id: 'k',
        metadata: { endpointParentResource: `${PREFIX}${PARENT}/sessions/s1` }
      })
    ).toBe(`${PARENT}/sessions/s1`);
  });

  it.each([
    [{ id: 'k' }],
    [{ id: 'k', metadata: {} }],
    [{ id: 'k', metadata: { endpointParentResource: `${PARENT}/sessions/s` } }],
    [
      {
        id: 'k',
        metadata: { endpointParentResource: `${PREFIX}${PARENT}/sessions` }
      }
    ],
    [null]
  ])('is null for %j', model => {
    expect(sessionOfKernel(model)).toBeNull();
  });
});

describe('KernelsApi', () => {
  it('gets a session kernel through the Jupyter server', async () => {
    const server = new FakeServer();
    server.on('GET', /^api\/kernels\/k-1$/, {
      body: {
        id: 'k-1',
        name: 'session',
        metadata: {
          endpointParentResource: `${PREFIX}${PARENT}/sessions/s1`,
          startedHere: true
        }
      }
    });
    const info = await new KernelsApi(server).getKernel('k-1');
    expect(info).toEqual({
      id: 'k-1',
      name: 'session',
      session: `${PARENT}/sessions/s1`,
      startedHere: true
    });
    expect(server.requests[0].url).toBe(
      'http://localhost:8888/lab-base/api/kernels/k-1'
    );
  });

  it('says a local kernel runs in no session', async () => {
    const server = new FakeServer();
    server.on('GET', /^api\/kernels\/k-2$/, {
      body: { id: 'k-2', name: 'python3' }
    });
    const info = await new KernelsApi(server).getKernel('k-2');
    expect(info?.session).toBeNull();
    expect(info?.startedHere).toBe(false);
  });

  it('answers null for a kernel that is gone, and throws on other errors', async () => {
    const server = new FakeServer();
    server.on('GET', /^api\/kernels\/boom$/, {
      status: 500,
      text: '{"message": "gateway down"}'
    });
    const api = new KernelsApi(server);
    await expect(api.getKernel('gone')).resolves.toBeNull();
    await expect(api.getKernel('boom')).rejects.toBeInstanceOf(ApiError);
    server.offline = true;
    await expect(api.getKernel('boom')).rejects.toMatchObject({
      httpStatus: 0
    });
  });
});

describe('which sessions have notebooks', () => {
  const active = makeSession('a', 'ACTIVE');
  const links = kernelLinks(
    [{ id: 'uuid-a' }, { id: 'local-1' }],
    [
      { path: 'z.ipynb', kernel: { id: 'uuid-a' } },
      { path: 'b.ipynb', kernel: { id: 'uuid-a' } },
      { path: 'c.ipynb', kernel: { id: 'local-1' } },
      { path: 'none.ipynb', kernel: null }
    ]
  );

  it('lists the notebooks open on a session kernel', () => {
    expect(notebooksOf(links, active)).toEqual(['b.ipynb', 'z.ipynb']);
    expect(notebooksOf(links, makeSession('b', 'ACTIVE'))).toEqual([]);
    expect(notebooksOf(NO_KERNEL_LINKS, active)).toEqual([]);
  });

  it('offers a notebook only on an ACTIVE session with a running kernel', () => {
    expect(canOpenNotebook(links, active)).toBe(true);
    expect(canOpenNotebook(links, makeSession('a', 'TERMINATED'))).toBe(false);
    expect(canOpenNotebook(links, makeSession('b', 'ACTIVE'))).toBe(false);
    expect(canOpenNotebook(links, undefined)).toBe(false);
  });
});

describe('SessionBinding', () => {
  const specs = () => sessionSpecs(SPECS);
  const SESSION = `${PARENT}/sessions/kernel-abc`;
  let now = 1000;
  let answers: Record<string, IKernelInfo | null | Error>;
  let asked: string[];

  function make(): SessionBinding {
    now = 1000;
    asked = [];
    return new SessionBinding({
      specs,
      now: () => now,
      fetchKernel: id => {
        asked.push(id);
        const answer = answers[id];
        return answer instanceof Error
          ? Promise.reject(answer)
          : Promise.resolve(answer ?? null);
      }
    });
  }

  const host = (patch: Partial<IKernelHostState>): IKernelHostState => ({
    kernelId: null,
    kernelName: null,
    displayName: 'No Kernel',
    status: 'unknown',
    ...patch
  });

  beforeEach(() => {
    answers = {
      'uuid-abc': {
        id: 'uuid-abc',
        name: 'session',
        session: SESSION,
        startedHere: true
      },
      local: { id: 'local', name: 'python3', session: null, startedHere: false }
    };
  });

  it('goes starting, then resolving, then bound, keeping when the start began', async () => {
    const binding = make();
    binding.update(
      host({ displayName: 'Python on a new session', status: 'initializing' })
    );
    expect(binding.getSnapshot()).toMatchObject({
      phase: 'starting',
      startedAt: 1000
    });
    expect(binding.getSnapshot().spec?.name).toBe('session');
    now = 95000;
    binding.update(
      host({ displayName: 'Python on a new session', status: 'initializing' })
    );
    expect(binding.getSnapshot().startedAt).toBe(1000);
    expect(toolbarView(binding.getSnapshot(), undefined, now)?.text).toBe(
      'Starting a session… 1:34'
    );

    binding.update(
      host({ kernelId: 'uuid-abc', kernelName: 'session', status: 'idle' })
    );
    expect(binding.getSnapshot().phase).toBe('resolving');
    expect(toolbarView(binding.getSnapshot(), undefined, now)?.text).toMatch(
      /^Starting a session/
    );
    await flush();
    expect(binding.getSnapshot()).toEqual({
      phase: 'bound',
      kernelId: 'uuid-abc',
      session: SESSION,
      startedHere: true
    });
    // Later changes of the same kernel ask nothing more.
    binding.update(
      host({ kernelId: 'uuid-abc', kernelName: 'session', status: 'busy' })
    );
    expect(asked).toEqual(['uuid-abc']);
  });

  it('knows the start from the kernel preference before the display name', () => {
    const binding = make();
    binding.update(
      host({ status: 'initializing', preferredName: 'session-template-alpha' })
    );
    expect(binding.getSnapshot().spec?.displayName).toBe('Alpha');
  });

  it('ignores local kernels, starting or running', async () => {
    const binding = make();
    binding.update(
      host({ displayName: 'Python 3 (ipykernel)', status: 'initializing' })
    );
    expect(binding.getSnapshot().phase).toBe('none');
    binding.update(
      host({ kernelId: 'local', kernelName: 'python3', status: 'idle' })
    );
    await flush();
    expect(binding.getSnapshot().phase).toBe('none');
    expect(toolbarView(binding.getSnapshot(), undefined, now)).toBeNull();
    binding.update(
      host({ kernelId: 'local', kernelName: 'python3', status: 'busy' })
    );
    expect(asked).toEqual(['local']);
  });

  it('asks again after a failed look-up', async () => {
    answers.flaky = new Error('server down');
    const binding = make();
    binding.update(host({ kernelId: 'flaky', status: 'idle' }));
    await flush();
    expect(binding.getSnapshot()).toMatchObject({
      phase: 'none',
      error: 'server down'
    });
    answers.flaky = answers['uuid-abc'];
    binding.update(host({ kernelId: 'flaky', status: 'idle' }));
    await flush();
    expect(binding.getSnapshot().phase).toBe('bound');
    expect(asked).toEqual(['flaky', 'flaky']);
  });

  it('forgets a look-up when the kernel goes before the answer', async () => {
    const binding = make();
    binding.update(
      host({ kernelId: 'uuid-abc', kernelName: 'session', status: 'idle' })
    );
    expect(binding.getSnapshot().phase).toBe('resolving');
    binding.update(host({ status: 'unknown' }));
    await flush();
    expect(binding.getSnapshot()).toEqual({ phase: 'none' });
    expect(
      binding.endNotice(makeSession('kernel-abc', 'TERMINATED'))
    ).toBeNull();
  });

  it('shows a change to a session kernel as a start', async () => {
    const binding = make();
    binding.update(
      host({ kernelId: 'local', kernelName: 'python3', status: 'idle' })
    );
    await flush();
    binding.update(
      host({
        kernelId: 'local',
        kernelName: 'python3',
        displayName: 'Zeta team',
        status: 'starting'
      })
    );
    expect(binding.getSnapshot().phase).toBe('starting');
    // A session kernel that is itself starting up is not a new start.
    binding.update(
      host({
        kernelId: 'uuid-abc',
        kernelName: 'session',
        displayName: 'Python on a new session',
        status: 'starting'
      })
    );
    expect(binding.getSnapshot().phase).toBe('resolving');
  });

  async function bound(): Promise<SessionBinding> {
    const binding = make();
    binding.update(
      host({ kernelId: 'uuid-abc', kernelName: 'session', status: 'idle' })
    );
    await flush();
    expect(binding.getSnapshot().phase).toBe('bound');
    return binding;
  }

  it('tells once when the session ends under the kernel', async () => {
    const binding = await bound();
    const ended = {
      ...makeSession('kernel-abc', 'TERMINATED'),
      stateMessage: 'Idle TTL reached'
    };
    expect(binding.endNotice(makeSession('kernel-abc', 'ACTIVE'))).toBeNull();
    const notice = binding.endNotice(ended);
    expect(notice?.type).toBe('warning');
    expect(notice?.message).toBe(
      "Session kernel-abc ended, and this notebook's kernel with it. " +
        'Start a new kernel to go on. Reason: Idle TTL reached'
    );
    expect(binding.endNotice(ended)).toBeNull();
    expect(binding.endNotice(makeSession('other', 'FAILED'))).toBeNull();
  });

  it('says nothing when the notebook shut its kernel down itself', async () => {
    const binding = await bound();
    binding.update(
      host({
        kernelId: 'uuid-abc',
        kernelName: 'session',
        status: 'terminating'
      })
    );
    binding.update(host({ displayName: 'No Kernel', status: 'unknown' }));
    expect(binding.getSnapshot()).toMatchObject({
      phase: 'bound',
      endedHere: true,
      kernelGone: true
    });
    expect(
      binding.endNotice(makeSession('kernel-abc', 'TERMINATED'))
    ).toBeNull();
    // The toolbar still says how the session ended.
    expect(
      toolbarView(
        binding.getSnapshot(),
        makeSession('kernel-abc', 'TERMINATED'),
        now
      )?.text
    ).toBe('kernel-abc · TERMINATED');
  });

  it('still tells when the kernel died and went before the session was seen ended', async () => {
    const binding = await bound();
    binding.update(
      host({ kernelId: 'uuid-abc', kernelName: 'session', status: 'dead' })
    );
    binding.update(host({ displayName: 'No Kernel', status: 'unknown' }));
    expect(binding.getSnapshot()).toMatchObject({
      phase: 'bound',
      kernelDied: true,
      kernelGone: true
    });
    expect(
      binding.endNotice(makeSession('kernel-abc', 'TERMINATED'))?.message
    ).toMatch(/^Session kernel-abc ended, and this notebook's kernel with it/);
  });

  it('says nothing when the kernel was let go of alive', async () => {
    const binding = await bound();
    binding.update(host({ displayName: 'No Kernel', status: 'unknown' }));
    expect(binding.getSnapshot()).toMatchObject({ kernelGone: true });
    expect(
      binding.endNotice(makeSession('kernel-abc', 'TERMINATED'))
    ).toBeNull();
  });

  it('tells listeners and stops after dispose', async () => {
    const binding = make();
    const seen: string[] = [];
    binding.subscribe(() => seen.push(binding.getSnapshot().phase));
    binding.update(host({ kernelId: 'uuid-abc', status: 'idle' }));
    await flush();
    expect(seen).toEqual(['resolving', 'bound']);
    binding.dispose();
    binding.update(host({ kernelId: 'local', status: 'idle' }));
    expect(binding.getSnapshot().phase).toBe('bound');
  });
});

describe('what the toolbar says', () => {
  const SESSION = `${PARENT}/sessions/kernel-abc`;
  const bound = {
    phase: 'bound' as const,
    kernelId: 'uuid-abc',
    session: SESSION,
    startedHere: true
  };
  const now = Date.parse('2025-01-01T10:02:05Z');

  it('shows the id and the live state, clickable', () => {
    const view = toolbarView(bound, makeSession('kernel-abc', 'ACTIVE'), now);
    expect(view).toMatchObject({
      text: 'kernel-abc · ACTIVE',
      state: 'ACTIVE',
      busy: false,
      session: SESSION
    });
    expect(view?.title).toMatch(/Click to show its details/);
  });

  it('counts the time while CREATING', () => {
    const view = toolbarView(bound, makeSession('kernel-abc', 'CREATING'), now);
    expect(view?.text).toBe('kernel-abc · CREATING 2:05');
    expect(view?.status).toBe('CREATING 2:05');
    expect(view?.busy).toBe(true);
  });

  it('gives an ended session its state message as tooltip', () => {
    const failed = {
      ...makeSession('kernel-abc', 'FAILED'),
      stateMessage: 'Out of quota'
    };
    const view = toolbarView(bound, failed, now);
    expect(view?.text).toBe('kernel-abc · FAILED');
    expect(view?.title).toBe('FAILED: Out of quota (session kernel-abc)');
    expect(view?.status).toBe('FAILED');
    expect(view?.id).toBe('kernel-abc');
    expect(endNotice(failed)).toMatchObject({ type: 'error' });
    expect(endNotice(failed).message).toMatch(
      /^Session kernel-abc failed, .* Reason: Out of quota$/
    );
  });

  it('shows the id alone before the session is known', () => {
    expect(toolbarView(bound, undefined, now)?.text).toBe('kernel-abc');
  });

  it('hides for no kernel and for a look-up not started by a start', () => {
    expect(toolbarView({ phase: 'none' }, undefined, now)).toBeNull();
    expect(
      toolbarView({ phase: 'resolving', kernelId: 'k' }, undefined, now)
    ).toBeNull();
  });

  it.each([
    [0, '0:00'],
    [59999, '0:59'],
    [61000, '1:01'],
    [3723000, '1:02:03'],
    [-5, '0:00']
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatClock(ms)).toBe(text);
  });
});
