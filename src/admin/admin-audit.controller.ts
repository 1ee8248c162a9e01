import { Controller, Get, Query, UseGuards, UsePipes } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditQueryService } from '../bots/audit-query.service';
import { Principal } from '../tenants/tenant.types';
import { Access, Caller } from './access.decorator';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminValidationPipe } from './admin-validation.pipe';
import { AuditPageDto, AuditQueryDto } from './dto/tenant.dto';
import { ApiErrorResponses } from './dto/error.dto';

@ApiTags('audit')
@ApiBearerAuth()
@ApiErrorResponses(401, 403, 429, 503)
@UseGuards(AdminAuthGuard)
@UsePipes(AdminValidationPipe)
@Controller('admin/audit')
export class AdminAuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @Access('read')
  @ApiOperation({
    summary: 'The audit trail',
    description:
      'Every change made through the admin API or the CLI, newest first: when, who (key id, operator key ' +
      'fingerprint, cli:<os user>), action, target, outcome. An operator sees all; a tenant key its own tenant.',
  })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiErrorResponses(400, 404)
  list(@Caller() caller: Principal, @Query() query: AuditQueryDto): Promise<AuditPageDto> {
    return this.audit.list(caller, query);
  }
}
