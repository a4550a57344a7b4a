interface Closable {
  close(): Promise<void>;
}

/**
 * On SIGTERM or SIGINT: close the app (Nest's shutdown hooks run: the HTTP server stops taking
 * requests and drains, queues and pools close), then exit 0. A second signal exits at once.
 */
export function closeOnSignals(app: Closable, log: (message: string) => void = () => undefined): void {
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (closing) process.exit(1);
      closing = true;
      log(`${signal}: shutting down`);
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          log(`shutdown failed: ${String(error)}`);
          process.exit(1);
        },
      );
    });
  }
}
