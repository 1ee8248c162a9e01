import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseGuards, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiKeysService, ApiKeyView } from '../tenants/api-keys.service';
import { TenantsService, TenantView } from '../tenants/tenants.service';
import { Principal } from '../tenants/tenant.types';
import { Access, Caller } from './access.decorator';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminValidationPipe } from './admin-validation.pipe';
import { ApiErrorResponses } from './dto/error.dto';
import {
  ApiKeyDto,
  CreatedKeyDto,
  CreateKeyDto,
  CreateTenantDto,
  DeletedDto,
  ListTenantsQueryDto,
  SetQuotasDto,
  TenantDto,
  TenantPageDto,
  WhoAmIDto,
} from './dto/tenant.dto';

function ApiTenantRef(): MethodDecorator {
  return ApiParam({ name: 'tenant', description: "The tenant's name or id", example: 'acme' });
}

/**
 * Tenants, their quotas and API keys. Tenants and quotas are an operator's; a tenant key with the `keys` scope
 * manages its own tenant's keys (another tenant answers 404 like one that does not exist).
 */
@ApiTags('tenants')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 429, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin')
export class AdminTenantsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly keys: ApiKeysService,
  ) {}

  @Get('whoami')
  @Access('read')
  @ApiOperation({ summary: 'Who the key is', description: 'Operator, or the tenant of a tenant key with its quotas.' })
  @ApiOkResponse({ type: WhoAmIDto })
  async whoami(@Caller() caller: Principal): Promise<WhoAmIDto> {
    if (caller.kind === 'operator') return { kind: 'operator', actor: caller.actor };
    const tenant = await this.tenants.get(caller, caller.tenantId);
    return { kind: 'tenant', actor: caller.actor, tenant, scopes: [...caller.scopes] };
  }

  @Post('tenants')
  @Access('operator')
  @ApiOperation({ summary: 'Create a tenant', description: 'With quotas, or the configured defaults.' })
  @ApiCreatedResponse({ type: TenantDto })
  @ApiErrorResponses(400, 409)
  create(@Caller() caller: Principal, @Body() body: CreateTenantDto): Promise<TenantView> {
    return this.tenants.create(caller, body);
  }

  @Get('tenants')
  @Access('operator')
  @ApiOperation({ summary: 'List tenants', description: 'By name, a page at a time.' })
  @ApiOkResponse({ type: TenantPageDto })
  @ApiErrorResponses(400)
  list(@Caller() caller: Principal, @Query() query: ListTenantsQueryDto) {
    return this.tenants.list(caller, query);
  }

  @Get('tenants/:tenant')
  @Access('read')
  @ApiOperation({ summary: 'Show a tenant', description: 'A tenant key sees its own tenant only.' })
  @ApiTenantRef()
  @ApiOkResponse({ type: TenantDto })
  @ApiErrorResponses(404)
  get(@Caller() caller: Principal, @Param('tenant') tenant: string): Promise<TenantView> {
    return this.tenants.get(caller, tenant);
  }

  @Delete('tenants/:tenant')
  @Access('operator')
  @ApiOperation({
    summary: 'Remove a tenant',
    description: 'With its keys. Refused (409 tenant_not_empty) while it owns bots, and for the default tenant.',
  })
  @ApiTenantRef()
  @ApiOkResponse({ type: DeletedDto })
  @ApiErrorResponses(404, 409)
  remove(@Caller() caller: Principal, @Param('tenant') tenant: string): Promise<{ deleted: true }> {
    return this.tenants.remove(caller, tenant);
  }

  @Put('tenants/:tenant/quotas')
  @Access('operator')
  @HttpCode(200)
  @ApiOperation({
    summary: "Set a tenant's quotas",
    description: 'A field left out keeps its value; null returns it to the configured default; 0 means no limit.',
  })
  @ApiTenantRef()
  @ApiOkResponse({ type: TenantDto })
  @ApiErrorResponses(400, 404)
  setQuotas(
    @Caller() caller: Principal,
    @Param('tenant') tenant: string,
    @Body() body: SetQuotasDto,
  ): Promise<TenantView> {
    return this.tenants.setQuotas(caller, tenant, body);
  }

  @Post('tenants/:tenant/keys')
  @Access('keys')
  @ApiOperation({
    summary: 'Create an API key for a tenant',
    description:
      'The answer holds the key (`tgw_<id>_<secret>`) this once; only a hash is stored. A tenant key needs the ' +
      '`keys` scope and cannot give a new key scopes it does not have.',
  })
  @ApiTenantRef()
  @ApiCreatedResponse({ type: CreatedKeyDto })
  @ApiErrorResponses(400, 404)
  createKey(
    @Caller() caller: Principal,
    @Param('tenant') tenant: string,
    @Body() body: CreateKeyDto,
  ): Promise<{ key: string; apiKey: ApiKeyView }> {
    return this.keys.create(caller, tenant, body);
  }

  @Get('tenants/:tenant/keys')
  @Access('keys')
  @ApiOperation({ summary: "List a tenant's API keys", description: 'Newest first; never a secret.' })
  @ApiTenantRef()
  @ApiOkResponse({ type: [ApiKeyDto] })
  @ApiErrorResponses(404)
  listKeys(@Caller() caller: Principal, @Param('tenant') tenant: string): Promise<ApiKeyView[]> {
    return this.keys.list(caller, tenant);
  }

  @Delete('tenants/:tenant/keys/:keyId')
  @Access('keys')
  @ApiOperation({
    summary: 'Revoke an API key',
    description: 'Refused by every API process within 5 s (at once where the announcement over Redis arrives).',
  })
  @ApiTenantRef()
  @ApiParam({ name: 'keyId', description: 'The key id (the part after tgw_)', example: '3f9a1c2b4d5e6f70' })
  @ApiOkResponse({ type: ApiKeyDto })
  @ApiErrorResponses(404)
  revokeKey(
    @Caller() caller: Principal,
    @Param('tenant') tenant: string,
    @Param('keyId') keyId: string,
  ): Promise<ApiKeyView> {
    return this.keys.revoke(caller, tenant, keyId);
  }
}
