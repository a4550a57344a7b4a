import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { REDIS_CLIENT, type RedisClient } from '@app/queue';
import { Public } from '../auth/auth.decorators.js';

const TIMEOUT_MS = 2_000;

async function probe(check: () => Promise<unknown>): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

@ApiTags('operations')
@Controller('health')
export class HealthController {
  /** A key of the usage queue: reading it asks the Redis that holds the queue (on a cluster, the master of its slot). */
  private readonly queueKey: string;

  constructor(
    private readonly db: DataSource,
    @Inject(REDIS_CLIENT) private readonly redis: RedisClient,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.queueKey = `${config.QUEUE_PREFIX}:${config.USAGE_QUEUE}:meta`;
  }

  @Get()
  @Public({ rateLimited: false })
  @ApiOkResponse({ schema: { example: { status: 'ok', postgres: 'up', redis: 'up' } } })
  @ApiServiceUnavailableResponse({ schema: { example: { status: 'error', postgres: 'up', redis: 'down' } } })
  async check(@Res({ passthrough: true }) response: FastifyReply) {
    const [postgres, redis] = await Promise.all([
      probe(() => this.db.query('SELECT 1')),
      probe(() => this.redis.exists(this.queueKey)),
    ]);
    const ok = postgres === 'up' && redis === 'up';
    response.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'error', postgres, redis, time: new Date().toISOString() };
  }
}
