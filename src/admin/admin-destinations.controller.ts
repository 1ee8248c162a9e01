import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { BadRequestError } from '../common/errors';
import { DestinationAdminService, DestinationView } from '../destinations/destination-admin.service';
import { Principal } from '../tenants/tenant.types';
import { Access, Caller } from './access.decorator';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminValidationPipe } from './admin-validation.pipe';
import { ApiBotRef } from './api-bot-ref.decorator';
import {
  AttemptsQueryDto,
  CreateDestinationDto,
  CreatedDestinationDto,
  DeliveryLogEntryDto,
  DestinationDto,
  DestinationTestResultDto,
  ReplayDestinationDto,
  ReplayResultDto,
  RotatedSecretDto,
  UpdateDestinationDto,
} from './dto/destination.dto';
import { ApiErrorResponses } from './dto/error.dto';

const ApiDestination = () => ApiParam({ name: 'destinationId', format: 'uuid', description: 'The destination id' });

/** Where a bot's updates are forwarded: signed HTTP deliveries or a Redis stream (see README "Destinations"). */
@ApiTags('destinations')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 429, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin/bots/:id/destinations')
export class AdminDestinationsController {
  constructor(private readonly destinations: DestinationAdminService) {}

  @Post()
  @Access('write')
  @ApiOperation({
    summary: 'Add a destination',
    description:
      "An http destination's signing secret is in the answer this once. Its URL must resolve to public addresses " +
      'unless the operator allows private ones (DESTINATION_ALLOW_PRIVATE, DESTINATION_ALLOWED_IPS): 422 otherwise.',
  })
  @ApiBotRef()
  @ApiCreatedResponse({ type: CreatedDestinationDto })
  @ApiErrorResponses(400, 404, 409, 422)
  create(@Caller() caller: Principal, @Param('id') bot: string, @Body() body: CreateDestinationDto) {
    return this.destinations.create(caller, bot, body);
  }

  @Get()
  @Access('read')
  @ApiOperation({ summary: "A bot's destinations" })
  @ApiBotRef()
  @ApiOkResponse({ type: [DestinationDto] })
  @ApiErrorResponses(404)
  list(@Caller() caller: Principal, @Param('id') bot: string): Promise<DestinationView[]> {
    return this.destinations.list(caller, bot);
  }

  @Get(':destinationId')
  @Access('read')
  @ApiOperation({ summary: 'Show a destination', description: 'With its breaker state (failures in a row).' })
  @ApiBotRef()
  @ApiDestination()
  @ApiOkResponse({ type: DestinationDto })
  @ApiErrorResponses(404)
  get(@Caller() caller: Principal, @Param('id') bot: string, @Param('destinationId') id: string) {
    return this.destinations.get(caller, bot, id);
  }

  @Patch(':destinationId')
  @Access('write')
  @ApiOperation({
    summary: 'Change, disable or enable a destination',
    description: 'Disabled: new updates are not forwarded to it and its waiting deliveries wait. Enabled: they go on.',
  })
  @ApiBotRef()
  @ApiDestination()
  @ApiOkResponse({ type: DestinationDto })
  @ApiErrorResponses(400, 404, 422)
  update(
    @Caller() caller: Principal,
    @Param('id') bot: string,
    @Param('destinationId') id: string,
    @Body() body: UpdateDestinationDto,
  ) {
    if (Object.values(body).every((v) => v === undefined))
      throw new BadRequestError('Give name, url, updateKinds, streamMaxLen or enabled', 'validation_failed');
    return this.destinations.update(caller, bot, id, body);
  }

  @Delete(':destinationId')
  @Access('write')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a destination', description: 'Deliveries still waiting for it are dropped.' })
  @ApiBotRef()
  @ApiDestination()
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrorResponses(404)
  async remove(@Caller() caller: Principal, @Param('id') bot: string, @Param('destinationId') id: string) {
    await this.destinations.remove(caller, bot, id);
  }

  @Post(':destinationId/rotate-secret')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate the signing secret',
    description:
      'The new secret is in the answer this once; both sign (two signatures in webhook-signature) for ' +
      'DESTINATION_SECRET_OVERLAP_SECONDS, so receivers can switch without refusing a delivery.',
  })
  @ApiBotRef()
  @ApiDestination()
  @ApiOkResponse({ type: RotatedSecretDto })
  @ApiErrorResponses(400, 404)
  rotateSecret(@Caller() caller: Principal, @Param('id') bot: string, @Param('destinationId') id: string) {
    return this.destinations.rotateSecret(caller, bot, id);
  }

  @Post(':destinationId/test')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({ summary: 'Send a test delivery now', description: 'type "test"; the result, not retried.' })
  @ApiBotRef()
  @ApiDestination()
  @ApiOkResponse({ type: DestinationTestResultDto })
  @ApiErrorResponses(404)
  test(@Caller() caller: Principal, @Param('id') bot: string, @Param('destinationId') id: string) {
    return this.destinations.test(caller, bot, id);
  }

  @Get(':destinationId/attempts')
  @Access('read')
  @ApiOperation({ summary: 'The latest delivery attempts, newest first', description: 'From the capped log.' })
  @ApiBotRef()
  @ApiDestination()
  @ApiOkResponse({ type: [DeliveryLogEntryDto] })
  @ApiErrorResponses(400, 404)
  attempts(
    @Caller() caller: Principal,
    @Param('id') bot: string,
    @Param('destinationId') id: string,
    @Query() query: AttemptsQueryDto,
  ) {
    return this.destinations.attempts(caller, bot, id, query.limit);
  }

  @Post(':destinationId/replay')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Deliver again a time range or single deliveries',
    description:
      'From the log of attempts (the last DESTINATION_LOG_LENGTH): deliveries that ended in the range, or by ' +
      'webhook-id, queued again at the end of their conversations, with the same webhook-id.',
  })
  @ApiBotRef()
  @ApiDestination()
  @ApiOkResponse({ type: ReplayResultDto })
  @ApiErrorResponses(400, 404)
  replay(
    @Caller() caller: Principal,
    @Param('id') bot: string,
    @Param('destinationId') id: string,
    @Body() body: ReplayDestinationDto,
  ) {
    return this.destinations.replay(caller, bot, id, {
      from: body.from ? new Date(body.from) : undefined,
      to: body.to ? new Date(body.to) : undefined,
      messageIds: body.messageIds,
    });
  }
}
