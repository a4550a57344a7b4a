import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got, verified or not. */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  verified: boolean;
  /** What the receiver answered: 401 unverified, a fault's status, 200; null when it hung. */
  answered: number | null;
  /** Date.now() and performance.now() when it arrived. */
  at: number;
  atMs: number;
}

export interface Message {
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** What the next verified requests meet, one per request, in order (200 lets one through); then 200. */
export type Fault = 200 | 500 | 'hang';

/**
 * A webhook receiver as a provider's service runs one, on 127.0.0.1 (the tests' and the bench's): every request is verified with
 * the Standard Webhooks reference implementation (the standardwebhooks package) against the
 * secret it holds, and refused with 401 when it does not verify; a verified one meets the next
 * queued fault (500, or no answer at all), else 200. It can go down (closing every connection)
 * and come back on the same port.
 */
export class WebhookReceiver {
  readonly requests: Received[] = [];
  private readonly faults: Fault[] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  /** `onAcknowledged` hears of each verified request answered 200, as it is answered. */
  constructor(
    private secret = '',
    private readonly onAcknowledged?: (received: Received) => void,
  ) {}

  url(path = '/hooks/billing'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The secret the receiver verifies with (the one the endpoint was given). */
  trust(secret: string): void {
    this.secret = secret;
  }

  fail(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Down: stops listening and drops every connection (a hanging request included). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }

  /** The verified messages acknowledged with 200, each once (by webhook-id), in the order first acknowledged. */
  delivered(): Message[] {
    const seen = new Map<string, Message>();
    for (const r of this.requests) {
      if (r.verified && r.answered === 200 && !seen.has(r.id)) seen.set(r.id, { id: r.id, ...(JSON.parse(r.body) as Omit<Message, 'id'>) });
    }
    return [...seen.values()];
  }

  /** Every request of one webhook-id, verified or not, in order. */
  triesOf(id: string): Received[] {
    return this.requests.filter((r) => r.id === id);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    const body = Buffer.concat(parts).toString('utf8');
    const headers = { 'webhook-id': String(req.headers['webhook-id'] ?? ''), 'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''), 'webhook-signature': String(req.headers['webhook-signature'] ?? '') };
    let verified = false;
    try {
      new Webhook(this.secret).verify(body, headers);
      verified = true;
    } catch {
      verified = false;
    }
    const received: Received = { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'], body, verified, answered: null, at: Date.now(), atMs: performance.now() };
    this.requests.push(received);
    if (!verified) return void this.answer(res, received, 401);
    const fault = this.faults.shift();
    if (fault === 'hang') return; // no answer: the sender's timeout ends it
    this.answer(res, received, fault ?? 200);
  }

  private answer(res: ServerResponse, received: Received, status: number): void {
    received.answered = status;
    if (status === 200 && received.verified) this.onAcknowledged?.(received);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
  }
}
