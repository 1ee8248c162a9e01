import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { UpdateProducer } from './update.producer';
import { UpdateProcessor } from './update.processor';

/** The producer side of the update queue (used by the webhook). */
@Module({ providers: [UpdateProducer], exports: [UpdateProducer] })
export class UpdateQueueModule {}

/** The consumer side: a BullMQ worker running the shared dispatcher. */
@Module({ imports: [BotsModule, UpdateQueueModule], providers: [UpdateProcessor] })
export class UpdateWorkerModule {}
