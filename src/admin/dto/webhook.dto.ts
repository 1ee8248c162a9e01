import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsInt, IsString, ValidateBy, Max, MaxLength, Min } from 'class-validator';
import { WebhookStatus } from '../../bots/bot-admin.service';
import { WebhookDrift } from '../../bots/webhook-drift';
import { webhookBaseUrlProblem } from '../../bots/webhook-url';
import { BotDto } from './bot.dto';
import { Omittable } from './validation';

export class SetWebhookDto {
  @ApiPropertyOptional({ example: false, description: 'Drop the updates Telegram is still holding for the bot' })
  @Omittable()
  @IsBoolean()
  dropPendingUpdates?: boolean;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 100,
    example: 40,
    description: 'Simultaneous HTTPS connections Telegram may open (Telegram defaults to 40)',
  })
  @Omittable()
  @Max(100)
  @Min(1)
  @IsInt()
  maxConnections?: number;

  @ApiPropertyOptional({
    type: [String],
    example: ['message', 'callback_query'],
    description: 'Update types to receive; Telegram keeps the previous list when omitted',
  })
  @Omittable()
  @MaxLength(64, { each: true })
  @IsString({ each: true })
  @ArrayMaxSize(64)
  @IsArray()
  allowedUpdates?: string[];

  @ApiPropertyOptional({
    example: 'https://gateway.example.com',
    description: 'Public base URL of the gateway, instead of PUBLIC_URL; /webhook/<token> is appended',
  })
  @Omittable()
  @ValidateBy({
    name: 'isWebhookBaseUrl',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && webhookBaseUrlProblem(value) === null,
      defaultMessage: (args) =>
        `${args?.property ?? 'url'} ${typeof args?.value === 'string' ? webhookBaseUrlProblem(args.value) : 'must be an https or http URL'}`,
    },
  })
  url?: string;
}

export class DeleteWebhookDto {
  @ApiPropertyOptional({ example: false, description: 'Drop the updates Telegram is still holding for the bot' })
  @Omittable()
  @IsBoolean()
  dropPendingUpdates?: boolean;
}

export class WebhookStatusDto implements WebhookStatus {
  @ApiProperty({
    example: 'https://gateway.example.com/webhook/<redacted>',
    description: "Telegram's webhook URL with the token redacted; empty when no webhook is set",
  })
  url!: string;

  @ApiProperty({ example: 'https://gateway.example.com/webhook/<redacted>', description: 'What the gateway expects' })
  expectedUrl!: string;

  @ApiProperty({ example: true, description: "Whether Telegram's URL is the expected one" })
  matchesExpected!: boolean;

  @ApiProperty({
    type: [String],
    enum: ['no_webhook', 'url', 'allowed_updates', 'max_connections', 'secret'],
    example: [],
    description:
      'How the webhook differs from what the gateway expects: no webhook, another URL, other allowed_updates or ' +
      'max_connections than set-webhook asked for, or deliveries refused with 401 (a secret Telegram no longer matches)',
  })
  drift!: WebhookDrift[];

  @ApiProperty({ example: 0 })
  pendingUpdateCount!: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  lastErrorDate!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: "Telegram's last delivery error" })
  lastErrorMessage!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  lastSynchronizationErrorDate!: string | null;

  @ApiProperty({ type: 'integer', nullable: true, example: 40 })
  maxConnections!: number | null;

  @ApiProperty({ type: [String], nullable: true, example: ['message', 'callback_query'] })
  allowedUpdates!: string[] | null;

  @ApiProperty({ type: String, nullable: true, example: '203.0.113.10' })
  ipAddress!: string | null;
}

export class RotateSecretResultDto {
  @ApiProperty({ type: BotDto })
  bot!: BotDto;

  @ApiProperty({
    format: 'date-time',
    example: '2026-11-22T10:25:00.000Z',
    description: 'Until then the previous secret is accepted too (WEBHOOK_SECRET_OVERLAP_SECONDS)',
  })
  previousSecretValidUntil!: string;

  @ApiProperty({
    example: true,
    description: 'Whether the new secret was given to Telegram (false when the bot has no webhook set)',
  })
  webhookUpdated!: boolean;
}
