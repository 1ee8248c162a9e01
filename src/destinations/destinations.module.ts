import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { TenantsModule } from '../tenants/tenants.module';
import { DestinationAdminService } from './destination-admin.service';
import { DestinationDeliveryService } from './destination-delivery.service';
import { DestinationRepository } from './destination.repository';
import { DestinationSecrets } from './destination-secrets';

@Module({
  imports: [BotsModule, TenantsModule],
  providers: [DestinationRepository, DestinationSecrets, DestinationDeliveryService, DestinationAdminService],
  exports: [DestinationDeliveryService, DestinationAdminService],
})
export class DestinationsModule {}
