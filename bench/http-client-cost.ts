/**
 * The CPU per request of the bench's HTTP client (undici, bench/http.ts) and of node:http with a
 * keep-alive agent (the client before it), against a plain node:http server in a child process
 * that answers a small JSON object: 32 in flight, 20,000 requests each after 2,000 warm-up ones,
 * the two clients in turn, three times. On 2 cores the load generator's CPU is taken from the
 * service it measures, which is why the cheaper client matters (bench/README.md).
 *
 *   npm run build && node dist/bench/http-client-cost.js
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { httpRequest, type HttpResponse } from './http.js';

const REQUESTS = 20_000;
const WARM_UP = 2_000;
const IN_FLIGHT = 32;

const SERVER = `
const http = require('node:http');
const answer = JSON.stringify({ hold_id: 'bh-0123456789abcdef', account_id: 'acct-0001', amount: '0.000123', status: 'active' });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }).end(answer));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

const body = JSON.stringify({ hold_id: 'bh-run-h1-123', estimate: { model: 'qwen3-5-4b', input_tokens: 1234, max_output_tokens: 567 } });
const path = '/v1/accounts/acct-0001/holds';
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function viaNodeHttp(port: number): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const viaUndici = (port: number) => httpRequest({ port, method: 'POST', path, body });

async function load(send: () => Promise<HttpResponse>, count: number): Promise<void> {
  let sent = 0;
  const client = async () => {
    while (sent < count) {
      sent++;
      const response = await send();
      if (response.status !== 201) throw new Error(`answered ${response.status}`);
      JSON.parse(response.body);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, client));
}

const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const port = await new Promise<number>((resolve) => server.stdout.once('data', (chunk: Buffer) => resolve(Number(String(chunk).trim()))));
  const clients = { 'node:http': () => viaNodeHttp(port), undici: () => viaUndici(port) };
  for (let round = 1; round <= 3; round++) {
    for (const [name, send] of Object.entries(clients)) {
      await load(send, WARM_UP);
      const cpu = process.cpuUsage();
      const started = performance.now();
      await load(send, REQUESTS);
      const used = process.cpuUsage(cpu);
      const ms = performance.now() - started;
      process.stdout.write(`${name}: ${Math.round((REQUESTS / ms) * 1000)}/s, client CPU ${((used.user + used.system) / REQUESTS).toFixed(1)} µs per request\n`);
    }
  }
} finally {
  server.kill();
  agent.destroy();
}
process.exit(0);
