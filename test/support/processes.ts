import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** dist/<module>.js, which must have been built. */
export function builtFile(module: string): string {
  const file = join(ROOT, 'dist', `${module}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (npm test does) first`);
  return file;
}

/** A gateway entry point (dist/<entry>.js) as a real OS process, with the given environment. */
export function startProcess(entry: 'main-worker' | 'main-api' | 'main', env: Record<string, string>): GatewayProcess {
  const file = builtFile(entry);
  const child = spawn(process.execPath, [file], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new GatewayProcess(child);
}

export class GatewayProcess {
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves when a log line contains `text` (e.g. the worker saying it consumes its partitions). */
  async waitForOutput(text: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.join('').includes(text)) {
      if (this.child.exitCode !== null) throw new Error(`process exited early:\n${this.output.join('')}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for "${text}":\n${this.output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}
