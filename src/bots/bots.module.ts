import { Module } from '@nestjs/common';
import { BotRegistryService } from './bot-registry.service';
import { BotRepository } from './bot.repository';

@Module({ providers: [BotRepository, BotRegistryService], exports: [BotRegistryService] })
export class BotsModule {}
