import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { DataSource } from 'typeorm';
import { type TargetPolicy, allowHostsFrom, nextRetryAt, openSecret, secretsKeyFrom, signatureHeader } from '@app/billing';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { type AttemptResult, type ClaimedStream, GroupCommit, type OutgoingDelivery, WebhookDeliveriesRepository, createDataSource, whenPostgresAnswers } from '@app/db';
import { OutboxListener } from './outbox-listener.js';
import { WebhookSender } from './webhook-sender.js';

/** Streams of one endpoint this process sends at once: a slow endpoint holds at most these. */
export const STREAMS_PER_ENDPOINT = 8;
/** Deliveries of one stream sent in one run before the stream is let go (fairness between accounts). */
export const DELIVERIES_PER_RUN = 50;
/** Streams taken in one claim. */
const CLAIM_STREAMS = 200;
const FAN_OUT_EVENTS = 1000;
/** The safety net: due retries and anything a lost notification missed are found within this. */
export const POLL_MS = 1_000;

/**
 * Sends the outbox. Events reach it within milliseconds of their commit (LISTEN/NOTIFY), or at
 * the next poll. It fans each event out to the endpoints subscribed to its type, then sends
 * stream by stream, a stream being one endpoint and one account: in order, the next delivery only
 * once the one before is acknowledged (a 2xx) or given up, so a receiver sees an account's events
 * in the order they happened, as far as retries allow. Streams are leased in Postgres, so any
 * number of workers share them and a killed worker's streams are taken up again when its lease
 * lapses (2 x WEBHOOK_TIMEOUT_MS + 5 s). Each result is recorded (group-committed across streams)
 * before the stream's next delivery is sent. It uses a small pool of its own, apart from the
 * usage flush's, and HTTP never holds a database connection, so no endpoint, however slow,
 * delays the hot path; each endpoint has its own sending slots, so none delays another.
 *
 * Postgres rather than a BullMQ queue: the outbox rows are already there, written in the
 * transaction of their cause, and a 24-hour retry schedule kept as rows survives a Redis restart
 * without persistence (the development Redis has none), with ordering per stream held by a lease.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('WebhookDispatcher');
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly policy: TargetPolicy;
  private readonly key: Buffer;
  private readonly leaseMs: number;
  private readonly sender: WebhookSender;
  private db?: DataSource;
  private repo?: WebhookDeliveriesRepository;
  private recorder?: GroupCommit<AttemptResult, void>;
  private listener?: OutboxListener;
  private timer?: NodeJS.Timeout;
  private starting?: Promise<void>;
  private pumping = false;
  private pumpAgain = false;
  private pumpDone?: Promise<void>;
  private stopping = false;
  /** Streams in flight per endpoint, and their runs. */
  private readonly used = new Map<string, number>();
  private readonly runs = new Set<Promise<void>>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.policy = { allowHosts: allowHostsFrom(config.WEBHOOK_ALLOW_HTTP_HOSTS === 'none' ? '' : config.WEBHOOK_ALLOW_HTTP_HOSTS) };
    this.key = secretsKeyFrom(config.SECRETS_KEY);
    this.leaseMs = 2 * config.WEBHOOK_TIMEOUT_MS + 5_000;
    this.sender = new WebhookSender(this.policy, config.WEBHOOK_TIMEOUT_MS);
  }

  onApplicationBootstrap(): void {
    this.starting = this.start();
  }

  private async start(): Promise<void> {
    const db = await whenPostgresAnswers(() => createDataSource({ url: this.config.DATABASE_URL, poolSize: 2, applicationName: 'billing-webhooks' }).initialize(), {
      onWait: (message) => this.logger.warn(message),
    });
    if (this.stopping) {
      await db.destroy();
      return;
    }
    this.db = db;
    const repo = (this.repo = new WebhookDeliveriesRepository(db));
    this.recorder = new GroupCommit((results) => repo.record(results, this.leaseMs).then(() => results.map(() => undefined)), 500);
    this.listener = new OutboxListener(this.config.DATABASE_URL, () => this.wake());
    this.listener.start();
    this.tick();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.starting?.catch(() => undefined);
    await this.listener?.stop();
    await this.pumpDone;
    // Tries in flight end within WEBHOOK_TIMEOUT_MS, and are recorded.
    await Promise.all(this.runs);
    this.sender.close();
    await this.db?.destroy();
  }

  private tick(): void {
    this.wake();
    if (!this.stopping) this.timer = setTimeout(() => this.tick(), POLL_MS);
  }

  /** Fans out and claims now (or once more right after the pump under way). */
  private wake(): void {
    if (this.stopping || !this.repo) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.pumpDone = this.pump().finally(() => {
      this.pumping = false;
    });
  }

  private async pump(): Promise<void> {
    const repo = this.repo!;
    try {
      do {
        this.pumpAgain = false;
        for (;;) {
          const events = await repo.fanOut(FAN_OUT_EVENTS);
          if (events === null || events < FAN_OUT_EVENTS) break;
        }
        if (this.stopping) return;
        const claimed = await repo.claim(this.owner, this.leaseMs, STREAMS_PER_ENDPOINT, this.used, CLAIM_STREAMS);
        if (!claimed.length) continue;
        if (claimed.length === CLAIM_STREAMS) this.pumpAgain = true;
        const deliveries = await repo.pendingOf(claimed, DELIVERIES_PER_RUN);
        const byStream = new Map<string, OutgoingDelivery[]>(claimed.map((s) => [streamKey(s), []]));
        for (const d of deliveries) byStream.get(streamKey(d))!.push(d);
        const empty = claimed.filter((s) => !byStream.get(streamKey(s))!.length);
        // Counted pending with nothing pending: the count is kept in the statements that change deliveries, so
        // this should not happen; were it ever off, the stream is recounted rather than claimed again and again.
        if (empty.length) await repo.recount(empty);
        for (const stream of claimed) {
          const list = byStream.get(streamKey(stream))!;
          if (list.length) this.startRun(stream, list);
        }
      } while (this.pumpAgain && !this.stopping);
    } catch (error) {
      this.logger.warn(`webhook dispatch: ${(error as Error).message}; trying again within ${POLL_MS} ms`);
    }
  }

  private startRun(stream: ClaimedStream, list: OutgoingDelivery[]): void {
    this.used.set(stream.endpointId, (this.used.get(stream.endpointId) ?? 0) + 1);
    const run = this.run(list)
      .catch((error: Error) => this.logger.warn(`webhook stream ${stream.endpointId}/${stream.accountId}: ${error.message}; its lease lapses and it is sent again`))
      .finally(() => {
        const left = (this.used.get(stream.endpointId) ?? 1) - 1;
        if (left) this.used.set(stream.endpointId, left);
        else this.used.delete(stream.endpointId);
        this.runs.delete(run);
        this.wake();
      });
    this.runs.add(run);
  }

  /** Sends a stream's deliveries in order, recording each before the next; stops at the first that is to be retried. */
  private async run(list: OutgoingDelivery[]): Promise<void> {
    for (let i = 0; i < list.length; i++) {
      const delivery = list[i];
      const attemptedAt = new Date();
      const sent = await this.deliver(delivery, attemptedAt);
      let outcome: AttemptResult['outcome'] = 'delivered';
      let nextAttemptAt: Date | null = null;
      if (sent.error !== null) {
        nextAttemptAt = nextRetryAt(delivery.scheduleStartedAt ?? attemptedAt, delivery.failures + 1, new Date());
        outcome = nextAttemptAt ? 'retry' : 'failed';
        if (outcome === 'failed') this.logger.warn(`webhook ${delivery.eventId} to ${delivery.endpointId} given up after ${delivery.failures + 1} failed tries: ${sent.error}`);
      }
      const release = outcome === 'retry' || i === list.length - 1 || this.stopping;
      await this.recorder!.submit({ deliveryId: delivery.deliveryId, endpointId: delivery.endpointId, accountId: delivery.accountId, attemptedAt, ...sent, outcome, nextAttemptAt, release }, 1);
      if (release) return;
    }
  }

  private open(sealed: string, endpointId: string): string {
    try {
      return openSecret(this.key, sealed, endpointId);
    } catch {
      throw new Error(`the secret of endpoint ${endpointId} does not open with this SECRETS_KEY (sealed under another key?)`);
    }
  }

  private deliver(delivery: OutgoingDelivery, at: Date) {
    const secrets = [this.open(delivery.secretSealed, delivery.endpointId)];
    if (delivery.previousSecretSealed && delivery.previousSecretExpiresAt && delivery.previousSecretExpiresAt > at) {
      secrets.push(this.open(delivery.previousSecretSealed, delivery.endpointId));
    }
    const body = JSON.stringify({ type: delivery.type, timestamp: delivery.eventAt.toISOString(), data: delivery.data });
    const timestamp = Math.floor(at.getTime() / 1000);
    return this.sender.send(
      delivery.url,
      {
        'content-type': 'application/json',
        'user-agent': 'llm-billing-webhooks/1',
        'webhook-id': delivery.eventId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(secrets, delivery.eventId, timestamp, body),
      },
      body,
    );
  }
}

const streamKey = (s: { endpointId: string; accountId: string }) => `${s.endpointId}\u0000${s.accountId}`;
