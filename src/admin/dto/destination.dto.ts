import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDateString,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  MaxLength,
  Max,
  Min,
} from 'class-validator';
import { DeliveryLogEntry, DestinationView } from '../../destinations/destination-admin.service';
import { DESTINATION_KINDS, DestinationKind } from '../../destinations/destination.types';
import { Omittable, queryInteger } from './validation';

const ID_EXAMPLE = '5b0c1f3e-8a2d-4c61-9a7e-2f1d0c9b8a76';
const BOT_EXAMPLE = '0f8fad5b-d9cb-469f-a165-70867728950e';

export class CreateDestinationDto {
  @ApiProperty({ enum: DESTINATION_KINDS, example: 'http', description: 'http: signed POSTs; stream: a Redis stream' })
  @IsDefined({ message: '$property is required' })
  @IsIn(DESTINATION_KINDS as DestinationKind[])
  kind!: DestinationKind;

  @ApiPropertyOptional({ example: 'orders-service', maxLength: 100 })
  @Omittable()
  @IsString()
  @MaxLength(100)
  name?: string;

  @ApiPropertyOptional({
    example: 'https://orders.example.com/telegram',
    description: 'http: the endpoint; refused when it resolves to a loopback, private or link-local address',
  })
  @Omittable()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({
    type: [String],
    nullable: true,
    example: ['message', 'callback_query'],
    description: 'The update kinds forwarded; left out or null: every kind',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  updateKinds?: string[] | null;

  @ApiPropertyOptional({
    type: 'integer',
    example: 100000,
    description: 'stream: most entries kept (default DESTINATION_STREAM_MAXLEN); older ones are trimmed',
  })
  @Omittable()
  @IsInt()
  @Min(10)
  @Max(10_000_000)
  streamMaxLen?: number;
}

export class UpdateDestinationDto {
  @ApiPropertyOptional({ type: String, nullable: true, example: 'orders-service', maxLength: 100 })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  name?: string | null;

  @ApiPropertyOptional({ example: 'https://orders.example.com/telegram/v2' })
  @Omittable()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({ type: [String], nullable: true, example: ['message'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  updateKinds?: string[] | null;

  @ApiPropertyOptional({ type: 'integer', example: 50000 })
  @Omittable()
  @IsInt()
  @Min(10)
  @Max(10_000_000)
  streamMaxLen?: number;

  @ApiPropertyOptional({
    example: true,
    description: 'false: deliveries wait (new updates are not forwarded); true: enabled again, breaker reset',
  })
  @Omittable()
  @IsBoolean()
  enabled?: boolean;
}

export class ReplayDestinationDto {
  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-07T10:00:00Z', description: 'Start of the range' })
  @Omittable()
  @IsDateString()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-07T11:00:00Z', description: 'End (default: now)' })
  @Omittable()
  @IsDateString()
  to?: string;

  @ApiPropertyOptional({
    type: [String],
    example: [`${BOT_EXAMPLE}-731902846`],
    description: 'Single deliveries by their webhook-id, instead of a range',
  })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  messageIds?: string[];
}

export class AttemptsQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 50 })
  @Omittable()
  @Transform(queryInteger)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class DestinationDto implements DestinationView {
  @ApiProperty({ format: 'uuid', example: ID_EXAMPLE })
  id!: string;
  @ApiProperty({ format: 'uuid', example: BOT_EXAMPLE })
  botId!: string;
  @ApiProperty({ enum: DESTINATION_KINDS, example: 'http' })
  kind!: DestinationKind;
  @ApiProperty({ type: String, nullable: true, example: 'orders-service' })
  name!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'https://orders.example.com/telegram' })
  url!: string | null;
  @ApiProperty({ type: [String], nullable: true, example: ['message', 'callback_query'] })
  updateKinds!: string[] | null;
  @ApiProperty({ example: true })
  enabled!: boolean;
  @ApiProperty({ type: String, nullable: true, example: null })
  disabledReason!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  disabledAt!: string | null;
  @ApiProperty({ type: String, nullable: true, example: null, description: 'stream: the Redis key to read' })
  streamKey!: string | null;
  @ApiProperty({ type: 'integer', nullable: true, example: null })
  streamMaxLen!: number | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description: 'After a rotation: until when the previous secret still signs',
  })
  previousSecretExpiresAt!: string | null;
  @ApiProperty({ type: 'integer', example: 0, description: 'Deliveries waiting (counted against the backlog quota)' })
  pending!: number;
  @ApiProperty({
    type: 'integer',
    example: 0,
    description: 'Failed attempts in a row now (the breaker opens at DESTINATION_BREAKER_FAILURES)',
  })
  failuresInARow!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  failingSince!: string | null;
  @ApiProperty({ format: 'date-time', example: '2026-12-07T10:00:00.000Z' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time', example: '2026-12-07T10:00:00.000Z' })
  updatedAt!: string;
}

export class CreatedDestinationDto {
  @ApiProperty({ type: DestinationDto })
  destination!: DestinationDto;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description: 'http: the signing secret, shown this once (verify deliveries with it); null for a stream',
  })
  secret!: string | null;
}

export class RotatedSecretDto {
  @ApiProperty({ type: DestinationDto })
  destination!: DestinationDto;

  @ApiProperty({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', description: 'The new secret, shown this once' })
  secret!: string;
}

export class DestinationTestResultDto {
  @ApiProperty({ example: true })
  ok!: boolean;
  @ApiProperty({ type: 'integer', nullable: true, example: 200 })
  status!: number | null;
  @ApiProperty({ type: 'integer', example: 42 })
  ms!: number;
  @ApiProperty({ type: String, nullable: true, example: null })
  error!: string | null;
}

export class DeliveryLogEntryDto implements DeliveryLogEntry {
  @ApiProperty({ example: '1796632800000-0' })
  id!: string;
  @ApiProperty({ format: 'date-time', example: '2026-12-07T10:00:00.000Z' })
  at!: string;
  @ApiProperty({ example: `${BOT_EXAMPLE}-731902846`, description: 'The webhook-id of the delivery' })
  messageId!: string;
  @ApiProperty({ type: 'integer', example: 731902846 })
  updateId!: number;
  @ApiProperty({ type: 'integer', example: 1 })
  attempt!: number;
  @ApiProperty({ example: 'delivered', description: 'delivered, failed (retried) or dead' })
  outcome!: string;
  @ApiProperty({ type: 'integer', nullable: true, example: 200 })
  status!: number | null;
  @ApiProperty({ type: 'integer', example: 12 })
  ms!: number;
  @ApiProperty({ type: String, nullable: true, example: null })
  error!: string | null;
}

export class ReplayResultDto {
  @ApiProperty({ type: 'integer', example: 42, description: 'Deliveries queued again' })
  queued!: number;
}
