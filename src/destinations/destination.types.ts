/** An HTTP(S) endpoint that gets signed deliveries, or a Redis stream in the gateway's Redis. */
export type DestinationKind = 'http' | 'stream';

export const DESTINATION_KINDS: readonly DestinationKind[] = ['http', 'stream'];

/** A destinations row as the rest of the gateway sees it (no Prisma types outside the repository). */
export interface DestinationRecord {
  id: string;
  botId: string;
  kind: DestinationKind;
  name: string | null;
  url: string | null;
  /** The update kinds forwarded; null: every kind. */
  updateKinds: string[] | null;
  secretCiphertext: Uint8Array | null;
  previousSecretCiphertext: Uint8Array | null;
  previousSecretExpiresAt: Date | null;
  streamMaxLen: number | null;
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What the webhook needs to route an update of a bot: cached with the bot (a destination change reloads it). */
export interface UpdateRoutes {
  /** The bot has features: its own lane gets every update. */
  features: boolean;
  destinations: {
    id: string;
    kind: DestinationKind;
    enabled: boolean;
    kinds: ReadonlySet<string> | null;
    streamMaxLen: number;
  }[];
}

/** Where one update goes: the bot's own lane or not, and the ACCEPT script's destination targets. */
export interface UpdateTargets {
  botLane: boolean;
  /** 'L<destination>' (a lane), 'S<max length>:<destination>' (a stream), 'K<destination>' (disabled: logged). */
  targets: string[];
  streams: boolean;
}

const ONLY_BOT_LANE: UpdateTargets = { botLane: true, targets: [], streams: false };

/**
 * The bot's own lane takes the update when the bot has features, or when no destination does (so an update of a bot
 * with neither is still accounted for, as before destinations existed).
 */
export function targetsOf(routes: UpdateRoutes | undefined, kind: string): UpdateTargets {
  if (!routes || routes.destinations.length === 0) return ONLY_BOT_LANE;
  const targets: string[] = [];
  let streams = false;
  for (const d of routes.destinations) {
    if (d.kinds && !d.kinds.has(kind)) continue;
    if (!d.enabled) {
      // A disabled HTTP destination notes the update in its log, so that a replay can deliver it once enabled.
      if (d.kind === 'http') targets.push(`K${d.id}`);
    } else if (d.kind === 'stream') {
      streams = true;
      targets.push(`S${d.streamMaxLen}:${d.id}`);
    } else targets.push(`L${d.id}`);
  }
  const forwarded = targets.some((t) => !t.startsWith('K'));
  return { botLane: routes.features || !forwarded, targets, streams };
}

/** The mailbox lane of a destination's deliveries. */
export function laneOf(botId: string, destinationId: string): string {
  return `${botId}/${destinationId}`;
}

/** The destination of a lane, or null for a bot's own lane. */
export function destinationOfLane(lane: string): { botId: string; destinationId: string } | null {
  const slash = lane.indexOf('/');
  return slash < 0 ? null : { botId: lane.slice(0, slash), destinationId: lane.slice(slash + 1) };
}

/** The Redis stream of a stream destination (without the deployment's prefix). */
export function streamKeyOf(redisPrefix: string, destinationId: string): string {
  return `${redisPrefix}:st:${destinationId}`;
}

/** Every Redis key of a destination besides its lane's mailboxes (deleted with it). */
export function destinationKeys(redisPrefix: string, destinationId: string): string[] {
  return ['st', 'dlog', 'dbf', 'dbs'].map((kind) => `${redisPrefix}:${kind}:${destinationId}`);
}
