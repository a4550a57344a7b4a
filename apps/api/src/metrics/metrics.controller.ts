import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators.js';
import { Unlimited } from '../auth/rate-limit.guard.js';
import { MetricsService } from './metrics.service.js';

/** Prometheus text. Served to anyone: keep /metrics reachable from the operator network only. */
@ApiTags('operations')
@Unlimited()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Public()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus exposition format' })
  scrape() {
    return this.metrics.render();
  }
}
