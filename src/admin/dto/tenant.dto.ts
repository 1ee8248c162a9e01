import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsDate,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { ApiKeyView } from '../../tenants/api-keys.service';
import { TenantView } from '../../tenants/tenants.service';
import { AuditRecord, QuotaSettings, Scope, SCOPES } from '../../tenants/tenant.types';
import { Omittable, PageLimit, trimmed } from './validation';

const QUOTA_MAX = 100_000_000;

/** A quota field: an integer ≥ 0 (0: no limit), null for the configured default, left out to keep it. */
function QuotaProperty(description: string): PropertyDecorator {
  return (target: object, key: string | symbol) => {
    ApiPropertyOptional({ type: 'integer', nullable: true, minimum: 0, maximum: QUOTA_MAX, description })(target, key);
    IsOptional()(target, key);
    Max(QUOTA_MAX)(target, key);
    Min(0)(target, key);
    IsInt()(target, key);
  };
}

const QUOTA_DOCS = {
  maxBots: 'Bots the tenant may register',
  maxPendingUpdatesPerBot:
    'Updates one of its bots may have waiting; beyond, its webhook answers 429 (Telegram retries)',
  adminRequestsPerMinute: 'Admin API requests per minute of each of its keys',
};

export class SetQuotasDto implements Partial<QuotaSettings> {
  @QuotaProperty(QUOTA_DOCS.maxBots)
  maxBots?: number | null;

  @QuotaProperty(QUOTA_DOCS.maxPendingUpdatesPerBot)
  maxPendingUpdatesPerBot?: number | null;

  @QuotaProperty(QUOTA_DOCS.adminRequestsPerMinute)
  adminRequestsPerMinute?: number | null;
}

export class CreateTenantDto extends SetQuotasDto {
  @ApiProperty({ example: 'acme', pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Unique slug' })
  @Transform(trimmed)
  @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: '$property must be 1-63 of a-z, 0-9 and -' })
  @IsString()
  name!: string;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'Acme Corp.', maxLength: 100 })
  @Transform(trimmed)
  @IsOptional()
  @Length(1, 100)
  @IsString()
  displayName?: string | null;
}

export class ListTenantsQueryDto {
  @ApiPropertyOptional({ description: 'nextCursor of the previous page', example: 'acme' })
  @Omittable()
  @IsString()
  cursor?: string;

  @PageLimit()
  limit?: number;
}

class QuotasDto {
  @ApiProperty({ type: 'integer', description: `${QUOTA_DOCS.maxBots} (0: no limit)` })
  maxBots!: number;

  @ApiProperty({ type: 'integer', description: `${QUOTA_DOCS.maxPendingUpdatesPerBot} (0: no limit)` })
  maxPendingUpdatesPerBot!: number;

  @ApiProperty({ type: 'integer', description: `${QUOTA_DOCS.adminRequestsPerMinute} (0: no limit)` })
  adminRequestsPerMinute!: number;
}

class QuotaSettingsDto {
  @ApiProperty({ type: 'integer', nullable: true, description: 'null: the configured default' })
  maxBots!: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'null: the configured default' })
  maxPendingUpdatesPerBot!: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'null: the configured default' })
  adminRequestsPerMinute!: number | null;
}

export class TenantDto implements TenantView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'acme' })
  name!: string;

  @ApiProperty({ type: String, nullable: true, example: 'Acme Corp.' })
  displayName!: string | null;

  @ApiProperty({ type: QuotaSettingsDto, description: 'As set by an operator' })
  quotaSettings!: QuotaSettings;

  @ApiProperty({ type: QuotasDto, description: 'What applies' })
  quotas!: QuotasDto;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class TenantPageDto {
  @ApiProperty({ type: [TenantDto] })
  items!: TenantDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as ?cursor= for the next page' })
  nextCursor!: string | null;
}

export class DeletedDto {
  @ApiProperty({ example: true })
  deleted!: boolean;
}

export class CreateKeyDto {
  @ApiProperty({ example: 'ci deploys', maxLength: 100, description: 'What the key is for (shown in lists)' })
  @Transform(trimmed)
  @Length(1, 100)
  @IsString()
  name!: string;

  @ApiProperty({
    enum: SCOPES,
    isArray: true,
    example: ['read', 'write'],
    description: 'read: look; write: change bots, webhooks, secrets, dead letters (implies read); keys: manage keys',
  })
  @IsIn(SCOPES, { each: true })
  @ArrayMaxSize(3)
  @ArrayMinSize(1)
  @IsArray()
  scopes!: Scope[];

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'No expiry when left out' })
  @IsOptional()
  @IsDate()
  @Type(() => Date)
  expiresAt?: Date | null;
}

export class ApiKeyDto implements ApiKeyView {
  @ApiProperty({ example: '3f9a1c2b4d5e6f70', description: 'Not secret: names the key in lists and the audit trail' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  tenantId!: string;

  @ApiProperty({ example: 'ci deploys' })
  name!: string;

  @ApiProperty({ enum: SCOPES, isArray: true })
  scopes!: Scope[];

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ example: 'operator:5d41402abc4b', description: 'Who created it' })
  createdBy!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Updated at most once a minute' })
  lastUsedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt!: string | null;
}

export class CreatedKeyDto {
  @ApiProperty({
    example: 'tgw_3f9a1c2b4d5e6f70_q3Jx…',
    description: 'The key: shown this once, never again (only a hash is stored)',
  })
  key!: string;

  @ApiProperty({ type: ApiKeyDto })
  apiKey!: ApiKeyDto;
}

export class AuditQueryDto {
  @ApiPropertyOptional({ description: 'A bot (id, Telegram id or @username)', example: '@my_shop_bot' })
  @Omittable()
  @IsString()
  bot?: string;

  @ApiPropertyOptional({ description: 'An action, e.g. bot.register, webhook.set, key.revoke', example: 'bot.update' })
  @Omittable()
  @Matches(/^[a-z_.]{1,64}$/, { message: '$property must look like bot.update' })
  @IsString()
  action?: string;

  @ApiPropertyOptional({ description: 'Operators: one tenant (name or id)', example: 'acme' })
  @Omittable()
  @IsString()
  tenant?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'From this moment (inclusive)' })
  @Omittable()
  @IsDate()
  @Type(() => Date)
  since?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Before this moment' })
  @Omittable()
  @IsDate()
  @Type(() => Date)
  until?: Date;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page', example: '1042' })
  @Omittable()
  @Matches(/^\d{1,19}$/, { message: '$property must be a nextCursor' })
  @IsString()
  cursor?: string;

  @PageLimit()
  limit?: number;
}

export class AuditEntryDto implements Omit<AuditRecord, 'at'> {
  @ApiProperty({ example: '1042' })
  id!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty({
    example: 'key:3f9a1c2b4d5e6f70',
    description: 'key:<id>, operator:<key fingerprint> or cli:<os user>',
  })
  actor!: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  tenantId!: string | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  botId!: string | null;

  @ApiProperty({ example: 'webhook.set' })
  action!: string;

  @ApiProperty({ example: 'bot:@my_shop_bot' })
  target!: string;

  @ApiProperty({ enum: ['success', 'failure', 'started'] })
  outcome!: 'success' | 'failure' | 'started';

  @ApiProperty({ type: Object, nullable: true, description: 'What changed; never a token, secret or key' })
  detail!: Record<string, unknown> | null;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto] })
  items!: AuditEntryDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class WhoAmIDto {
  @ApiProperty({ enum: ['operator', 'tenant'] })
  kind!: 'operator' | 'tenant';

  @ApiProperty({ example: 'key:3f9a1c2b4d5e6f70' })
  actor!: string;

  @ApiPropertyOptional({ type: TenantDto, description: 'The tenant of a tenant key' })
  tenant?: TenantDto;

  @ApiPropertyOptional({ enum: SCOPES, isArray: true })
  scopes?: Scope[];
}
