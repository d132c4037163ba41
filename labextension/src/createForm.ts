/**
 * The create dialog's values, their validation per field, and the request
 * they become.
 */

import type { ISessionInput, JupyterKernel } from './types';
import {
  parseDuration,
  parseLabels,
  parseProperties,
  toProtoDuration,
  validateSessionId,
  validateTtl
} from './validation';

export type SessionSource = 'fields' | 'template';

/** What runs in the session. */
export type RuntimeChoice = 'PYTHON' | 'SCALA' | 'SPARK_CONNECT';

export interface ICreateFormValues {
  sessionId: string;
  source: SessionSource;
  /** Full template name (`projects/P/locations/L/sessionTemplates/T`). */
  template: string;
  runtime: RuntimeChoice;
  version: string;
  ttl: string;
  idleTtl: string;
  labels: string;
  properties: string;
  serviceAccount: string;
}

export type FormField = keyof ICreateFormValues;

export type FormErrors = Partial<Record<FormField, string>>;

export const emptyForm: ICreateFormValues = {
  sessionId: '',
  source: 'fields',
  template: '',
  runtime: 'PYTHON',
  version: '',
  ttl: '',
  idleTtl: '',
  labels: '',
  properties: '',
  serviceAccount: ''
};

/** A fresh, valid session ID such as `session-k3x9q2`. */
export function suggestSessionId(random: () => number = Math.random): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let suffix = '';
  for (let i = 0; i < 6; i++) {
    suffix +=
      alphabet[Math.floor(random() * alphabet.length) % alphabet.length];
  }
  return `session-${suffix}`;
}

/** Validate every field; a field without a message is fine. */
export function validateForm(values: ICreateFormValues): FormErrors {
  const errors: FormErrors = {};
  const id = validateSessionId(values.sessionId.trim());
  if (id) {
    errors.sessionId = id;
  }
  if (values.source === 'template' && !values.template) {
    errors.template = 'Choose a template.';
  }
  if (
    values.source === 'fields' &&
    values.version.trim() &&
    !/^\d+(\.\d+){0,2}$/.test(values.version.trim())
  ) {
    errors.version = 'Write a runtime version such as 2.2 (or leave empty).';
  }
  const ttl = validateTtl(values.ttl);
  if (ttl) {
    errors.ttl = ttl;
  }
  const idle = validateTtl(values.idleTtl);
  if (idle) {
    errors.idleTtl = idle;
  }
  if (!ttl && !idle && values.ttl.trim() && values.idleTtl.trim()) {
    const t = parseDuration(values.ttl) ?? 0;
    const i = parseDuration(values.idleTtl) ?? 0;
    if (i > t) {
      errors.idleTtl =
        'Longer than the TTL: the TTL would end the session first.';
    }
  }
  const labels = parseLabels(values.labels).error;
  if (labels) {
    errors.labels = labels;
  }
  if (values.source === 'fields') {
    const properties = parseProperties(values.properties).error;
    if (properties) {
      errors.properties = properties;
    }
  }
  const sa = values.serviceAccount.trim();
  if (sa && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(sa)) {
    errors.serviceAccount = 'Write a service account email (or leave empty).';
  }
  return errors;
}

export function hasErrors(errors: FormErrors): boolean {
  return Object.values(errors).some(Boolean);
}

/**
 * The session ID and the body of `POST v1/{parent}/sessions`. Call only with
 * values that pass `validateForm`.
 */
export function buildCreateRequest(values: ICreateFormValues): {
  sessionId: string;
  session: ISessionInput;
} {
  const session: ISessionInput = {};
  if (values.source === 'template') {
    session.sessionTemplate = values.template;
  } else if (values.runtime === 'SPARK_CONNECT') {
    session.sparkConnectSession = {};
  } else {
    const kernel: JupyterKernel = values.runtime;
    session.jupyterSession = { kernel };
  }
  const labels = parseLabels(values.labels).labels;
  if (Object.keys(labels).length) {
    session.labels = labels;
  }
  if (values.source === 'fields') {
    const version = values.version.trim();
    const properties = parseProperties(values.properties).properties;
    if (version || Object.keys(properties).length) {
      session.runtimeConfig = {};
      if (version) {
        session.runtimeConfig.version = version;
      }
      if (Object.keys(properties).length) {
        session.runtimeConfig.properties = properties;
      }
    }
  }
  const ttl = parseDuration(values.ttl);
  const idleTtl = parseDuration(values.idleTtl);
  const serviceAccount = values.serviceAccount.trim();
  if (ttl !== null || idleTtl !== null || serviceAccount) {
    session.environmentConfig = { executionConfig: {} };
    const exec = session.environmentConfig.executionConfig ?? {};
    if (ttl !== null) {
      exec.ttl = toProtoDuration(ttl);
    }
    if (idleTtl !== null) {
      exec.idleTtl = toProtoDuration(idleTtl);
    }
    if (serviceAccount) {
      exec.serviceAccount = serviceAccount;
    }
    session.environmentConfig.executionConfig = exec;
  }
  return { sessionId: values.sessionId.trim(), session };
}
