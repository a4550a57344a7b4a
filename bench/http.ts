import { createServer } from 'node:net';
import { type Dispatcher, Pool } from 'undici';

/**
 * The bench's HTTP client: undici, one keep-alive pool of up to 64 connections per API port
 * (like a gateway's connection pool). On 2 cores the load generator shares the CPU with the
 * service it measures, so its cost per request is taken from the API and Postgres: undici's is
 * about 60% of node:http's (61-87 against 121-125 µs of CPU per request for a small POST and its
 * JSON answer, 32 in flight: bench/http-client-cost.ts).
 */
const pools = new Map<number, Pool>();

function poolFor(port: number): Pool {
  let pool = pools.get(port);
  if (!pool) {
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64 });
    pools.set(port, pool);
  }
  return pool;
}

export interface HttpResponse {
  status: number;
  body: string;
}

/** One request to 127.0.0.1:port, its whole body read as text. */
export async function httpRequest(opts: { port: number; method: Dispatcher.HttpMethod; path: string; body?: string; headers?: Record<string, string> }): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const response = await poolFor(opts.port).request({ method: opts.method, path: opts.path, headers, body: opts.body });
  return { status: response.statusCode, body: await response.body.text() };
}

/**
 * Ports are drawn from below Linux's ephemeral range (32768-60999 by default). A port the kernel
 * hands out for `listen(0)` lies inside that range, where any outgoing connection (to Postgres,
 * to Redis, of a parallel test) may take it as its local port between this check and the
 * server's bind. That is the likeliest reason the Redis Cluster spec once failed in CI, its
 * redis-server never answering (its own error was not kept).
 */
const LOWEST_PORT = 10_000;
const HIGHEST_PORT = 32_767;

/** A port on 127.0.0.1 that nothing listens on (yet), outside the ephemeral range: for the API process, or any server a test starts. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (HIGHEST_PORT - LOWEST_PORT + 1));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${LOWEST_PORT} and ${HIGHEST_PORT} after 100 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
