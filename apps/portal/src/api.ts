import type { Credentials } from './credentials';

/** An answer other than 2xx, with the problem document's detail when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`);
  }
}

let onUnauthorized: (error: ApiError) => void = () => undefined;
/** The app signs out (with a message) when any request is refused as unauthenticated. */
export function whenUnauthorized(handler: (error: ApiError) => void): void {
  onUnauthorized = handler;
}

/** Same-origin requests only: the portal is served by the API it reads. */
async function request(credentials: Credentials, path: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${credentials.token}`, Accept: 'application/json' }, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'The billing service did not answer. Check your connection and try again.');
  }
  if (response.ok) return response;
  let detail = response.statusText;
  try {
    const problem = (await response.json()) as { detail?: unknown };
    if (typeof problem.detail === 'string') detail = problem.detail;
  } catch {
    // not a problem document
  }
  const error = new ApiError(response.status, detail);
  if (response.status === 401) onUnauthorized(error);
  throw error;
}

export async function getJson<T>(credentials: Credentials, path: string): Promise<T> {
  return (await (await request(credentials, path)).json()) as T;
}

export async function getBlob(credentials: Credentials, path: string): Promise<Blob> {
  return (await request(credentials, path)).blob();
}

/** Saves a blob as a file, as a download link would. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export const accountPath = (credentials: Credentials, rest = '') => `/v1/accounts/${encodeURIComponent(credentials.accountId)}${rest}`;

export const query = (params: Record<string, string | number | undefined>) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, String(value));
  return `?${search.toString()}`;
};
