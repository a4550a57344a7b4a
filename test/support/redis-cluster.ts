import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { until } from './until.js';

/** One redis-server of the cluster: its client port, bus port and process. */
interface ClusterNode {
  port: number;
  busPort: number;
  process?: ChildProcess;
}

/** How long a master may be silent before the others call it failed and a replica takes over. */
const NODE_TIMEOUT_MS = 1_000;

const cli = (port: number, ...args: string[]) => cliWithin(10_000, port, ...args);

const cliWithin = (timeout: number, port: number, ...args: string[]) =>
  execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * A Redis Cluster of its own on 127.0.0.1, for one spec file: `masters` masters, each with one
 * replica, without persistence, in a temporary directory removed by stop(). The bus ports are
 * chosen too, since port + 10000 may not exist.
 */
export class RedisCluster {
  private readonly dir = mkdtempSync(join(tmpdir(), 'billing-redis-cluster-'));
  private nodes: ClusterNode[] = [];

  private constructor(private readonly pickPort: () => Promise<number>) {}

  /** `pickPort` is freePort but for the test of what happens when a chosen port is taken. */
  static async start(masters = 3, pickPort: () => Promise<number> = freePort): Promise<RedisCluster> {
    const cluster = new RedisCluster(pickPort);
    try {
      for (let i = 0; i < masters * 2; i++) cluster.nodes.push(await cluster.startNode());
      const addresses = cluster.nodes.map((n) => `127.0.0.1:${n.port}`);
      execFileSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { stdio: 'ignore', timeout: 30_000 });
      await cluster.settled();
      return cluster;
    } catch (error) {
      cluster.stop();
      throw error;
    }
  }

  /** The URL the service is given: every node as a seed. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  /**
   * A node on two free ports, answering. A server that exits before it answers (its port was
   * taken after freePort looked) is started again on two other ports; the error says why if
   * three tries fail.
   */
  private async startNode(): Promise<ClusterNode> {
    for (let attempt = 1; ; attempt++) {
      const node: ClusterNode = { port: await this.pickPort(), busPort: await this.pickPort() };
      if (node.port === node.busPort || this.nodes.some((n) => [n.port, n.busPort].some((p) => p === node.port || p === node.busPort))) continue;
      let exited = false;
      this.launch(node);
      node.process!.once('exit', () => (exited = true));
      await until(() => exited || ping(node.port), `redis-server on ${node.port}`, 10_000).catch((error: Error) => {
        node.process!.kill('SIGKILL');
        throw error;
      });
      if (!exited) return node;
      if (attempt >= 3) throw new Error(`redis-server on ${node.port} (bus ${node.busPort}) exited before it answered:\n${this.logOf(node)}`);
    }
  }

  private logFile(node: ClusterNode): string {
    return join(this.dir, `redis-${node.port}.log`);
  }

  private logOf(node: ClusterNode): string {
    const file = this.logFile(node);
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-20).join('\n') : '(no log)';
  }

  private launch(node: ClusterNode): void {
    const log = openSync(this.logFile(node), 'a');
    node.process = spawn(
      'redis-server',
      [
        '--port', String(node.port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(node.busPort),
        '--cluster-config-file', join(this.dir, `nodes-${node.port}.conf`), '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
        '--dir', this.dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
  }

  /** Slot ranges and their masters, as a node that answers sees them. */
  private slotRanges(): SlotRanges {
    const up = this.nodes.find((n) => n.process && ping(n.port))!;
    return JSON.parse(cli(up.port, '--json', 'CLUSTER', 'SLOTS')) as SlotRanges;
  }

  /** The port of the master that serves a slot now. */
  masterOf(slot: number): number {
    for (const [start, end, master] of this.slotRanges()) {
      if (slot >= start && slot <= end) return master[1];
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /** Every node answers and agrees the cluster is whole, with the given number of masters. */
  private async settled(): Promise<void> {
    await until(
      () =>
        this.nodes.every((n) => {
          try {
            const info = cli(n.port, 'CLUSTER', 'INFO');
            return info.includes('cluster_state:ok') && info.includes(`cluster_size:${this.nodes.length / 2}`);
          } catch {
            return false;
          }
        }),
      'the cluster to be whole',
      30_000,
      100,
    );
  }

  /**
   * Restarts the master on `port` as an operator would: SIGTERM (Redis waits for its replica to
   * catch up before it exits), then, once the replica has taken its slots over, the same server
   * again, which rejoins as the new master's replica. Resolves when the cluster is whole again;
   * `onTakenOver` is told the new master's port.
   */
  async restartMaster(port: number, onTakenOver: (newMaster: number) => void = () => undefined): Promise<void> {
    const node = this.nodes.find((n) => n.port === port)!;
    const slot = this.slotsOf(port)[0];
    const exited = new Promise((resolve) => node.process!.once('exit', resolve));
    node.process!.kill('SIGTERM');
    await exited;
    node.process = undefined;
    let newMaster = port;
    await until(
      () => {
        try {
          newMaster = this.masterOf(slot);
          return newMaster !== port && cli(newMaster, 'CLUSTER', 'INFO').includes('cluster_state:ok');
        } catch {
          return false;
        }
      },
      `a replica to take over from ${port}`,
      30_000,
      100,
    );
    onTakenOver(newMaster);
    this.launch(node);
    await until(() => ping(port), `redis-server on ${port} again`, 10_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.logOf(node)}`);
    });
    await until(() => cli(port, 'ROLE').startsWith('slave'), `${port} to rejoin as a replica`, 30_000, 100);
    await this.settled();
  }

  private slotsOf(port: number): number[] {
    return this.slotRanges()
      .filter(([, , master]) => master[1] === port)
      .map(([start]) => start);
  }

  stop(): void {
    for (const node of this.nodes) node.process?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a redis-server answers on `port`; within a second, since whatever else took the port may never answer. */
function ping(port: number): boolean {
  try {
    return cliWithin(1_000, port, 'PING').trim() === 'PONG';
  } catch {
    return false;
  }
}

type SlotRanges = [start: number, end: number, master: [host: string, port: number]][];
