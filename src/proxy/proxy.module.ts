import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { ProxyCredentialsModule } from './proxy-credentials.module';
import { ProxyRoute } from './proxy.route';

/** The outbound Bot API proxy route (API process). */
@Module({ imports: [BotsModule, ProxyCredentialsModule], providers: [ProxyRoute] })
export class ProxyModule {}
