import { Module } from '@nestjs/common';
import { HealthController, HealthState } from './health.controller';

@Module({ controllers: [HealthController], providers: [HealthState] })
export class HealthModule {}
