import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, resolveSecret } from '../../src/config.ts';

/** The error loadConfig throws for `env`, which must be one clear line. */
function failure(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('configuration (contract §7)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8000,
      publicUrl: 'http://localhost:8000',
      smtpUrl: undefined,
      mailFrom: 'Sidekick <no-reply@localhost>',
      accessTtl: 300,
      refreshTtl: 86_400,
      tokenTtl: 30 * 86_400,
      otpTtl: 600,
      resetTtl: 900,
      bcryptCost: 12,
      rotateRefreshTokens: false,
      secret: undefined,
    });
    expect(config.dbPath).toBe(path.join(config.dataDir, 'sidekick.db'));
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads durations with s, m, h and d units', () => {
    const config = loadConfig({ SIDEKICK_ACCESS_TTL: '90s', SIDEKICK_REFRESH_TTL: '2h', SIDEKICK_TOKEN_TTL: '7d', SIDEKICK_OTP_TTL: '5m' });
    expect([config.accessTtl, config.refreshTtl, config.tokenTtl, config.otpTtl]).toEqual([90, 7200, 7 * 86_400, 300]);
  });

  it('refuses SIDEKICK_PORT=abc naming the variable', () => {
    expect(failure({ SIDEKICK_PORT: 'abc' })).toMatch(/^SIDEKICK_PORT: .*abc/);
    expect(failure({ SIDEKICK_PORT: '70000' })).toMatch(/^SIDEKICK_PORT: /);
  });

  it('refuses a secret shorter than 32 characters naming the variable, without echoing it', () => {
    const message = failure({ SIDEKICK_SECRET: 'too-short-secret' });
    expect(message).toMatch(/^SIDEKICK_SECRET: .*32/);
    expect(message).not.toContain('too-short-secret');
  });

  it('refuses an unknown duration naming the variable', () => {
    expect(failure({ SIDEKICK_ACCESS_TTL: '5 minutes' })).toMatch(/^SIDEKICK_ACCESS_TTL: /);
    expect(failure({ SIDEKICK_RESET_TTL: '15x' })).toMatch(/^SIDEKICK_RESET_TTL: /);
    expect(failure({ SIDEKICK_OTP_TTL: '0m' })).toMatch(/^SIDEKICK_OTP_TTL: /);
  });

  it('refuses other bad values naming the variable', () => {
    expect(failure({ SIDEKICK_BCRYPT_COST: '3' })).toMatch(/^SIDEKICK_BCRYPT_COST: /);
    expect(failure({ SIDEKICK_ROTATE_REFRESH_TOKENS: 'maybe' })).toMatch(/^SIDEKICK_ROTATE_REFRESH_TOKENS: /);
    expect(failure({ SIDEKICK_PUBLIC_URL: 'ftp://example.com' })).toMatch(/^SIDEKICK_PUBLIC_URL: /);
    expect(failure({ SIDEKICK_SMTP_URL: 'not a url' })).toMatch(/^SIDEKICK_SMTP_URL: /);
  });

  it('names the app Sidekick unless SIDEKICK_APP_NAME says otherwise, trimmed', () => {
    expect(loadConfig({}).appName).toBe('Sidekick');
    // Empty is unset, as for every SIDEKICK_* variable.
    expect(loadConfig({ SIDEKICK_APP_NAME: '' }).appName).toBe('Sidekick');
    expect(loadConfig({ SIDEKICK_APP_NAME: '  BlindChat  ' }).appName).toBe('BlindChat');
    expect(loadConfig({ SIDEKICK_APP_NAME: 'Café <Héros> & Co' }).appName).toBe('Café <Héros> & Co');
    // Sixty characters, counted as a person counts them (an emoji is one).
    expect(loadConfig({ SIDEKICK_APP_NAME: `${'x'.repeat(59)}🦸` }).appName).toHaveLength(61);
  });

  it('refuses a blank, multi-line, control-character or over-long SIDEKICK_APP_NAME in one line', () => {
    expect(failure({ SIDEKICK_APP_NAME: '   ' })).toMatch(/^SIDEKICK_APP_NAME: must not be blank$/);
    for (const name of ['Acme\nBcc: victim@example.com', 'Acme\rX', 'Tab\there', 'Bell\u0007', 'Del\u007f', 'Line\u2028break']) {
      expect(failure({ SIDEKICK_APP_NAME: name }), JSON.stringify(name)).toMatch(/^SIDEKICK_APP_NAME: must not contain control characters/);
    }
    expect(failure({ SIDEKICK_APP_NAME: 'x'.repeat(61) })).toMatch(/^SIDEKICK_APP_NAME: must be at most 60 characters/);
  });

  it('reads SIDEKICK_RESET_URL as a template with {uid} and {token}, unset by default', () => {
    expect(loadConfig({}).resetUrl).toBeUndefined();
    for (const template of [
      'https://app.example.com/reset/{uid}/{token}',
      'http://localhost:5173/#/password/reset/confirm/{uid}/{token}',
      'https://app.example.com/reset?uid={uid}&token={token}',
    ]) {
      expect(loadConfig({ SIDEKICK_RESET_URL: template }).resetUrl).toBe(template);
    }
  });

  it('refuses a SIDEKICK_RESET_URL without both placeholders, or not an absolute http(s) URL, in one line', () => {
    expect(failure({ SIDEKICK_RESET_URL: 'https://app.example.com/reset/{token}' })).toMatch(/^SIDEKICK_RESET_URL: .* must contain \{uid\} \(/);
    expect(failure({ SIDEKICK_RESET_URL: 'https://app.example.com/reset/{uid}' })).toMatch(/^SIDEKICK_RESET_URL: .* must contain \{token\} \(/);
    expect(failure({ SIDEKICK_RESET_URL: 'https://app.example.com/reset' })).toMatch(/must contain \{uid\} and \{token\}/);
    expect(failure({ SIDEKICK_RESET_URL: '/reset/{uid}/{token}' })).toMatch(/^SIDEKICK_RESET_URL: .* is not an absolute URL/);
    expect(failure({ SIDEKICK_RESET_URL: 'javascript:alert(1)//{uid}{token}' })).toMatch(/^SIDEKICK_RESET_URL: .* must start with http:\/\/ or https:\/\//);
    expect(failure({ SIDEKICK_RESET_URL: 'myapp://reset/{uid}/{token}' })).toMatch(/^SIDEKICK_RESET_URL: .* must start with http:\/\/ or https:\/\//);
    expect(failure({ SIDEKICK_RESET_URL: 'https://app.example.com/reset/{uid}/{token}\nX: y' })).toMatch(/^SIDEKICK_RESET_URL: .* must not contain whitespace/);
  });

  it('lets flags win over the environment', () => {
    const config = loadConfig({ SIDEKICK_PORT: '9000', SIDEKICK_HOST: '0.0.0.0' }, { port: '9100', host: '::1' });
    expect(config.port).toBe(9100);
    expect(config.host).toBe('::1');
    expect(() => loadConfig({}, { port: 'abc' })).toThrow(/^--port: /);
  });

  it('generates a 64-hex-character secret into <data>/secret.key with mode 0600 and reuses it', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-config-'));
    dirs.push(dataDir);
    const first = resolveSecret(loadConfig({ SIDEKICK_DATA_DIR: dataDir }));
    expect(first.secret).toMatch(/^[0-9a-f]{64}$/);
    const file = path.join(dataDir, 'secret.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.secret);
    expect(resolveSecret(loadConfig({ SIDEKICK_DATA_DIR: dataDir })).secret).toBe(first.secret);
  });
});
