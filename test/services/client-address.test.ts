import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createClientAddressResolver, throttleKey } from '../../src/services/client-address.ts';

describe('SIDEKICK_TRUSTED_PROXIES', () => {
  it('takes addresses, CIDR ranges and the names loopback and private', () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(loadConfig({ SIDEKICK_TRUSTED_PROXIES: ' 10.0.0.0/8, ::1 ,loopback,private,192.0.2.7' }).trustedProxies).toEqual([
      '10.0.0.0/8',
      '::1',
      'loopback',
      'private',
      '192.0.2.7',
    ]);
  });

  it('refuses anything else with one line naming the variable and the entry', () => {
    for (const bad of ['10.0.0.0/33', 'localhost', '10.0.0', '::1/129', '1.2.3.4/8/1', '10.0.0.0/x']) {
      expect(() => loadConfig({ SIDEKICK_TRUSTED_PROXIES: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ SIDEKICK_TRUSTED_PROXIES: bad })).toThrow(`SIDEKICK_TRUSTED_PROXIES: "${bad}" is not an address or CIDR range`);
    }
  });
});

describe('the client address (contract §1)', () => {
  const resolve = createClientAddressResolver(['10.0.0.0/8', 'loopback']);

  it('is the peer when no proxy is trusted, whatever the header says', () => {
    expect(createClientAddressResolver([])('192.0.2.1', '198.51.100.1')).toBe('192.0.2.1');
  });

  it('is the peer when the peer is not a trusted proxy', () => {
    expect(resolve('192.0.2.1', '198.51.100.1')).toBe('192.0.2.1');
  });

  it('is the right-most forwarded entry that is not itself a trusted proxy', () => {
    expect(resolve('127.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    // What the client wrote sits to the left of what the proxies appended: it never wins.
    expect(resolve('127.0.0.1', '203.0.113.9, 198.51.100.1, 10.1.2.3')).toBe('198.51.100.1');
    expect(resolve('10.0.0.5', '198.51.100.1:4711')).toBe('198.51.100.1');
    expect(resolve('::1', '[2001:db8::1]:443')).toBe('2001:db8::1');
  });

  it('reads IPv4-mapped IPv6 as the IPv4 address it carries', () => {
    expect(resolve('::ffff:127.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    expect(createClientAddressResolver([])('::ffff:192.0.2.1', undefined)).toBe('192.0.2.1');
  });

  it('stops at a malformed entry: the proxy that wrote the last real address is the client', () => {
    expect(resolve('127.0.0.1', 'not-an-address, 10.9.9.9')).toBe('10.9.9.9');
    expect(resolve('127.0.0.1', '')).toBe('127.0.0.1');
  });

  it('counts an IPv6 client by its /64 and an IPv4 client by its address', () => {
    expect(throttleKey('2001:db8:1:2:aaaa::1')).toBe(throttleKey('2001:db8:1:2:ffff::9'));
    expect(throttleKey('2001:db8:1:3::1')).not.toBe(throttleKey('2001:db8:1:2::1'));
    expect(throttleKey('192.0.2.1')).toBe('192.0.2.1');
    expect(throttleKey('unknown')).toBe('unknown');
  });
});
