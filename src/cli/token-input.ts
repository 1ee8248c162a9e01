import { UsageError } from './cli-errors';

/**
 * Reads a bot token from standard input, never echoing it: at a terminal it prompts (on stderr) with echo
 * off; from a pipe or a file it reads everything and trims it (`pass show bot | tg-gateway bots add`).
 * A token on the command line (`--token`) would end up in the shell history and in `ps` output.
 */
export async function readToken(prompt = 'Bot token: '): Promise<string> {
  const token = process.stdin.isTTY ? await promptHidden(prompt) : (await readAll(process.stdin)).trim();
  if (!token) throw new UsageError('no token given: pipe it on standard input or pass --token');
  return token;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (outcome: () => void) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      outcome();
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish(() => resolve(value.trim()));
        // Ctrl-C, or Ctrl-D on an empty line: the operator gave up.
        if (char === '\u0003' || (char === '\u0004' && value === '')) {
          return finish(() => reject(new UsageError('cancelled: no token given')));
        }
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else if (char >= ' ') value += char;
      }
    };
    stdin.on('data', onData);
  });
}
