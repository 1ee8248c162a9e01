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
@ApiErrorResponses(401, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin/bots')
export class AdminBotsController {
  constructor(private readonly bots: BotAdminService) {}

  @Post()
  @ApiOperation({
    summary: 'Register a bot',
    description: "Checks the token's shape, calls Telegram getMe, and stores the bot with its token encrypted.",
  })
  @ApiCreatedResponse({ type: BotDto, description: 'The registered bot' })
  @ApiErrorResponses(400, 409, 422, 429, 502)
  register(@Body() body: RegisterBotDto): Promise<BotView> {
    return this.bots.register(body);
  }

  @Get()
  @ApiOperation({ summary: 'List bots', description: 'In registration order, a page at a time.' })
  @ApiOkResponse({ type: BotPageDto, description: 'A page of bots' })
  @ApiErrorResponses(400)
  list(@Query() query: ListBotsQueryDto): Promise<Page<BotView>> {
    return this.bots.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Show a bot' })
  @ApiBotRef()
  @ApiOkResponse({ type: BotDto, description: 'The bot' })
  @ApiErrorResponses(404)
  get(@Param('id') id: string): Promise<BotView> {
    return this.bots.get(id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Rename, enable or disable a bot, or switch albums on or off',
    description: 'Takes effect on every process at once.',
  })
  @ApiBotRef()
  @ApiOkResponse({ type: BotDto, description: 'The bot' })
  @ApiErrorResponses(400, 404)
  update(@Param('id') id: string, @Body() body: UpdateBotDto): Promise<BotView> {
    if (body.name === undefined && body.enabled === undefined && body.albums === undefined) {
      throw new BadRequestError('Give name, enabled or albums', 'validation_failed');
    }
    return this.bots.update(id, { name: body.name, enabled: body.enabled, albums: body.albums });
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Delete a bot',
    description: "Removes the bot's webhook at Telegram first (best effort, reported), then the bot.",
  })
  @ApiBotRef()
  @ApiOkResponse({ type: DeleteBotResultDto, description: 'The bot is deleted' })
  @ApiErrorResponses(404)
  remove(@Param('id') id: string): Promise<DeleteBotResultDto> {
    return this.bots.remove(id);
  }

  @Put(':id/token')
  @HttpCode(200)
  @ApiOperation({
    summary: "Replace a bot's token",
    description: 'For a revoked token: the new one must belong to the same Telegram bot (getMe id), else 422.',
  })
  @ApiBotRef()
  @ApiOkResponse({ type: BotDto, description: 'The bot' })
  @ApiErrorResponses(400, 404, 409, 422, 429, 502)
  replaceToken(@Param('id') id: string, @Body() body: ReplaceTokenDto): Promise<BotView> {
    return this.bots.replaceToken(id, body.token);
  }
}
