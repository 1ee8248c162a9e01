import { Controller, Delete, Get, HttpCode, Param, Post, Query, UseGuards, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { BadRequestError } from '../common/errors';
import { DeadLetterAdminService } from '../dead-letters/dead-letter-admin.service';
import { Principal } from '../tenants/tenant.types';
import { DeadLetterDetail, DeadLetterView } from '../updates/dead-letters.service';
import { Access, Caller } from './access.decorator';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminValidationPipe } from './admin-validation.pipe';
import { ApiBotRef } from './api-bot-ref.decorator';
import {
  DeadLetterDetailDto,
  DeadLetterDto,
  DeadLetterPageDto,
  ListDeadLettersQueryDto,
  PurgedDeadLettersDto,
  PurgeDeadLettersQueryDto,
  RetriedDeadLettersDto,
} from './dto/dead-letter.dto';
import { ApiErrorResponses, ErrorDto } from './dto/error.dto';

function ApiDeadLetterId(): MethodDecorator {
  return ApiParam({
    name: 'id',
    description: 'The dead letter id (`<bot id>-<update_id>-<n>`) from the list',
    example: '7.0f8fad5b-d9cb-469f-a165-70867728950e-731902846-5c1d2e3f4a5b',
  });
}

function ApiNotFound(description: string): MethodDecorator {
  return ApiResponse({ status: 404, description, type: ErrorDto });
}

/**
 * Dead letters: updates that failed for good (a Telegram 4xx, or every attempt used). Bots are named as
 * everywhere else in the admin API and resolved to the gateway id the dead letters carry.
 */
@ApiTags('dead letters')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 429, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin')
export class AdminDeadLettersController {
  constructor(private readonly deadLetters: DeadLetterAdminService) {}

  @Get('dead-letters')
  @Access('read')
  @ApiOperation({
    summary: 'List dead letters',
    description: "Newest first, of every bot (the tenant's, for a tenant key) or of one, a page at a time.",
  })
  @ApiOkResponse({ type: DeadLetterPageDto, description: 'A page of dead letters' })
  @ApiErrorResponses(400)
  @ApiNotFound('No such bot (bot_not_found)')
  list(
    @Caller() caller: Principal,
    @Query() query: ListDeadLettersQueryDto,
  ): Promise<{ items: DeadLetterView[]; nextCursor: string | null }> {
    return this.deadLetters.list(caller, query);
  }

  @Get('dead-letters/:id')
  @Access('read')
  @ApiOperation({
    summary: 'Show a dead letter',
    description: 'With the update as Telegram sent it and the log of its retried attempts.',
  })
  @ApiDeadLetterId()
  @ApiOkResponse({ type: DeadLetterDetailDto, description: 'The dead letter' })
  @ApiNotFound('No such dead letter (dead_letter_not_found)')
  get(@Caller() caller: Principal, @Param('id') id: string): Promise<DeadLetterDetail> {
    return this.deadLetters.get(caller, id);
  }

  @Post('dead-letters/:id/retry')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Retry a dead letter',
    description:
      'Puts the update back at the end of its conversation, behind the newer updates of its chat; it leaves ' +
      'the dead letters, and comes back if it fails again.',
  })
  @ApiDeadLetterId()
  @ApiOkResponse({ type: DeadLetterDto, description: 'The dead letter that was retried' })
  @ApiNotFound('No such dead letter (dead_letter_not_found)')
  retry(@Caller() caller: Principal, @Param('id') id: string): Promise<DeadLetterView> {
    return this.deadLetters.retry(caller, id);
  }

  @Post('bots/:id/dead-letters/retry')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Retry every dead letter of a bot',
    description: 'Each as POST /admin/dead-letters/{id}/retry.',
  })
  @ApiBotRef()
  @ApiOkResponse({ type: RetriedDeadLettersDto, description: 'How many were retried' })
  @ApiNotFound('No such bot (bot_not_found)')
  async retryAll(@Caller() caller: Principal, @Param('id') id: string): Promise<RetriedDeadLettersDto> {
    return { retried: await this.deadLetters.retryAll(caller, id) };
  }

  @Delete('dead-letters/:id')
  @Access('write')
  @ApiOperation({ summary: 'Purge a dead letter', description: 'Deletes it for good; it is not processed.' })
  @ApiDeadLetterId()
  @ApiOkResponse({ type: PurgedDeadLettersDto, description: 'It is deleted' })
  @ApiNotFound('No such dead letter (dead_letter_not_found)')
  async purgeOne(@Caller() caller: Principal, @Param('id') id: string): Promise<PurgedDeadLettersDto> {
    return { purged: await this.deadLetters.purge(caller, { id }) };
  }

  @Delete('dead-letters')
  @Access('write')
  @ApiOperation({
    summary: "Purge a bot's dead letters, or all",
    description:
      'Give `bot` for one bot, or `all=true` for every bot (of the tenant, for a tenant key). A DELETE with neither is refused (400), so that ' +
      'nobody wipes every dead letter by accident.',
  })
  @ApiOkResponse({ type: PurgedDeadLettersDto, description: 'How many were deleted' })
  @ApiErrorResponses(400)
  @ApiNotFound('No such bot (bot_not_found)')
  async purge(@Caller() caller: Principal, @Query() query: PurgeDeadLettersQueryDto): Promise<PurgedDeadLettersDto> {
    if (query.bot !== undefined && query.all !== undefined) {
      throw new BadRequestError('Give either bot or all=true, not both', 'validation_failed');
    }
    if (query.bot === undefined && query.all !== true) {
      throw new BadRequestError(
        "Give bot=<bot> to purge one bot's dead letters, or all=true to purge every dead letter",
        'validation_failed',
      );
    }
    return { purged: await this.deadLetters.purge(caller, { bot: query.bot }) };
  }
}
