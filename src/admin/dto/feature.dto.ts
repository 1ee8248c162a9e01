import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDefined, IsObject, IsString, Matches, ValidateNested } from 'class-validator';
import { BotFeaturesView } from '../../bots/bot-admin.service';
import { FEATURE_NAME } from '../../config/config';
import { FeatureInfo } from '../../features/feature.types';
import { Omittable } from './validation';

/** Most features one bot can list (each is a step of every update's dispatch). */
export const MAX_BOT_FEATURES = 100;

const SETTINGS_EXAMPLE = { greeting: 'Welcome' };

export class BotFeatureDto {
  @ApiProperty({
    example: 'greeter',
    pattern: FEATURE_NAME.source,
    description: 'A feature name (GET /admin/features)',
  })
  @IsDefined({ message: '$property is required' })
  @IsString()
  @Matches(FEATURE_NAME, { message: '$property must be a feature name (a-z, then a-z 0-9 _ -, at most 64)' })
  name!: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: SETTINGS_EXAMPLE,
    description: "The bot's settings for the feature, valid against its settingsSchema",
  })
  @Omittable()
  @IsObject()
  settings?: Record<string, unknown>;
}

export class SetBotFeaturesDto {
  @ApiProperty({
    type: [BotFeatureDto],
    maxItems: MAX_BOT_FEATURES,
    description: 'The whole list, in the order the features see an update',
    example: [{ name: 'start' }, { name: 'greeter', settings: SETTINGS_EXAMPLE }, { name: 'echo' }],
  })
  @IsDefined({ message: '$property is required' })
  @IsArray()
  @ArrayMaxSize(MAX_BOT_FEATURES)
  @ValidateNested({ each: true })
  @Type(() => BotFeatureDto)
  features!: BotFeatureDto[];
}

export class PutBotFeatureDto {
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: SETTINGS_EXAMPLE,
    description: 'New settings for the feature; when left out, a feature the bot has keeps its settings',
  })
  @Omittable()
  @IsObject()
  settings?: Record<string, unknown>;
}

export class BotFeaturesDto implements BotFeaturesView {
  @ApiProperty({ format: 'uuid', example: '0f8fad5b-d9cb-469f-a165-70867728950e' })
  botId!: string;

  @ApiProperty({ example: 3, description: 'Bumped by every change of the list' })
  version!: number;

  @ApiProperty({ type: [BotFeatureDto], description: 'In the order the features see an update' })
  features!: BotFeatureDto[];
}

export class FeatureDto implements FeatureInfo {
  @ApiProperty({ example: 'greeter' })
  name!: string;

  @ApiProperty({ type: String, nullable: true, example: '/hello answers with the configured greeting' })
  description!: string | null;

  @ApiProperty({ example: './examples/feature-module', description: '`built-in`, or the FEATURE_MODULES entry' })
  source!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'JSON Schema of the per-bot settings; null when the feature takes none',
    example: { type: 'object', properties: { greeting: { type: 'string' } }, additionalProperties: false },
  })
  settingsSchema!: Record<string, unknown> | null;
}

export class FeatureListDto {
  @ApiProperty({ type: [FeatureDto] })
  items!: FeatureDto[];
}
