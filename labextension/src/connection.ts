/**
 * The requester that reaches the Jupyter server through
 * `ServerConnection.makeRequest` (token and XSRF headers included).
 */

import { ServerConnection } from '@jupyterlab/services';
import type { IRequester } from './api';

export function serverRequester(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): IRequester {
  return {
    baseUrl: settings.baseUrl,
    token: settings.token || undefined,
    fetch: (url, init) => ServerConnection.makeRequest(url, init, settings)
  };
}
