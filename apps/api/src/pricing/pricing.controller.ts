import { Body, Controller, Get, Param, type PipeTransform, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '../common/pagination.js';
import { badRequest } from '../common/problem.js';
import { AdminOnly, Public } from '../auth/auth.decorators.js';
import { ApiProblem } from '../docs/problems.js';
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
  @ApiProblem(404, 'no rate card is in effect yet', { detail: 'No rate card is in effect yet.' })
  current() {
    return this.pricing.current();
  }

  @Get('rate-cards')
  @AdminOnly()
  @ApiOkResponse({ type: RateCardPage })
  @ApiProblem(400, 'limit or cursor is not valid', { errors: [{ field: 'limit', message: 'limit must not be greater than 1000' }] })
  list(@Query() query: PageQuery) {
    return this.pricing.list(query);
  }

  @Get('rate-cards/:version')
  @AdminOnly()
  @ApiOkResponse({ type: RateCardResponse })
  @ApiProblem(400, 'version is not a positive integer', { detail: 'version must be a positive integer.', errors: [{ field: 'version', message: 'not a version number' }] })
  @ApiProblem(404, 'no such version', { detail: 'No rate card version 7.' })
  get(@Param('version', versionPipe) version: number) {
    return this.pricing.get(version);
  }

  @Post('rate-cards')
  @AdminOnly()
  @ApiCreatedResponse({ type: RateCardResponse })
  @ApiProblem(400, 'a field is missing or of the wrong type', { errors: [{ field: 'prices', message: 'prices must contain at least 1 elements' }] })
  @ApiProblem(422, 'a rule is broken: effective_from under 10 minutes ahead or not after the latest version, an unknown model, a model priced twice or not at all, a price that is not a decimal of at most 12 places', {
    detail: 'The rate card is not valid.',
    errors: [{ field: 'prices[0].model', message: 'unknown model gpt-9' }],
  })
  create(@Body() dto: CreateRateCardDto) {
    return this.pricing.create(dto);
  }
}
