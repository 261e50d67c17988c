/**
 * The one way the front end talks to the server extension: `requestAPI<T>`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The REST namespace of the server extension. */
export const API_NAMESPACE = 'sm-magics/api/v1';

/** An error answer of the API: `{"code", "message"}` plus the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Call a route under `<base_url>sm-magics/api/v1/` and return its JSON.
 *
 * @param endPoint the route with its query string, e.g. `jobs?limit=50`
 * @param init the fetch options (method, body, signal)
 * @throws ApiError with the server's code and message, or code `NetworkError`
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    if ((error as Error)?.name === 'AbortError') {
      throw error;
    }
    throw new ApiError('NetworkError', `${error}`, 0);
  }
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (data && typeof data.message === 'string') {
      throw new ApiError(data.code ?? 'Error', data.message, response.status);
    }
    const hint =
      response.status === 404
        ? ' (is the sm_magics server extension enabled? `jupyter server extension list`)'
        : '';
    throw new ApiError(
      response.status === 404 ? 'NotFound' : 'HttpError',
      `${response.status} ${response.statusText} for ${endPoint}${hint}`,
      response.status
    );
  }
  return data as T;
}
