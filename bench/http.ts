import http from 'node:http';

/** One keep-alive agent for every request of the bench (like a gateway's connection pool). */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface HttpResponse {
  status: number;
  body: string;
}

/** A plain node:http request to 127.0.0.1 (less client overhead than fetch, so latencies are the server's). */
export function httpRequest(opts: { port: number; method: string; path: string; body?: string; headers?: Record<string, string> }): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(opts.body);
    }
    const req = http.request({ host: '127.0.0.1', port: opts.port, method: opts.method, path: opts.path, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
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
    const server = http.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
