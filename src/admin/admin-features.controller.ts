import { Body, Controller, Delete, Get, Param, Put, UseGuards, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { BotAdminService, BotFeaturesView } from '../bots/bot-admin.service';
import { FeatureCatalog } from '../features/feature-catalog';
import { Principal } from '../tenants/tenant.types';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminValidationPipe } from './admin-validation.pipe';
import { Access, Caller } from './access.decorator';
import { ApiBotRef } from './api-bot-ref.decorator';
import { ApiErrorResponses } from './dto/error.dto';
import { BotFeaturesDto, FeatureListDto, PutBotFeatureDto, SetBotFeaturesDto } from './dto/feature.dto';

const ApiFeatureName = () =>
  ApiParam({ name: 'name', description: 'A feature name (GET /admin/features)', example: 'greeter' });

/** The features bots can run (built in and from FEATURE_MODULES) and each bot's list of them. */
@ApiTags('features')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 429, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin')
export class AdminFeaturesController {
  constructor(
    private readonly bots: BotAdminService,
    private readonly catalog: FeatureCatalog,
  ) {}

  @Get('features')
  @Access('read')
  @ApiOperation({
    summary: 'List the features bots can run',
    description: 'Built-in features and those of FEATURE_MODULES, with the JSON Schema of their per-bot settings.',
  })
  @ApiOkResponse({ type: FeatureListDto })
  listFeatures(): FeatureListDto {
    return { items: this.catalog.list() };
  }

  @Get('bots/:id/features')
  @Access('read')
  @ApiOperation({ summary: "A bot's features, with its settings for them" })
  @ApiBotRef()
  @ApiOkResponse({ type: BotFeaturesDto })
  @ApiErrorResponses(404)
  get(@Caller() caller: Principal, @Param('id') id: string): Promise<BotFeaturesView> {
    return this.bots.features(caller, id);
  }

  @Put('bots/:id/features')
  @Access('write')
  @ApiOperation({
    summary: "Replace a bot's feature list",
    description:
      "The whole list, in order, with settings checked against each feature's schema. Reaches every worker at once.",
  })
  @ApiBotRef()
  @ApiOkResponse({ type: BotFeaturesDto })
  @ApiErrorResponses(400, 404, 409, 422)
  set(@Caller() caller: Principal, @Param('id') id: string, @Body() body: SetBotFeaturesDto): Promise<BotFeaturesView> {
    return this.bots.setFeatures(caller, id, body.features);
  }

  @Put('bots/:id/features/:name')
  @Access('write')
  @ApiOperation({
    summary: 'Add a feature to a bot, or change its settings',
    description: 'A feature the bot lacks is added at the end of its list; one it has keeps its place.',
  })
  @ApiBotRef()
  @ApiFeatureName()
  @ApiOkResponse({ type: BotFeaturesDto })
  @ApiErrorResponses(400, 404, 409, 422)
  put(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Param('name') name: string,
    @Body() body: PutBotFeatureDto,
  ): Promise<BotFeaturesView> {
    return this.bots.putFeature(caller, id, name, body.settings);
  }

  @Delete('bots/:id/features/:name')
  @Access('write')
  @ApiOperation({ summary: 'Remove a feature from a bot' })
  @ApiBotRef()
  @ApiFeatureName()
  @ApiOkResponse({ type: BotFeaturesDto })
  @ApiErrorResponses(404, 409)
  remove(@Caller() caller: Principal, @Param('id') id: string, @Param('name') name: string): Promise<BotFeaturesView> {
    return this.bots.removeFeature(caller, id, name);
  }
}
