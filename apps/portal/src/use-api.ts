import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson } from './api';
import type { Credentials } from './credentials';

export type Loaded<T> = { state: 'loading' } | { state: 'ok'; data: T } | { state: 'error'; error: ApiError };

/** Fetches path (again whenever it or `refresh` changes); a stale answer never overwrites a newer one. */
export function useApi<T>(credentials: Credentials, path: string, refresh: number): Loaded<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  useEffect(() => {
    let current = true;
    setLoaded({ state: 'loading' });
    getJson<T>(credentials, path).then(
      (data) => current && setLoaded({ state: 'ok', data }),
      (error: unknown) => current && setLoaded({ state: 'error', error: error instanceof ApiError ? error : new ApiError(0, String(error)) }),
    );
    return () => {
      current = false;
    };
  }, [credentials, path, refresh]);
  return loaded;
}
