import { isIP, isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Names an operator may list instead of ranges: the proxies that run on the same host or network. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** Forwarded chains remembered with their answer; one entry is two short strings. */
const RESOLVED_REMEMBERED = 10_000;

export class InvalidProxyListError extends Error {}

/** `a.b.c.d`, an IPv6 address, or either with `/prefix`; IPv4-mapped IPv6 is read as the IPv4 it carries. */
function parseRange(entry: string): Range {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  const bits = family === 4 ? 32 : 128;
  const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!family || rest.length > 0 || !(length >= 0 && length <= bits)) {
    throw new InvalidProxyListError(`"${entry}" is not an address or CIDR range (e.g. 10.0.0.0/8, ::1, loopback)`);
  }
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() && length >= 96) {
    return [(parsed as ipaddr.IPv6).toIPv4Address(), length - 96];
  }
  return [parsed, length];
}

/** Comma-separated addresses, CIDR ranges and the names `loopback` and `private`. */
export function parseTrustedProxies(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const entries = raw.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of entries) if (!NAMED_RANGES[entry.toLowerCase()]) parseRange(entry);
  return entries;
}

/** A forwarded entry as an address: forwarding headers may carry a port (`1.2.3.4:5678`, `[::1]:5678`). */
function parseHop(entry: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const trimmed = entry.trim();
  const bare = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed)?.[1] ?? (/^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(trimmed)?.[1] ?? trimmed);
  return isIP(bare) ? ipaddr.process(bare) : undefined;
}

/**
 * The socket's peer as the client's address: Node gives it in canonical form already, except that a
 * dual-stack socket shows IPv4 clients as IPv4-mapped IPv6 (`::ffff:1.2.3.4`). Cheap on purpose: it
 * runs for every request's log line.
 */
function peerAddress(peer: string): string {
  if (peer.startsWith('::ffff:') && isIPv4(peer.slice(7))) return peer.slice(7);
  return peer;
}

/**
 * Contract §1: the socket's peer is the client, unless that peer is a trusted proxy; then the right-most
 * `X-Forwarded-For` entry that is not itself a trusted proxy. Anything a client could have written to the
 * left of that is ignored, and so is the header when an untrusted peer sent it.
 */
export function createClientAddressResolver(trusted: readonly string[]) {
  const ranges = trusted.flatMap((entry) => NAMED_RANGES[entry.toLowerCase()] ?? [entry]).map(parseRange);
  const isTrusted = (address: ipaddr.IPv4 | ipaddr.IPv6) =>
    ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));

  // Parsing costs microseconds a request, and a proxy forwards each client's same header again and again.
  const resolved = new Map<string, string>();

  function throughProxies(peer: string, forwardedFor: string): string {
    let client = ipaddr.process(peer);
    if (!isTrusted(client)) return client.toString();
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseHop(hops[i]);
      // A malformed entry ends the trusted chain: the last proxy that wrote a real address is the answer.
      if (!hop) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client.toString();
  }

  return function resolve(peer: string | undefined, forwardedFor: string | undefined): string {
    if (peer === undefined) return 'unknown';
    if (ranges.length === 0 || !forwardedFor || !isIP(peer)) return peerAddress(peer);
    const key = `${peer} ${forwardedFor}`;
    let client = resolved.get(key);
    if (client === undefined) {
      client = throughProxies(peer, forwardedFor);
      // A long chain is an odd one: answered, not remembered, so no header can fill the memory.
      if (key.length <= 256) {
        if (resolved.size >= RESOLVED_REMEMBERED) resolved.clear();
        resolved.set(key, client);
      }
    }
    return client;
  };
}

export type ClientAddressResolver = ReturnType<typeof createClientAddressResolver>;

/**
 * The key a client's throttle counts go under. An IPv6 client usually holds a whole /64 (one customer
 * line, one cloud machine), so per-address limits count the /64, or one attacker would have 2^64 tries.
 */
export function throttleKey(client: string): string {
  if (!isIP(client)) return client;
  const address = ipaddr.parse(client);
  if (address.kind() === 'ipv4') return client;
  return `${(address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}
