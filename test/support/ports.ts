import { createServer } from 'node:net';

/**
 * Ports are drawn from below Linux's ephemeral range (32768-60999 by default). A port the kernel
 * hands out for `listen(0)` lies inside that range, where any outgoing connection of a parallel
 * test (to Postgres, to Redis) may take it as its local port between our check and the server's
 * bind: the Redis Cluster spec once failed in CI that way, its redis-server never answering.
 */
const LOWEST = 10_000;
const HIGHEST = 32_767;

/** A port on 127.0.0.1 that nothing listens on (yet), outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${LOWEST} and ${HIGHEST} after 100 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
