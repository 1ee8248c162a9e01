import { runProcess } from './bootstrap';

void runProcess('api').catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
