import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';

const COALESCED = Symbol('tg-gateway.coalesced');

/**
 * Sends the commands a connection is given in one callback, or in one run of promise continuations, in one write
 * instead of one system call each. ioredis writes every command to its socket at once; a worker running dozens of jobs issues
 * many small commands per turn (mailbox scripts, session reads and writes), and on loopback each `write()` costs
 * more CPU than the command itself, on both sides: Redis then also reads them in one go. Unlike ioredis'
 * `enableAutoPipelining`, nothing about the commands changes (same order, same replies, same error handling): the
 * socket is corked when the first command is written and uncorked on `process.nextTick`. The replies to one read
 * of the socket resume many jobs at once, and the commands those jobs issue next go out together. (`setImmediate`
 * would gather more, but holds each command for the rest of the event-loop turn, and a worker's throughput is
 * bounded by the round trips of its jobs: measured slower.) Not for blocking connections, which carry one command at a time.
 */
export function coalesceWrites(connection: Redis): Redis {
  const install = () => {
    const stream = connection.stream as (Socket & { [COALESCED]?: true }) | undefined;
    if (!stream || stream[COALESCED]) return;
    stream[COALESCED] = true;
    let corked = false;
    const uncork = () => {
      corked = false;
      stream.uncork();
    };
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = (...args: unknown[]): boolean => {
      if (!corked) {
        corked = true;
        stream.cork();
        process.nextTick(uncork);
      }
      return write(...args);
    };
  };
  // A new socket on every (re)connect.
  connection.on('connect', install);
  install();
  return connection;
}
