import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { startService, type TestService } from './api.js';

/** Runs a built example (dist/examples/<name>.js, as a gateway team would) with `env`; answers its exit code and output. */
export function runExample(name: string, env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [`dist/examples/${name}.js`], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** The whole service for an example to talk to: the API listening on a port of its own (its URL), a worker on a queue of its own. */
export async function listeningService(): Promise<{ service: TestService; url: string }> {
  const service = await startService();
  await service.api.app.listen(0, '127.0.0.1');
  return { service, url: `http://127.0.0.1:${(service.api.app.getHttpServer().address() as AddressInfo).port}` };
}
