import { Composer } from 'grammy';
import { callbackQueryFeature } from './callback-query.handler';
import { GatewayContext } from './context';
import { counterFeature } from './counter.handler';
import { echoFeature } from './echo.handler';
import { formFeature } from './form.handler';
import { startFeature } from './start.handler';

/**
 * Every bot feature, in the order they see an update. A feature that does not handle an update passes it on;
 * the echo feature is last because it answers any message the others left alone.
 */
export const features: Composer<GatewayContext>[] = [
  startFeature,
  formFeature,
  counterFeature,
  callbackQueryFeature,
  echoFeature,
];
