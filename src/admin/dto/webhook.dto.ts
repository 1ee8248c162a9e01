import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsString,
  ValidateBy,
  ValidateIf,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { WebhookCertificateView, WebhookStatus } from '../../bots/bot-admin.service';
import { MAX_CERTIFICATE_BYTES, webhookIpAddressProblem } from '../../bots/webhook-certificate';
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

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: '-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n',
    description:
      'A self-signed certificate (PEM text) for Telegram to check the gateway against; uploaded as a file ' +
      '(multipart). Kept and sent again by every later setWebhook of the gateway; null removes it; left out keeps ' +
      'the one set before. Never the private key.',
  })
  @MaxLength(MAX_CERTIFICATE_BYTES)
  @IsString()
  @ValidateIf((_object: object, value: unknown) => value !== undefined && value !== null)
  certificate?: string | null;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: '203.0.113.10',
    description:
      "Fixed IPv4 address Telegram posts to instead of resolving the URL's host; kept like the certificate; null " +
      'removes it',
  })
  @ValidateBy({
    name: 'isWebhookIpAddress',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && webhookIpAddressProblem(value) === null,
      defaultMessage: (args) => `${args?.property ?? 'ipAddress'} ${webhookIpAddressProblem('')}`,
    },
  })
  @ValidateIf((_object: object, value: unknown) => value !== undefined && value !== null)
  ipAddress?: string | null;
}

export class WebhookCertificateDto implements WebhookCertificateView {
  @ApiProperty({ example: '3A:0F:…:C2', description: 'SHA-256 fingerprint of the uploaded certificate' })
  fingerprint256!: string;

  @ApiProperty({ example: 'CN=gateway.example.com' })
  subject!: string;

  @ApiProperty({ format: 'date-time', example: '2027-12-07T00:00:00.000Z' })
  validTo!: string;
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
    enum: ['no_webhook', 'url', 'allowed_updates', 'max_connections', 'secret', 'certificate', 'ip_address'],
    example: [],
    description:
      'How the webhook differs from what the gateway expects: no webhook, another URL, other allowed_updates or ' +
      'max_connections than set-webhook asked for, deliveries refused with 401 (a secret Telegram no longer matches), ' +
      'or a kept certificate or IP address Telegram does not have',
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

  @ApiProperty({ type: String, nullable: true, example: '203.0.113.10', description: 'The IP address Telegram uses' })
  ipAddress!: string | null;

  @ApiProperty({
    example: false,
    description: "Telegram's has_custom_certificate: it checks the gateway against an uploaded certificate",
  })
  hasCustomCertificate!: boolean;

  @ApiProperty({
    type: WebhookCertificateDto,
    nullable: true,
    description: 'The certificate the gateway uploads with setWebhook (null: none, Telegram checks a CA-signed one)',
  })
  certificate!: WebhookCertificateDto | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'The fixed IP address the gateway gives Telegram (null: Telegram resolves the host)',
  })
  expectedIpAddress!: string | null;
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
