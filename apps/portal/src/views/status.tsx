import type { Loaded } from '../use-api';

/** What a card shows while its data loads or when it failed; null once there is data. */
export function LoadStatus<T>({ loaded, what }: { loaded: Loaded<T>; what: string }) {
  if (loaded.state === 'loading') return <p class="muted" aria-live="polite">Loading {what}…</p>;
  if (loaded.state === 'error') {
    return (
      <p class="alert alert-error" role="alert">
        {loaded.error.status === 403 ? `This sign-in may not read ${what}.` : `Could not load ${what}: ${loaded.error.detail}`}
      </p>
    );
  }
  return null;
}
