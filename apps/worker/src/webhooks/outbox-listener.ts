import { Logger } from '@nestjs/common';
import pg from 'pg';

/**
 * LISTEN webhook_events on a connection of its own: the outbox trigger notifies on commit of any
 * transaction that wrote an event, and `onEvent` runs (the dispatcher wakes up at once instead
 * of at its next poll). A lost connection is made again after a second; the poll covers the gap.
 */
export class OutboxListener {
  private readonly logger = new Logger('WebhookDispatcher');
  private client?: pg.Client;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly onEvent: () => void,
  ) {}

  start(): void {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'billing-webhooks-listen' });
    this.client = client;
    const again = (why: string) => {
      if (this.stopped || this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => undefined);
      this.logger.warn(`outbox notifications lost (${why}); listening again in 1 s, polling meanwhile`);
      this.retry = setTimeout(() => this.start(), 1_000);
    };
    client.on('notification', () => this.onEvent());
    client.on('error', (error) => again(error.message));
    client.on('end', () => again('connection closed'));
    client
      .connect()
      .then(() => client.query('LISTEN webhook_events'))
      .then(() => this.onEvent()) // whatever was written while not listening
      .catch((error: Error) => again(error.message));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }
}
