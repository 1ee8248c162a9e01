import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  CreatedProxyCredential,
  ProxyCredentialsService,
  ProxyCredentialView,
} from '../proxy/proxy-credentials.service';
import { Principal } from '../tenants/tenant.types';
import { Access, Caller } from './access.decorator';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminValidationPipe } from './admin-validation.pipe';
import { ApiBotRef } from './api-bot-ref.decorator';
import { ApiErrorResponses } from './dto/error.dto';
import {
  CreatedProxyCredentialDto,
  CreateProxyCredentialDto,
  ProxyCredentialDto,
  RotatedProxyCredentialDto,
} from './dto/proxy-credential.dto';

function ApiCredentialId(): MethodDecorator {
  return ApiParam({
    name: 'credentialId',
    description: 'The credential id (16 hex digits after tgwp in the credential)',
    example: '9c1f3a5e7b2d4c60',
  });
}

/**
 * Credentials of the outbound Bot API proxy: a consumer service uses one as its bot's token against the gateway's
 * proxy root (PROXY_PATH) and never sees the real token.
 */
@ApiTags('proxy credentials')
@ApiBearerAuth()
@ApiBotRef()
@ApiErrorResponses(401, 403, 404, 429, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin/bots/:id/proxy-credentials')
export class AdminProxyCredentialsController {
  constructor(private readonly credentials: ProxyCredentialsService) {}

  @Post()
  @Access('write')
  @ApiOperation({
    summary: 'Create a proxy credential',
    description:
      "The answer holds the credential and the proxy's API root this once; only a hash is stored. A bot may have " +
      '20 credentials that are not revoked (409 proxy_credential_limit).',
  })
  @ApiCreatedResponse({ type: CreatedProxyCredentialDto })
  @ApiErrorResponses(400, 409)
  create(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Body() body: CreateProxyCredentialDto,
  ): Promise<CreatedProxyCredential> {
    return this.credentials.create(caller, id, body);
  }

  @Get()
  @Access('read')
  @ApiOperation({
    summary: "List a bot's proxy credentials",
    description: 'Newest first, revoked ones too; never a secret.',
  })
  @ApiOkResponse({ type: [ProxyCredentialDto] })
  list(@Caller() caller: Principal, @Param('id') id: string): Promise<ProxyCredentialView[]> {
    return this.credentials.list(caller, id);
  }

  @Delete(':credentialId')
  @Access('write')
  @ApiOperation({
    summary: 'Revoke a proxy credential',
    description: 'Refused (401) by every API process within 5 s. Revoking a revoked credential changes nothing.',
  })
  @ApiCredentialId()
  @ApiOkResponse({ type: ProxyCredentialDto })
  revoke(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Param('credentialId') credentialId: string,
  ): Promise<ProxyCredentialView> {
    return this.credentials.revoke(caller, id, credentialId);
  }

  @Post(':credentialId/rotate')
  @Access('write')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Rotate a proxy credential',
    description:
      'A new credential (same name), shown this once, and the old one revoked, in one step (409 ' +
      'proxy_credential_revoked when it is revoked already). For a switch without refused calls, create a second ' +
      'credential, move the consumer to it, then revoke the first.',
  })
  @ApiCredentialId()
  @ApiCreatedResponse({ type: RotatedProxyCredentialDto })
  @ApiErrorResponses(409)
  rotate(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Param('credentialId') credentialId: string,
  ): Promise<CreatedProxyCredential & { revoked: ProxyCredentialView }> {
    return this.credentials.rotate(caller, id, credentialId);
  }
}
