import { ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsISO8601, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { badRequest } from './problem.js';

export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 100;

  @ApiPropertyOptional({ description: 'Opaque cursor from the previous page\'s next_cursor' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class TimeRangeQuery {
  @ApiPropertyOptional({ example: '2026-11-01T00:00:00Z', description: 'inclusive' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z', description: 'exclusive' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class TimeRangePageQuery extends IntersectionType(PageQuery, TimeRangeQuery) {}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export function encodeCursor(position: string | number): string {
  return Buffer.from(JSON.stringify({ p: position })).toString('base64url');
}

/** Decodes a cursor made by encodeCursor; anything else is a 400, never a 500. */
export function decodeCursor(cursor: string | undefined, pattern: RegExp = /^\d{1,19}$/): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const position = String(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')).p);
    if (pattern.test(position)) return position;
  } catch {
    // fall through
  }
  throw badRequest('The cursor is not one this service issued.', [{ field: 'cursor', message: 'invalid cursor' }]);
}

/** Turns limit+1 fetched rows into a page: the extra row only says that there is more. */
export function toPage<R, T>(rows: R[], limit: number, map: (row: R) => T, position: (row: R) => string | number): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { data: kept.map(map), next_cursor: more ? encodeCursor(position(kept[kept.length - 1])) : null };
}

export function parseRange(query: { from?: string; to?: string }): { from?: Date; to?: Date } {
  const from = query.from ? new Date(query.from) : undefined;
  const to = query.to ? new Date(query.to) : undefined;
  for (const [field, value] of [['from', from], ['to', to]] as const) {
    if (value && Number.isNaN(value.getTime())) throw badRequest(`${field} is not a valid instant.`, [{ field, message: 'invalid date' }]);
  }
  if (from && to && from > to) throw badRequest('from must not be after to.', [{ field: 'from', message: 'after to' }]);
  return { from, to };
}
