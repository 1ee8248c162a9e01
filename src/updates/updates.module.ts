import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { DeadLettersService } from './dead-letters.service';
import { UpdateProducer } from './update.producer';
import { QueueJanitor } from './queue-janitor';
import { UpdateProcessor } from './update.processor';

/** The producer side of the update queues (used by the webhook) and the dead letters (admin API, CLI). */
@Module({ providers: [UpdateProducer, DeadLettersService], exports: [UpdateProducer, DeadLettersService] })
export class UpdateQueueModule {}

/** The consumer side: BullMQ workers running the shared dispatcher, and the sweeping of finished jobs. */
@Module({ imports: [BotsModule, UpdateQueueModule], providers: [UpdateProcessor, QueueJanitor] })
export class UpdateWorkerModule {}
