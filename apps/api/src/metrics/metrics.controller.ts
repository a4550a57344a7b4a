import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators.js';
import { ApiNoErrors } from '../docs/problems.js';

const METRICS_EXAMPLE = [
  '# HELP billing_events_priced_total Usage events priced and debited',
  '# TYPE billing_events_priced_total counter',
  'billing_events_priced_total 1042',
  '# HELP billing_events_rejected_total Usage events rejected, by reason code',
  '# TYPE billing_events_rejected_total counter',
  'billing_events_rejected_total{reason="inconsistent_usage"} 3',
  '',
].join('\n');
import { MetricsService } from './metrics.service.js';

/** Prometheus text. Served to anyone: keep /metrics reachable from the operator network only. */
@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Public({ rateLimited: false })
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus exposition format', schema: { type: 'string', example: METRICS_EXAMPLE } })
  @ApiNoErrors('no input to refuse, never rate limited, and a Redis outage shows as billing_metrics_redis_up 0, not as an error')
  scrape() {
    return this.metrics.render();
  }
}
