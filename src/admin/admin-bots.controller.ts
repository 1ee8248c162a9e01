import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BotAdminService, Page } from '../bots/bot-admin.service';
import { BotView } from '../bots/bot.view';
import { BadRequestError } from '../common/errors';
import { Principal } from '../tenants/tenant.types';
import { Access, Caller } from './access.decorator';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminValidationPipe } from './admin-validation.pipe';
import { ApiBotRef } from './api-bot-ref.decorator';
import {
  BotDto,
  BotPageDto,
  DeleteBotResultDto,
  ListBotsQueryDto,
  RegisterBotDto,
  ReplaceTokenDto,
  UpdateBotDto,
} from './dto/bot.dto';
import { ApiErrorResponses } from './dto/error.dto';

@ApiTags('bots')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 429, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin/bots')
export class AdminBotsController {
  constructor(private readonly bots: BotAdminService) {}

  @Post()
  @Access('write')
  @ApiOperation({
    summary: 'Register a bot',
    description:
      "Checks the token's shape, calls Telegram getMe, and stores the bot with its token encrypted, for the key's " +
      'tenant (a tenant key) or `tenant` (an operator; the default tenant when left out). A token registered ' +
      'already, to any tenant, is 409 without saying whose it is; a tenant at its bot quota is 409 bot_quota_exceeded.',
  })
  @ApiCreatedResponse({ type: BotDto, description: 'The registered bot' })
  @ApiErrorResponses(400, 409, 422, 429, 502)
  register(@Caller() caller: Principal, @Body() body: RegisterBotDto): Promise<BotView> {
    return this.bots.register(caller, body);
  }

  @Get()
  @Access('read')
  @ApiOperation({
    summary: 'List bots',
    description: "In registration order, a page at a time: every bot for an operator, the tenant's for a tenant key.",
  })
  @ApiOkResponse({ type: BotPageDto, description: 'A page of bots' })
  @ApiErrorResponses(400)
  list(@Caller() caller: Principal, @Query() query: ListBotsQueryDto): Promise<Page<BotView>> {
    return this.bots.list(caller, query);
  }

  @Get(':id')
  @Access('read')
  @ApiOperation({ summary: 'Show a bot' })
  @ApiBotRef()
  @ApiOkResponse({ type: BotDto, description: 'The bot' })
  @ApiErrorResponses(404)
  get(@Caller() caller: Principal, @Param('id') id: string): Promise<BotView> {
    return this.bots.get(caller, id);
  }

  @Patch(':id')
  @Access('write')
  @ApiOperation({
    summary: 'Rename, enable or disable a bot, or switch albums on or off',
    description: 'Takes effect on every process at once.',
  })
  @ApiBotRef()
  @ApiOkResponse({ type: BotDto, description: 'The bot' })
  @ApiErrorResponses(400, 404)
  update(@Caller() caller: Principal, @Param('id') id: string, @Body() body: UpdateBotDto): Promise<BotView> {
    if (body.name === undefined && body.enabled === undefined && body.albums === undefined) {
      throw new BadRequestError('Give name, enabled or albums', 'validation_failed');
    }
    return this.bots.update(caller, id, { name: body.name, enabled: body.enabled, albums: body.albums });
  }

  @Delete(':id')
  @Access('write')
  @ApiOperation({
    summary: 'Delete a bot',
    description: "Removes the bot's webhook at Telegram first (best effort, reported), then the bot.",
  })
  @ApiBotRef()
  @ApiOkResponse({ type: DeleteBotResultDto, description: 'The bot is deleted' })
  @ApiErrorResponses(404)
  remove(@Caller() caller: Principal, @Param('id') id: string): Promise<DeleteBotResultDto> {
    return this.bots.remove(caller, id);
  }

  @Put(':id/token')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: "Replace a bot's token",
    description: 'For a revoked token: the new one must belong to the same Telegram bot (getMe id), else 422.',
  })
  @ApiBotRef()
  @ApiOkResponse({ type: BotDto, description: 'The bot' })
  @ApiErrorResponses(400, 404, 409, 422, 429, 502)
  replaceToken(@Caller() caller: Principal, @Param('id') id: string, @Body() body: ReplaceTokenDto): Promise<BotView> {
    return this.bots.replaceToken(caller, id, body.token);
  }
}
