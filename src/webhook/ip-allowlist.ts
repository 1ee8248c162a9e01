import { BlockList, isIP } from 'node:net';

function toBlockList(ranges: string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [address, bits] = range.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is 1.2.3.4. */
export function normalizeIp(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

function contains(list: BlockList, address: string): boolean {
  const ip = normalizeIp(address.trim());
  const version = isIP(ip);
  return version !== 0 && list.check(ip, version === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Decides whether a webhook caller may proceed. X-Forwarded-For is believed only when the connection comes
 * from a configured proxy, and then only up to the first address that is not a trusted proxy (read from the
 * right): anything further left was written by the client and can be forged.
 */
export class IpAllowlist {
  private readonly allowed: BlockList;
  private readonly proxies: BlockList;
  readonly enabled: boolean;

  constructor(allowedRanges: string[], trustedProxies: string[]) {
    this.enabled = allowedRanges.length > 0;
    this.allowed = toBlockList(allowedRanges);
    this.proxies = toBlockList(trustedProxies);
  }

  clientIp(remoteAddress: string, forwardedFor: string | string[] | undefined): string {
    let client = normalizeIp(remoteAddress);
    if (!forwardedFor || !contains(this.proxies, client)) return client;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((hop) => hop.trim())
      .filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      client = normalizeIp(hops[i]);
      if (!contains(this.proxies, client)) break;
    }
    return client;
  }

  allows(remoteAddress: string, forwardedFor: string | string[] | undefined): boolean {
    return !this.enabled || contains(this.allowed, this.clientIp(remoteAddress, forwardedFor));
  }
}
