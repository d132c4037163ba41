import {
  ICreateFormValues,
  buildCreateRequest,
  emptyForm,
  hasErrors,
  suggestSessionId,
  validateForm
} from '../createForm';
import { validateSessionId } from '../validation';

const base: ICreateFormValues = { ...emptyForm, sessionId: 'my-session' };

describe('validateForm', () => {
  it('accepts the minimal form', () => {
    expect(validateForm(base)).toEqual({});
  });

  it('puts each problem on its own field', () => {
    const errors = validateForm({
      ...base,
      sessionId: 'My',
      version: 'latest',
      ttl: '5m',
      idleTtl: '20d',
      labels: 'Bad=1',
      properties: 'nope',
      serviceAccount: 'not an email'
    });
    expect(errors).toEqual({
      sessionId: 'Use at least 4 characters.',
      version: 'Write a runtime version such as 2.2 (or leave empty).',
      ttl: 'At least 10 minutes.',
      idleTtl: 'At most 14 days.',
      labels: expect.stringMatching(/^Label key "Bad"/),
      properties: expect.stringMatching(/key=value/),
      serviceAccount: 'Write a service account email (or leave empty).'
    });
    expect(hasErrors(errors)).toBe(true);
  });

  it('requires a template in template mode', () => {
    expect(validateForm({ ...base, source: 'template' }).template).toBe(
      'Choose a template.'
    );
  });

  it('flags an idle ttl longer than the ttl', () => {
    expect(validateForm({ ...base, ttl: '1h', idleTtl: '2h' }).idleTtl).toMatch(
      /Longer than the TTL/
    );
  });

  it('suggests ids that pass the id rules', () => {
    for (let i = 0; i < 20; i++) {
      expect(validateSessionId(suggestSessionId())).toBeNull();
    }
  });
});

describe('buildCreateRequest', () => {
  it('makes a Python Jupyter session by default', () => {
    expect(buildCreateRequest(base)).toEqual({
      sessionId: 'my-session',
      session: { jupyterSession: { kernel: 'PYTHON' } }
    });
  });

  it('converts durations to "Ns" strings and carries labels, version, properties and service account', () => {
    const { session } = buildCreateRequest({
      ...base,
      runtime: 'SCALA',
      version: '2.2',
      ttl: '2h',
      idleTtl: '30m',
      labels: 'team=data',
      properties: 'spark:spark.executor.cores=4',
      serviceAccount: 'sa@p.iam.gserviceaccount.com'
    });
    expect(session).toEqual({
      jupyterSession: { kernel: 'SCALA' },
      labels: { team: 'data' },
      runtimeConfig: {
        version: '2.2',
        properties: { 'spark:spark.executor.cores': '4' }
      },
      environmentConfig: {
        executionConfig: {
          ttl: '7200s',
          idleTtl: '1800s',
          serviceAccount: 'sa@p.iam.gserviceaccount.com'
        }
      }
    });
  });

  it('makes a Spark Connect session', () => {
    expect(
      buildCreateRequest({ ...base, runtime: 'SPARK_CONNECT' }).session
    ).toEqual({
      sparkConnectSession: {}
    });
  });

  it('names the template and keeps only the overrides in template mode', () => {
    const template = 'projects/demo/locations/local/sessionTemplates/small';
    expect(
      buildCreateRequest({
        ...base,
        source: 'template',
        template,
        version: '9.9',
        properties: 'ignored=1',
        idleTtl: '1d',
        labels: 'env=dev'
      }).session
    ).toEqual({
      sessionTemplate: template,
      labels: { env: 'dev' },
      environmentConfig: { executionConfig: { idleTtl: '86400s' } }
    });
  });

  it('trims the session id', () => {
    expect(
      buildCreateRequest({ ...base, sessionId: ' my-session ' }).sessionId
    ).toBe('my-session');
  });
});
