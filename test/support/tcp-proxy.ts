import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

/** One direction of a proxied connection: what arrived, in order, and when. */
class Link {
  private readonly held: { at: number; chunk: Buffer }[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly to: Socket,
    private readonly delayMs: () => number,
  ) {}

  push(chunk: Buffer): void {
    this.held.push({ at: Date.now(), chunk });
    this.pump();
  }

  /** Sends what has waited the link's delay as it is now (so a shorter delay releases held data at once), in order. */
  pump(): void {
    clearTimeout(this.timer);
    const now = Date.now();
    while (this.held.length && this.held[0].at + this.delayMs() <= now) this.to.write(this.held.shift()!.chunk);
    if (this.held.length) this.timer = setTimeout(() => this.pump(), this.held[0].at + this.delayMs() - now);
  }

  drop(): void {
    clearTimeout(this.timer);
    this.held.length = 0;
  }
}

interface Pair {
  client: Socket;
  upstream: Socket;
  links: Link[];
}

/**
 * A TCP proxy on 127.0.0.1 between one process and a server, to play the network between them:
 * cut() resets every connection and refuses new ones (what a lost route or a restarted firewall
 * does), delay() holds data back each way (a slow or congested link; a long delay is a stall,
 * after which everything held arrives in order), restore() makes it a plain wire again.
 */
export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private isCut = false;
  private delayMs = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(port: number, host = '127.0.0.1'): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new TcpProxy(server, { host, port });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The local ports of the proxy's connections to the server (how the server sees them: pg_stat_activity.client_port). */
  upstreamPorts(): number[] {
    return [...this.pairs].map((p) => p.upstream.localPort).filter((port): port is number => port !== undefined);
  }

  private accept(client: Socket): void {
    if (this.isCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    const pair: Pair = { client, upstream, links: [new Link(upstream, () => this.delayMs), new Link(client, () => this.delayMs)] };
    this.pairs.add(pair);
    client.on('data', (chunk) => pair.links[0].push(chunk));
    upstream.on('data', (chunk) => pair.links[1].push(chunk));
    const close = () => {
      if (!this.pairs.delete(pair)) return;
      pair.links.forEach((link) => link.drop());
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  }

  /** Resets every connection (both ends see ECONNRESET) and refuses new ones until restore(). */
  cut(): void {
    this.isCut = true;
    for (const pair of [...this.pairs]) {
      this.pairs.delete(pair);
      pair.links.forEach((link) => link.drop());
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
  }

  /** Holds data back this long in each direction, including what is already on its way. */
  delay(ms: number): void {
    this.delayMs = ms;
    for (const pair of this.pairs) pair.links.forEach((link) => link.pump());
  }

  /** A plain wire again: connections accepted, nothing held back (what was held goes now). */
  restore(): void {
    this.isCut = false;
    this.delay(0);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
