import React from 'react';
import { act, fireEvent, render, screen } from '@testing-library/react';
import { parseEvent } from '../events';
import {
  ITemplateFormValues,
  TemplatesModel,
  buildTemplate,
  checkLabelChip,
  emptyTemplateForm,
  formFromTemplate,
  templateFromSession,
  validateTemplateForm
} from '../templates';
import type { ISessionTemplate } from '../types';
import { TemplateForm } from '../components/TemplateForm';
import {
  FakeEventSource,
  FakeServer,
  PARENT,
  fakeModel,
  flush,
  makeSession
} from './fakes';

const T = (id: string) => `${PARENT}/sessionTemplates/${id}`;

function values(patch: Partial<ITemplateFormValues>): ITemplateFormValues {
  return { ...emptyTemplateForm, templateId: 'team-py', ...patch };
}

describe('the template form', () => {
  it('applies the session form rules to every field', () => {
    expect(validateTemplateForm(values({}))).toEqual({});
    const errors = validateTemplateForm(
      values({
        templateId: 'Bad_Id',
        ttl: '5m',
        idleTtl: 'soon',
        version: 'latest',
        labels: ['Team=x'],
        properties: [{ key: '', value: '4' }],
        serviceAccount: 'nobody'
      })
    );
    expect(errors.templateId).toBe('Start with a lowercase letter.');
    expect(errors.ttl).toBe('At least 10 minutes.');
    expect(errors.idleTtl).toMatch(/Write a duration/);
    expect(errors.version).toMatch(/runtime version/);
    expect(errors.labels).toMatch(/Label key "Team"/);
    expect(errors.properties).toMatch(/"=4": write properties as key=value/);
    expect(errors.serviceAccount).toMatch(/service account email/);
    expect(validateTemplateForm(values({ templateId: '' })).templateId).toBe(
      'Enter a template ID.'
    );
    expect(
      validateTemplateForm(
        values({ runtime: 'SPARK_CONNECT', displayName: 'Card' })
      ).displayName
    ).toMatch(/Only Jupyter templates/);
    expect(
      validateTemplateForm(
        values({
          properties: [
            { key: 'a', value: '1' },
            { key: 'a', value: '2' }
          ]
        })
      ).properties
    ).toBe('Property "a" appears twice.');
  });

  it('checks a label chip alone and against the others', () => {
    expect(checkLabelChip('team=data', [])).toBeNull();
    expect(checkLabelChip('team=other', ['team=data'])).toBe(
      'Label key "team" appears twice.'
    );
    expect(checkLabelChip('Bad', [])).toMatch(/Label key "Bad"/);
    expect(checkLabelChip(' ', [])).toBe('Write a label as key=value.');
  });

  it('builds a new template from the fields', () => {
    const body = buildTemplate(
      PARENT,
      values({
        displayName: 'Team Python',
        description: 'for the team',
        version: '2.2',
        ttl: '2h',
        idleTtl: '30m',
        labels: ['team=data', 'tier'],
        properties: [
          { key: 'spark:spark.executor.cores', value: '4' },
          { key: '', value: '' }
        ],
        subnet: 'projects/p/regions/r/subnetworks/s'
      })
    );
    expect(body).toEqual({
      name: T('team-py'),
      description: 'for the team',
      jupyterSession: { kernel: 'PYTHON', displayName: 'Team Python' },
      labels: { team: 'data', tier: '' },
      runtimeConfig: {
        version: '2.2',
        properties: { 'spark:spark.executor.cores': '4' }
      },
      environmentConfig: {
        executionConfig: {
          ttl: '7200s',
          idleTtl: '1800s',
          subnetworkUri: 'projects/p/regions/r/subnetworks/s'
        }
      }
    });
    expect(buildTemplate(PARENT, values({ runtime: 'SPARK_CONNECT' }))).toEqual(
      { name: T('team-py'), sparkConnectSession: {} }
    );
  });

  it('replaces what the form shows on an edit and keeps the rest', () => {
    const current: ISessionTemplate = {
      name: T('team-py'),
      uuid: 'u-1',
      creator: 'alice@example.com',
      createTime: '2025-01-01T00:00:00Z',
      updateTime: '2025-01-01T00:00:00Z',
      description: 'old',
      jupyterSession: { kernel: 'PYTHON', displayName: 'Old card' },
      labels: { team: 'data' },
      runtimeConfig: {
        version: '2.1',
        containerImage: 'gcr.io/x/y',
        properties: { a: '1' }
      },
      environmentConfig: {
        executionConfig: { ttl: '3600s', kmsKey: 'k', networkTags: ['t'] },
        peripheralsConfig: { metastoreService: 'm' }
      }
    };
    const form = formFromTemplate(current, 'team-py');
    expect(form).toMatchObject({
      description: 'old',
      displayName: 'Old card',
      ttl: '1h',
      labels: ['team=data'],
      properties: [{ key: 'a', value: '1' }]
    });
    const body = buildTemplate(
      PARENT,
      { ...form, description: '', ttl: '', labels: [], runtime: 'SCALA' },
      current
    );
    expect(body).toEqual({
      name: T('team-py'),
      jupyterSession: { kernel: 'SCALA', displayName: 'Old card' },
      runtimeConfig: {
        version: '2.1',
        containerImage: 'gcr.io/x/y',
        properties: { a: '1' }
      },
      environmentConfig: {
        executionConfig: { kmsKey: 'k', networkTags: ['t'] },
        peripheralsConfig: { metastoreService: 'm' }
      }
    });
  });

  it("keeps a session's configuration and drops what a template cannot hold", () => {
    const session = makeSession('src', 'ACTIVE', {
      labels: { team: 'data', 'goog-dataproc-session-id': 'src' },
      runtimeConfig: { version: '2.2.0', properties: { p: '1' } },
      environmentConfig: {
        executionConfig: { ttl: '10800s', serviceAccount: 'sa@x.iam.com' }
      },
      runtimeInfo: { endpoints: { a: 'b' } },
      sessionTemplate: T('older')
    });
    expect(templateFromSession(session, PARENT, 'saved')).toEqual({
      name: T('saved'),
      description: 'Saved from session src',
      jupyterSession: { kernel: 'PYTHON' },
      labels: { team: 'data' },
      runtimeConfig: { version: '2.2.0', properties: { p: '1' } },
      environmentConfig: {
        executionConfig: { ttl: '10800s', serviceAccount: 'sa@x.iam.com' }
      }
    });
  });
});

describe('template events', () => {
  it('parses writes and deletions and refuses other shapes', () => {
    expect(
      parseEvent(
        'template',
        JSON.stringify({ name: T('a'), template: { name: T('a') } })
      )
    ).toEqual({
      type: 'template',
      data: { name: T('a'), template: { name: T('a') } }
    });
    expect(
      parseEvent('template', JSON.stringify({ name: T('a'), deleted: true }))
    ).toEqual({ type: 'template', data: { name: T('a'), deleted: true } });
    expect(
      parseEvent(
        'template',
        JSON.stringify({ name: T('a'), template: { name: T('b') } })
      )
    ).toBeNull();
    expect(parseEvent('template', JSON.stringify({ name: '' }))).toBeNull();
  });
});

describe('TemplatesModel', () => {
  async function setup(configure?: (server: FakeServer) => void) {
    const { server, model: sessions } = fakeModel(s => {
      s.on('GET', /\/sessions\?/, { body: { sessions: [] } });
      s.on('GET', /\/sessionTemplates\?/, {
        body: { sessionTemplates: [{ name: T('zeta') }, { name: T('alpha') }] }
      });
      configure?.(s);
    });
    let changed = 0;
    const templates = new TemplatesModel({
      sessions,
      onChanged: () => changed++
    });
    sessions.start();
    await flush(10);
    FakeEventSource.last.open();
    return { server, sessions, templates, changed: () => changed };
  }

  it('lists when the tab opens and follows template events', async () => {
    const { templates, sessions, changed } = await setup();
    templates.showTab('templates');
    await flush(10);
    expect(templates.getSnapshot().templates.map(t => t.name)).toEqual([
      T('alpha'),
      T('zeta')
    ]);
    FakeEventSource.last.emit('template', {
      name: T('beta'),
      template: { name: T('beta'), description: 'new' }
    });
    FakeEventSource.last.emit('template', { name: T('zeta'), deleted: true });
    expect(templates.getSnapshot().templates.map(t => t.name)).toEqual([
      T('alpha'),
      T('beta')
    ]);
    expect(changed()).toBe(2);
    templates.dispose();
    sessions.dispose();
  });

  it('creates, edits and deletes through the API and tells each change', async () => {
    const { server, templates, sessions, changed } = await setup(s => {
      s.on('POST', /sessionTemplates$/, req => ({
        body: { ...(req.body as object), uuid: 'u-1' }
      }));
      s.on('PATCH', /sessionTemplates\/alpha$/, req => ({
        body: req.body
      }));
      s.on('DELETE', /sessionTemplates\/alpha$/, { body: {} });
    });
    templates.showTab('templates');
    await flush(10);
    templates.showCreate();
    const created = await templates.save(
      values({ templateId: 'new-one', ttl: '1h' })
    );
    expect(created.phase).toBe('succeeded');
    expect(server.requestsTo('POST', /sessionTemplates$/)[0].body).toEqual({
      name: T('new-one'),
      jupyterSession: { kernel: 'PYTHON' },
      environmentConfig: { executionConfig: { ttl: '3600s' } }
    });
    expect(templates.getSnapshot()).toMatchObject({
      page: 'details',
      selected: T('new-one')
    });
    templates.showEdit(T('alpha'));
    const edited = await templates.save(
      values({ templateId: 'alpha', description: 'changed' })
    );
    expect(edited.message).toBe('Saved template alpha');
    expect(templates.template(T('alpha'))?.description).toBe('changed');
    const deleted = await templates.delete(T('alpha'));
    expect(deleted.message).toBe('Deleted template alpha');
    expect(templates.template(T('alpha'))).toBeUndefined();
    expect(changed()).toBe(3);
    templates.dispose();
    sessions.dispose();
  });

  it('shows the server refusal and changes nothing', async () => {
    const { templates, sessions, changed } = await setup(s => {
      s.on('POST', /sessionTemplates$/, {
        status: 409,
        body: {
          error: {
            code: 409,
            message: `Session Template ${T('alpha')} already exists`,
            status: 'ALREADY_EXISTS'
          }
        }
      });
      s.on('DELETE', /sessionTemplates\/zeta$/, {
        status: 400,
        body: {
          error: {
            code: 400,
            message: 'used by session s1, which is still starting',
            status: 'FAILED_PRECONDITION'
          }
        }
      });
    });
    templates.showTab('templates');
    await flush(10);
    templates.showCreate();
    const dup = await templates.save(values({ templateId: 'alpha' }));
    expect(dup).toMatchObject({
      phase: 'failed',
      errorStatus: 'ALREADY_EXISTS',
      message: `Cannot create alpha: Session Template ${T('alpha')} already exists`
    });
    expect(templates.getSnapshot().page).toBe('create');
    const refused = await templates.delete(T('zeta'));
    expect(refused.errorStatus).toBe('FAILED_PRECONDITION');
    expect(templates.template(T('zeta'))).toBeDefined();
    const invalid = await templates.save(values({ templateId: 'x' }));
    expect(invalid.phase).toBe('failed');
    expect(changed()).toBe(0);
    templates.dispose();
    sessions.dispose();
  });

  it('fills the form from a session for "Save as template"', async () => {
    const { templates, sessions } = await setup();
    templates.saveSession(
      makeSession('my-session', 'ACTIVE', {
        labels: { team: 'data', 'goog-dataproc-location': 'local' }
      })
    );
    const snapshot = templates.getSnapshot();
    expect(snapshot.tab).toBe('templates');
    expect(snapshot.page).toBe('create');
    expect(snapshot.draft?.values).toMatchObject({
      templateId: 'my-session-template',
      description: 'Saved from session my-session',
      labels: ['team=data']
    });
    templates.dispose();
    sessions.dispose();
  });
});

describe('TemplateForm', () => {
  it('adds and removes label chips and property rows, and blocks bad values', () => {
    const saved: ITemplateFormValues[] = [];
    render(
      <TemplateForm
        parent={PARENT}
        initialValues={values({})}
        editing={false}
        write={null}
        onSave={v => saved.push(v)}
        onClose={() => undefined}
      />
    );
    const chip = screen.getByPlaceholderText('team=data');
    fireEvent.change(chip, { target: { value: 'team=data' } });
    fireEvent.keyDown(chip, { key: 'Enter' });
    fireEvent.change(chip, { target: { value: 'team=again' } });
    fireEvent.keyDown(chip, { key: 'Enter' });
    expect(screen.getByRole('alert').textContent).toBe(
      'Label key "team" appears twice.'
    );
    fireEvent.click(screen.getByText('Add property'));
    fireEvent.change(screen.getByLabelText('Property 1 key'), {
      target: { value: 'spark:spark.executor.cores' }
    });
    fireEvent.change(screen.getByLabelText('Property 1 value'), {
      target: { value: '4' }
    });
    fireEvent.change(screen.getByLabelText('TTL'), { target: { value: '5m' } });
    const submit = screen.getByText('Create template') as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    expect(screen.getByText('At least 10 minutes.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('TTL'), { target: { value: '2h' } });
    act(() => {
      fireEvent.click(submit);
    });
    expect(saved).toHaveLength(1);
    expect(saved[0].labels).toEqual(['team=data']);
    expect(saved[0].properties).toEqual([
      { key: 'spark:spark.executor.cores', value: '4' }
    ]);
    fireEvent.click(screen.getByLabelText('Remove label team=data'));
    expect(screen.queryByText('team=data')).toBeNull();
  });

  it('shows a failed write and that nothing was saved', () => {
    render(
      <TemplateForm
        parent={PARENT}
        initialValues={values({})}
        editing={false}
        write={{
          kind: 'create',
          name: T('team-py'),
          phase: 'failed',
          message: 'Cannot create team-py: already exists (ALREADY_EXISTS)'
        }}
        onSave={() => undefined}
        onClose={() => undefined}
      />
    );
    expect(screen.getByRole('alert').textContent).toBe(
      'Cannot create team-py: already exists (ALREADY_EXISTS). Nothing was saved.'
    );
  });
});
