import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional } from 'class-validator';

export const PORTAL_SESSION_TTL = { min: 60, max: 86_400, default: 3_600 } as const;

export class CreatePortalSessionDto {
  @ApiPropertyOptional({
    minimum: PORTAL_SESSION_TTL.min,
    maximum: PORTAL_SESSION_TTL.max,
    default: PORTAL_SESSION_TTL.default,
    example: 3600,
    description: 'How long the link works, in seconds (outside 60-86400: 422)',
  })
  @IsOptional()
  @IsInt({ message: 'ttl_seconds must be a whole number of seconds' })
  ttl_seconds?: number;
}

export class PortalSessionResponse {
  @ApiProperty({
    example: 'https://billing.example.com/portal/#account=acme-corp&session=ps_3f2a9c0d1e4b5a6f_…',
    description: 'Opens the portal for this account, read-only; the token is in the fragment, which browsers never send to a server',
  })
  url: string;

  @ApiProperty({ example: '2026-12-01T21:00:00.000Z' }) expires_at: string;
}
