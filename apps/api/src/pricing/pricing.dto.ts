import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString, MaxLength, ValidateNested } from 'class-validator';

export class PriceDto {
  @ApiProperty({ example: 'qwen3-5-4b', description: 'Canonical id or alias' })
  @IsString()
  @MaxLength(200)
  model: string;

  @ApiProperty({ example: '0.04', description: 'USD per 1M uncached input tokens, at most 12 decimals' })
  @IsString({ message: 'input_per_million must be a decimal string' })
  input_per_million: string;

  @ApiProperty({ example: '0.07' })
  @IsString({ message: 'output_per_million must be a decimal string' })
  output_per_million: string;

  @ApiProperty({ example: '0.02' })
  @IsString({ message: 'cached_input_per_million must be a decimal string' })
  cached_input_per_million: string;
}

export class CreateRateCardDto {
  @ApiProperty({ example: '2027-01-01T00:00:00Z', description: 'ISO-8601 with offset, at least 10 minutes ahead and after the latest version' })
  @IsString()
  effective_from: string;

  @ApiProperty({ type: [PriceDto], description: 'A price for every model in the catalog' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => PriceDto)
  prices: PriceDto[];
}

export class ModelPriceResponse {
  @ApiProperty({ example: 'qwen3-5-4b' }) model: string;
  @ApiProperty({ example: '0.04' }) input_per_million: string;
  @ApiProperty({ example: '0.07' }) output_per_million: string;
  @ApiProperty({ example: '0.02' }) cached_input_per_million: string;
}

export class RateCardResponse {
  @ApiProperty({ example: 1 }) version: number;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) effective_from: string;
  @ApiProperty({ example: 'USD' }) currency: string;
  @ApiProperty({ example: '2025-12-01T09:30:00.000Z' }) created_at: string;
  @ApiProperty({ type: [ModelPriceResponse] }) prices: ModelPriceResponse[];
}

export class RateCardPage {
  @ApiProperty({ type: [RateCardResponse] }) data: RateCardResponse[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'null on the last page' }) next_cursor: string | null;
}

export class CatalogModelResponse extends ModelPriceResponse {
  @ApiProperty({ example: 'Qwen3.5 4B' }) display_name: string;
  @ApiProperty({ example: ['Qwen3.5-4B', 'Qwen3.5 4B', 'Alibaba Cloud Qwen3.5 4B'] }) aliases: string[];
  @ApiProperty({ example: 262144 }) context_window: number;
  @ApiProperty({ example: 32768 }) max_output_tokens: number;
}

export class PricingResponse {
  @ApiProperty({ example: 'USD' }) currency: string;
  @ApiProperty({ example: 1 }) rate_card_version: number;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) effective_from: string;
  @ApiProperty({ type: [CatalogModelResponse] }) models: CatalogModelResponse[];
}
