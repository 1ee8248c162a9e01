import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BotAdminService, WebhookStatus } from '../bots/bot-admin.service';
import { Principal } from '../tenants/tenant.types';
import { Access, Caller } from './access.decorator';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminValidationPipe } from './admin-validation.pipe';
import { ApiBotRef } from './api-bot-ref.decorator';
import { ApiErrorResponses } from './dto/error.dto';
import { DeleteWebhookDto, RotateSecretResultDto, SetWebhookDto, WebhookStatusDto } from './dto/webhook.dto';

@ApiTags('webhooks')
@ApiBearerAuth()
@ApiBotRef()
@ApiErrorResponses(401, 403, 404, 422, 429, 502, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin/bots/:id')
export class AdminWebhooksController {
  constructor(private readonly bots: BotAdminService) {}

  @Post('webhook')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Set the webhook at Telegram',
    description: "setWebhook with url = PUBLIC_URL + /webhook/<token> and the bot's secret_token.",
  })
  @ApiOkResponse({ type: WebhookStatusDto, description: "Telegram's view of the webhook afterwards" })
  @ApiErrorResponses(400)
  setWebhook(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Body() body: SetWebhookDto,
  ): Promise<WebhookStatus> {
    return this.bots.setWebhook(caller, id, body);
  }

  @Delete('webhook')
  @Access('write')
  @ApiOperation({ summary: 'Delete the webhook at Telegram' })
  @ApiBody({ type: DeleteWebhookDto, required: false })
  @ApiOkResponse({ type: WebhookStatusDto, description: "Telegram's view of the webhook afterwards" })
  @ApiErrorResponses(400)
  deleteWebhook(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Body() body: DeleteWebhookDto,
  ): Promise<WebhookStatus> {
    return this.bots.deleteWebhook(caller, id, body);
  }

  @Get('webhook')
  @Access('read')
  @ApiOperation({
    summary: "Telegram's view of the webhook",
    description: 'getWebhookInfo with the token redacted, and whether it matches what the gateway expects.',
  })
  @ApiOkResponse({ type: WebhookStatusDto, description: "Telegram's view of the webhook afterwards" })
  webhookInfo(@Caller() caller: Principal, @Param('id') id: string): Promise<WebhookStatus> {
    return this.bots.webhookInfo(caller, id);
  }

  @Post('secret/rotate')
  @Access('write')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate the webhook secret',
    description:
      'A new secret, given to Telegram with setWebhook; the previous one stays accepted for ' +
      'WEBHOOK_SECRET_OVERLAP_SECONDS so that no delivery is refused meanwhile.',
  })
  @ApiOkResponse({ type: RotateSecretResultDto, description: 'The secret is rotated' })
  @ApiErrorResponses(409)
  rotateSecret(@Caller() caller: Principal, @Param('id') id: string): Promise<RotateSecretResultDto> {
    return this.bots.rotateSecret(caller, id);
  }
}
