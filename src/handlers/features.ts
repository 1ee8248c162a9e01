import { Composer } from 'grammy';
import { callbackQueryFeature } from './callback-query.handler';
import { GatewayContext } from './context';
import { counterFeature } from './counter.handler';
import { echoFeature } from './echo.handler';
import { formFeature } from './form.handler';
import { startFeature } from './start.handler';

export interface BuiltInFeature {
  name: string;
  description: string;
  composer: Composer<GatewayContext>;
}

/**
 * The demo features, by name. A bot runs the ones in its feature list, in that list's order; a feature that does not
 * handle an update passes it on, so `echo` goes last (it answers any message the others left alone).
 */
export const builtInFeatures: BuiltInFeature[] = [
  { name: 'start', description: '/start answers "Hello, <first name>!"', composer: startFeature },
  {
    name: 'form',
    description: '/form asks for a name and an age (state in the session); /cancel',
    composer: formFeature,
  },
  { name: 'counter', description: '/count and the button "count": a counter in the session', composer: counterFeature },
  { name: 'callback-query', description: 'answers every callback query', composer: callbackQueryFeature },
  { name: 'echo', description: 'sends text back, copies other messages back', composer: echoFeature },
];
