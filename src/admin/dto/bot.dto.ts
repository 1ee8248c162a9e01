import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  ValidateNested,
} from 'class-validator';
import { TOKEN_SHAPE } from '../../bots/bot-admin.service';
import { BotView } from '../../bots/bot.view';
import { BotFeatureDto, MAX_BOT_FEATURES } from './feature.dto';
import { Omittable, PageLimit, queryBoolean, trimmed } from './validation';

const TOKEN_EXAMPLE = '7012345678:AAHk3vQ9x2LmN8pR4tZ6wY1cB5dF7gJ0sEu';

/** A bot token in a request body: checked for shape here, then with Telegram's getMe by the service. */
function TokenProperty(description: string): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ description, example: TOKEN_EXAMPLE, pattern: TOKEN_SHAPE.source, writeOnly: true }),
    Transform(trimmed),
    // Checked in this order, stopping at the first error: required, then a string, then the shape.
    IsDefined({ message: '$property is required' }),
    IsString(),
    Matches(TOKEN_SHAPE, { message: '$property must look like a Telegram bot token (<digits>:<30-64 characters>)' }),
  );
}

const NAME_MAX = 100;

export class RegisterBotDto {
  @TokenProperty('The token from @BotFather. Stored encrypted; never returned by any endpoint.')
  token!: string;

  @ApiPropertyOptional({
    example: 'acme',
    description:
      "The owning tenant's name or id (operators; the default tenant when left out). A tenant key registers for " +
      'its own tenant: naming another is 404.',
  })
  @Transform(trimmed)
  @Omittable()
  @Length(1, 63)
  @IsString()
  tenant?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    minLength: 1,
    maxLength: NAME_MAX,
    example: 'Shop support',
    description: "Display name for operators; defaults to the bot's first name on Telegram",
  })
  @Transform(trimmed)
  @IsOptional()
  @Length(1, NAME_MAX)
  @IsString()
  name?: string | null;

  @ApiPropertyOptional({
    type: [BotFeatureDto],
    maxItems: MAX_BOT_FEATURES,
    description: 'The features the bot runs, in order; DEFAULT_BOT_FEATURES when left out',
    example: [{ name: 'start' }, { name: 'echo' }],
  })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(MAX_BOT_FEATURES)
  @ValidateNested({ each: true })
  @Type(() => BotFeatureDto)
  features?: BotFeatureDto[];
}

export class ReplaceTokenDto {
  @TokenProperty('A new token of the same Telegram bot (after revoking the old one with @BotFather).')
  token!: string;
}

export class UpdateBotDto {
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    minLength: 1,
    maxLength: NAME_MAX,
    example: 'Shop support',
    description: "New display name; null resets it to the bot's first name on Telegram",
  })
  @Transform(trimmed)
  @IsOptional()
  @Length(1, NAME_MAX)
  @IsString()
  name?: string | null;

  @ApiPropertyOptional({ example: false, description: 'A disabled bot is refused at the webhook (404)' })
  @Omittable()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({
    example: true,
    description:
      'Hand the messages of one media group to the handlers as one album (ctx.album), once ALBUM_WAIT_MS passed without a new part',
  })
  @Omittable()
  @IsBoolean()
  albums?: boolean;
}

export class ListBotsQueryDto {
  @ApiPropertyOptional({
    format: 'uuid',
    description: 'nextCursor of the previous page',
    example: '0f8fad5b-d9cb-469f-a165-70867728950e',
  })
  @IsOptional()
  @IsUUID('all')
  cursor?: string;

  @PageLimit()
  limit?: number;

  @ApiPropertyOptional({ type: Boolean, description: 'Only enabled (true) or disabled (false) bots', example: true })
  @Transform(queryBoolean)
  @Omittable()
  @IsBoolean()
  enabled?: boolean;
}

export class BotDto implements BotView {
  @ApiProperty({ format: 'uuid', example: '0f8fad5b-d9cb-469f-a165-70867728950e', description: "The gateway's id" })
  id!: string;

  @ApiProperty({
    example: '7012345678',
    description: 'The Telegram bot id, as a string (it can exceed the integers JSON numbers carry exactly)',
  })
  telegramId!: string;

  @ApiProperty({ example: 'my_shop_bot', description: 'Telegram username, without @' })
  username!: string;

  @ApiProperty({ example: 'Shop support', description: "The operator's display name, or else firstName" })
  name!: string;

  @ApiProperty({ example: 'My Shop', description: "The bot's first name on Telegram" })
  firstName!: string;

  @ApiProperty({ example: true })
  enabled!: boolean;

  @ApiProperty({ example: false, description: 'Media groups reach the handlers as one album' })
  albums!: boolean;
  @ApiProperty({
    example: false,
    description:
      'Telegram rejects the token (401 on a call by the health monitor or a handler): the webhook answers 404 ' +
      'bot_revoked and queued updates wait until the token is replaced (PUT /admin/bots/:id/token)',
  })
  revoked!: boolean;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null, description: 'When it was found' })
  revokedAt!: string | null;
  @ApiProperty({
    type: [String],
    example: ['start', 'echo'],
    description: 'The features it runs, in order (settings: GET /admin/bots/{id}/features)',
  })
  features!: string[];
  @ApiProperty({ format: 'uuid', example: '00000000-0000-4000-8000-000000000000', description: 'The owning tenant' })
  tenantId!: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-22T10:15:00.000Z' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-22T10:15:00.000Z' })
  updatedAt!: string;
}

export class BotPageDto {
  @ApiProperty({ type: [BotDto] })
  items!: BotDto[];

  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    example: null,
    description: 'Pass as ?cursor= for the next page; null on the last page',
  })
  nextCursor!: string | null;
}

export class DeleteBotResultDto {
  @ApiProperty({ example: true })
  deleted!: boolean;

  @ApiProperty({ example: true, description: 'Whether Telegram confirmed deleteWebhook (best effort)' })
  webhookRemoved!: boolean;

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'Why the webhook could not be removed; the bot is deleted all the same',
  })
  webhookError!: string | null;
}
