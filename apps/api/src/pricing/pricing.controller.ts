import { Body, Controller, Get, Param, type PipeTransform, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../common/pagination.js';
import { badRequest } from '../common/problem.js';
import { AdminOnly, Public } from '../auth/auth.decorators.js';
import { CreateRateCardDto, PricingResponse, RateCardPage, RateCardResponse } from './pricing.dto.js';
import { PricingService } from './pricing.service.js';

const versionPipe: PipeTransform<string, number> = {
  transform(value) {
    if (!/^[1-9]\d{0,8}$/.test(value)) throw badRequest('version must be a positive integer.', [{ field: 'version', message: 'not a version number' }]);
    return Number(value);
  },
};

@ApiTags('pricing')
@Controller('v1')
export class PricingController {
  constructor(private readonly pricing: PricingService) {}

  @Get('pricing')
  @Public()
  @ApiOkResponse({ type: PricingResponse })
  current() {
    return this.pricing.current();
  }

  @Get('rate-cards')
  @AdminOnly()
  @ApiOkResponse({ type: RateCardPage })
  list(@Query() query: PageQuery) {
    return this.pricing.list(query);
  }

  @Get('rate-cards/:version')
  @AdminOnly()
  @ApiOkResponse({ type: RateCardResponse })
  get(@Param('version', versionPipe) version: number) {
    return this.pricing.get(version);
  }

  @Post('rate-cards')
  @AdminOnly()
  @ApiCreatedResponse({ type: RateCardResponse })
  create(@Body() dto: CreateRateCardDto) {
    return this.pricing.create(dto);
  }
}
