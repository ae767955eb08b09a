import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

function failure(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('configuration for the originals’ clients (contract §7)', () => {
  it('builds the public URL from the port when SIDEKICK_PUBLIC_URL is unset', () => {
    expect(loadConfig({}).publicUrl).toBe('http://localhost:8000');
    expect(loadConfig({ SIDEKICK_PORT: '9123' }).publicUrl).toBe('http://localhost:9123');
    expect(loadConfig({ SIDEKICK_PORT: '9123' }, { port: '7001' }).publicUrl).toBe('http://localhost:7001');
    expect(loadConfig({ SIDEKICK_PORT: '9123', SIDEKICK_PUBLIC_URL: 'https://id.example.com/' }).publicUrl).toBe('https://id.example.com');
  });

  it('reads SIDEKICK_CORS_ORIGINS as exact origins, or * alone', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ SIDEKICK_CORS_ORIGINS: ' https://admin.example.com , http://localhost:5173/ ' }).corsOrigins).toEqual([
      'https://admin.example.com',
      'http://localhost:5173',
    ]);
    expect(loadConfig({ SIDEKICK_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    expect(failure({ SIDEKICK_CORS_ORIGINS: 'https://admin.example.com/app' })).toMatch(/^SIDEKICK_CORS_ORIGINS: .*not an origin/);
    expect(failure({ SIDEKICK_CORS_ORIGINS: 'admin.example.com' })).toMatch(/^SIDEKICK_CORS_ORIGINS: /);
    expect(failure({ SIDEKICK_CORS_ORIGINS: 'ftp://files.example.com' })).toMatch(/^SIDEKICK_CORS_ORIGINS: /);
    expect(failure({ SIDEKICK_CORS_ORIGINS: '*, https://admin.example.com' })).toMatch(/cannot be combined/);
  });

  it('reads SIDEKICK_UPLOAD_MAX as a size, 5 MiB by default', () => {
    expect(loadConfig({}).uploadMax).toBe(5 * 1024 * 1024);
    expect(loadConfig({ SIDEKICK_UPLOAD_MAX: '512KB' }).uploadMax).toBe(512 * 1024);
    expect(loadConfig({ SIDEKICK_UPLOAD_MAX: '2mb' }).uploadMax).toBe(2 * 1024 * 1024);
    expect(loadConfig({ SIDEKICK_UPLOAD_MAX: '1048576' }).uploadMax).toBe(1048576);
    for (const bad of ['five', '0', '5 parsecs', '-1MB', '1.5MB']) {
      expect(failure({ SIDEKICK_UPLOAD_MAX: bad })).toMatch(/^SIDEKICK_UPLOAD_MAX: .* is not a size/);
    }
  });

  it('reads SIDEKICK_MIN_AGE as whole years; unset means no rule', () => {
    expect(loadConfig({}).minAge).toBeUndefined();
    expect(loadConfig({ SIDEKICK_MIN_AGE: '18' }).minAge).toBe(18);
    expect(failure({ SIDEKICK_MIN_AGE: 'eighteen' })).toMatch(/^SIDEKICK_MIN_AGE: /);
    expect(failure({ SIDEKICK_MIN_AGE: '0' })).toMatch(/^SIDEKICK_MIN_AGE: /);
  });
});
