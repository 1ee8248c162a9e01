import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { DeadLettersService } from './dead-letters.service';
import { UpdateProducer } from './update.producer';
import { UpdateProcessor } from './update.processor';

/** The producer side of the update queues (used by the webhook) and the dead letters (admin API, CLI). */
@Module({ providers: [UpdateProducer, DeadLettersService], exports: [UpdateProducer, DeadLettersService] })
export class UpdateQueueModule {}

/** The consumer side: a BullMQ worker running the shared dispatcher. */
@Module({ imports: [BotsModule, UpdateQueueModule], providers: [UpdateProcessor] })
export class UpdateWorkerModule {}
