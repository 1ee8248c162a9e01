import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { TenantsModule } from '../tenants/tenants.module';
import { UpdateQueueModule } from '../updates/updates.module';
import { DeadLetterAdminService } from './dead-letter-admin.service';

/** Dead letters for the admin API and the CLI, scoped and audited. */
@Module({
  imports: [BotsModule, TenantsModule, UpdateQueueModule],
  providers: [DeadLetterAdminService],
  exports: [DeadLetterAdminService],
})
export class DeadLettersAdminModule {}
