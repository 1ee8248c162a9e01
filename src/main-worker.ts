import { runProcess } from './bootstrap';

void runProcess('worker').catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
