import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { DestinationsModule } from '../destinations/destinations.module';
import { DeadLettersService } from './dead-letters.service';
import { UpdateProducer } from './update.producer';
import { LegacyQueueMigration } from './legacy-migration';
import { QueueJanitor } from './queue-janitor';
import { UpdateProcessor } from './update.processor';

/** The producer side of the conversation mailboxes (used by the webhook) and the dead letters (admin API, CLI). */
@Module({ providers: [UpdateProducer, DeadLettersService], exports: [UpdateProducer, DeadLettersService] })
export class UpdateQueueModule {}

/** The consumer side: the conversation workers running the shared dispatcher, the upgrade, the dead-letter sweep. */
@Module({
  imports: [BotsModule, UpdateQueueModule, DestinationsModule],
  providers: [UpdateProcessor, QueueJanitor, LegacyQueueMigration],
})
export class UpdateWorkerModule {}
