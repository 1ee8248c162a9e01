import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsString, Length, MaxLength } from 'class-validator';
import type { Update } from 'grammy/types';
import { DeadLetterDetail, DeadLetterView } from '../../updates/dead-letters.service';
import { Omittable, PageLimit, queryBoolean, trimmed } from './validation';

const DEAD_LETTER_ID_EXAMPLE = '0f8fad5b-d9cb-469f-a165-70867728950e-731902846-1042';
const BOT_ID_EXAMPLE = '0f8fad5b-d9cb-469f-a165-70867728950e';

/** A bot reference in a query: anything BotAdminService resolves. */
function BotRefQuery(description: string): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ description, example: '@my_shop_bot' }),
    Transform(trimmed),
    Omittable(),
    // Checked in this order, stopping at the first error.
    IsString(),
    Length(1, 80),
  );
}

export class ListDeadLettersQueryDto {
  @BotRefQuery('Only the dead letters of this bot: its gateway id (UUID), Telegram bot id, or @username')
  bot?: string;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page', example: DEAD_LETTER_ID_EXAMPLE })
  @Omittable()
  @MaxLength(200)
  @IsString()
  cursor?: string;

  @PageLimit()
  limit?: number;
}

export class PurgeDeadLettersQueryDto {
  @BotRefQuery("Purge this bot's dead letters: its gateway id (UUID), Telegram bot id, or @username")
  bot?: string;

  @ApiPropertyOptional({
    type: Boolean,
    example: true,
    description: 'Purge every dead letter of every bot; required when `bot` is not given',
  })
  @Transform(queryBoolean)
  @Omittable()
  @IsBoolean()
  all?: boolean;
}

export class DeadLetterDto implements DeadLetterView {
  @ApiProperty({ example: DEAD_LETTER_ID_EXAMPLE, description: '`<bot id>-<update_id>-<n>`' })
  id!: string;

  @ApiProperty({ format: 'uuid', example: BOT_ID_EXAMPLE, description: "The bot's gateway id" })
  botId!: string;

  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    example: null,
    description: "A delivery to this destination failed; null: the bot's own features failed",
  })
  destinationId!: string | null;

  @ApiProperty({ type: 'integer', example: 731902846, description: "Telegram's update_id" })
  updateId!: number;

  @ApiProperty({ example: 'message', description: 'The kind of update (message, callback_query, …)' })
  kind!: string;

  @ApiProperty({
    example: 'Telegram sendMessage failed: 400 Bad Request: chat not found',
    description: 'Why it failed the last time',
  })
  reason!: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: '2026-11-22T10:15:00.000Z',
    description: 'When the webhook accepted the update',
  })
  acceptedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-11-22T10:15:00.120Z' })
  failedAt!: string | null;
}

export class DeadLetterDetailDto extends DeadLetterDto implements DeadLetterDetail {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The update as Telegram sent it',
    example: {
      update_id: 731902846,
      message: {
        message_id: 42,
        date: 1795342500,
        chat: { id: 1001, type: 'private', first_name: 'Alice' },
        from: { id: 1001, is_bot: false, first_name: 'Alice' },
        text: 'hello',
      },
    },
  })
  update!: Update;

  @ApiProperty({
    type: [String],
    example: [
      'Attempt 1 failed (transient): Telegram sendMessage failed: 502 Bad Gateway; retrying in 1000 ms',
      'Attempt 2 failed (transient): Telegram sendMessage failed: 502 Bad Gateway; retrying in 2000 ms',
    ],
    description: 'One line per attempt that was retried; the final failure is `reason`',
  })
  attempts!: string[];
}

export class DeadLetterPageDto {
  @ApiProperty({ type: [DeadLetterDto], description: 'Newest first' })
  items!: DeadLetterDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'Pass as ?cursor= for the next page; null on the last page',
  })
  nextCursor!: string | null;
}

export class RetriedDeadLettersDto {
  @ApiProperty({ type: 'integer', example: 3, description: 'How many dead letters went back to their queue' })
  retried!: number;
}

export class PurgedDeadLettersDto {
  @ApiProperty({ type: 'integer', example: 3, description: 'How many dead letters were deleted' })
  purged!: number;
}
