import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withoutPassword } from './db/port.ts';
import { InvalidProxyListError, parseTrustedProxies } from './services/client-address.ts';

export interface Config {
  readonly dataDir: string;
  readonly dbPath: string;
  /** `postgres://…`: PostgreSQL instead of the SQLite file at dbPath (contract §9). */
  readonly databaseUrl: string | undefined;
  readonly host: string;
  readonly port: number;
  /** Undefined until resolveSecret() has read or generated `<data>/secret.key`. */
  readonly secret: string | undefined;
  readonly publicUrl: string;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  /** The name people know the service by, in every mail and page (SIDEKICK_APP_NAME). */
  readonly appName: string;
  /** An app's own reset page, `{uid}` and `{token}` still to fill in; undefined: Sidekick's own page. */
  readonly resetUrl: string | undefined;
  /** Durations are whole seconds. */
  readonly accessTtl: number;
  readonly refreshTtl: number;
  readonly tokenTtl: number;
  readonly otpTtl: number;
  readonly resetTtl: number;
  readonly bcryptCost: number;
  readonly rotateRefreshTokens: boolean;
  readonly logLevel: string;
  /** How long a stopping server lets in-flight requests finish. */
  readonly drainTimeout: number;
  /** Password hashes allowed to wait for a bcrypt slot; past it logins get 503. Undefined: the hasher's default. */
  readonly hashQueue: number | undefined;
  /** Peers whose `X-Forwarded-For` names the client (addresses, CIDR ranges, `loopback`, `private`); empty: the peer is the client. */
  readonly trustedProxies: readonly string[];
  /** Origins whose pages may call the API (exact origins, or `*`); empty: no CORS headers at all. */
  readonly corsOrigins: readonly string[];
  /** Largest uploaded file, in bytes. */
  readonly uploadMax: number;
  /** Youngest age allowed to register or to hold an account's date of birth; undefined: no rule. */
  readonly minAge: number | undefined;
}

export type ResolvedConfig = Config & { readonly secret: string };

export type Env = Readonly<Record<string, string | undefined>>;

/** Flag values from `serve` and other commands; they win over the environment. */
export interface ConfigOverrides {
  host?: string;
  port?: number | string;
  db?: string;
  dataDir?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const MIN_SECRET_LENGTH = 32;

export function parseDuration(name: string, raw: string): number {
  const match = /^\s*(\d+)\s*([smhd]?)\s*$/.exec(raw);
  if (!match) {
    throw new ConfigError(`${name}: "${raw}" is not a duration (use a whole number with s, m, h or d, e.g. 5m)`);
  }
  const seconds = Number(match[1]) * DURATION_UNITS[match[2] || 's'];
  if (seconds <= 0 || !Number.isSafeInteger(seconds)) {
    throw new ConfigError(`${name}: "${raw}" must be a positive duration`);
  }
  return seconds;
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  if (!/^\s*\d+\s*$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name}: "${raw}" must be a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

function parseBoolean(name: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false;
  throw new ConfigError(`${name}: "${raw}" must be true or false`);
}

function parseUrl(name: string, raw: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // SMTP URLs carry the relay's password: never echo what sits before the host.
    throw new ConfigError(`${name}: "${raw.replace(/\/\/[^/]*@/, '//***@')}" is not a URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(`${name}: must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw.replace(/\/+$/, '');
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };

/** `5MB`, `512KB`, `1048576`: binary units, as the upload limit's default (5 MiB) is meant. */
export function parseSize(name: string, raw: string): number {
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = match && SIZE_UNITS[match[2].toLowerCase()];
  const bytes = match && unit ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new ConfigError(`${name}: "${raw}" is not a size (use a whole number with KB, MB or GB, e.g. 5MB)`);
  }
  return bytes;
}

/** Comma-separated exact origins (`https://admin.example.com`), or `*` alone. */
function parseOrigins(name: string, raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const origins = raw.split(',').map((origin) => origin.trim()).filter(Boolean);
  if (origins.includes('*')) {
    if (origins.length > 1) throw new ConfigError(`${name}: "*" allows every origin and cannot be combined with others`);
    return origins;
  }
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(`${name}: "${origin}" is not an origin (scheme://host[:port], no path), e.g. https://admin.example.com`);
    }
  }
  // A browser sends the origin without a trailing slash.
  return origins.map((origin) => origin.replace(/\/$/, ''));
}

function parseProxies(name: string, raw: string | undefined): string[] {
  try {
    return parseTrustedProxies(raw);
  } catch (error) {
    if (error instanceof InvalidProxyListError) throw new ConfigError(`${name}: ${error.message}`);
    throw error;
  }
}

/** Where the data lives, as it may be shown: the SQLite file, or the PostgreSQL URL without its password. */
export function databaseLocation(config: Pick<Config, 'dbPath' | 'databaseUrl'>): string {
  return config.databaseUrl === undefined ? config.dbPath : withoutPassword(config.databaseUrl);
}

/** A `postgres://` URL; shown, when wrong, without what sits before the host (its password). */
function parseDatabaseUrl(raw: string): string {
  const shown = raw.replace(/\/\/[^/]*@/, '//***@');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`SIDEKICK_DATABASE_URL: "${shown}" is not a URL`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`SIDEKICK_DATABASE_URL: "${shown}" must start with postgres:// (unset it to use SQLite at SIDEKICK_DB)`);
  }
  return raw;
}

export const MAX_APP_NAME_LENGTH = 60;

/**
 * The name shown in subjects and headings. Control characters are refused rather than stripped: a
 * newline in a subject is a header-injection attempt or a typo, never what the operator meant.
 */
function parseAppName(name: string, raw: string): string {
  const value = raw.trim();
  if (value === '') throw new ConfigError(`${name}: must not be blank`);
  if (/[\p{Cc}\u2028\u2029]/u.test(value)) throw new ConfigError(`${name}: must not contain control characters (newlines, tabs, …)`);
  if ([...value].length > MAX_APP_NAME_LENGTH) {
    throw new ConfigError(`${name}: must be at most ${MAX_APP_NAME_LENGTH} characters (it heads every mail subject)`);
  }
  return value;
}

/**
 * An app's own reset page (djoser's PASSWORD_RESET_CONFIRM_URL), e.g.
 * `https://app.example.com/reset/{uid}/{token}`. Checked with the placeholders filled in, since a
 * template is a URL only once they are; the values put there are URL-safe, so nothing is encoded.
 */
function parseResetUrl(name: string, raw: string): string {
  const example = 'e.g. https://app.example.com/reset/{uid}/{token}';
  // Quoted as JSON: a stray newline in the value must not break the one-line error.
  const shown = JSON.stringify(raw);
  if (/\s/.test(raw.trim())) throw new ConfigError(`${name}: ${shown} must not contain whitespace (${example})`);
  const missing = ['{uid}', '{token}'].filter((placeholder) => !raw.includes(placeholder));
  if (missing.length > 0) throw new ConfigError(`${name}: ${shown} must contain ${missing.join(' and ')} (${example})`);
  let url: URL;
  try {
    url = new URL(raw.replaceAll('{uid}', 'MQ').replaceAll('{token}', 'token'));
  } catch {
    throw new ConfigError(`${name}: ${shown} is not an absolute URL (${example})`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.hostname === '') {
    throw new ConfigError(`${name}: ${shown} must start with http:// or https:// (${example})`);
  }
  return raw.trim();
}

function checkSecret(name: string, secret: string): string {
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`${name}: the secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  return secret;
}

/** A pure function of the environment and flags: reads no file, writes nothing. */
export function loadConfig(env: Env, overrides: ConfigOverrides = {}): Config {
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const duration = (name: string, fallback: string) => parseDuration(name, read(name) ?? fallback);

  const dataDir = path.resolve(overrides.dataDir ?? read('SIDEKICK_DATA_DIR') ?? './data');
  const dbPath = overrides.db ?? read('SIDEKICK_DB') ?? path.join(dataDir, 'sidekick.db');
  const portRaw = overrides.port !== undefined ? String(overrides.port) : read('SIDEKICK_PORT') ?? '8000';
  const port = parseInteger(overrides.port !== undefined ? '--port' : 'SIDEKICK_PORT', portRaw, 0, 65535);
  const secret = read('SIDEKICK_SECRET');
  const logLevel = (read('SIDEKICK_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`SIDEKICK_LOG_LEVEL: "${logLevel}" must be one of ${LOG_LEVELS.join(', ')}`);
  }

  return Object.freeze({
    dataDir,
    dbPath: dbPath === ':memory:' ? dbPath : path.resolve(dbPath),
    databaseUrl: read('SIDEKICK_DATABASE_URL') && parseDatabaseUrl(read('SIDEKICK_DATABASE_URL')!),
    host: overrides.host ?? read('SIDEKICK_HOST') ?? '127.0.0.1',
    port,
    secret: secret === undefined ? undefined : checkSecret('SIDEKICK_SECRET', secret),
    publicUrl: parseUrl('SIDEKICK_PUBLIC_URL', read('SIDEKICK_PUBLIC_URL') ?? `http://localhost:${port}`, ['http:', 'https:']),
    smtpUrl: read('SIDEKICK_SMTP_URL') && parseUrl('SIDEKICK_SMTP_URL', read('SIDEKICK_SMTP_URL')!, ['smtp:', 'smtps:']),
    mailFrom: read('SIDEKICK_MAIL_FROM') ?? 'Sidekick <no-reply@localhost>',
    appName: parseAppName('SIDEKICK_APP_NAME', read('SIDEKICK_APP_NAME') ?? 'Sidekick'),
    resetUrl: read('SIDEKICK_RESET_URL') && parseResetUrl('SIDEKICK_RESET_URL', read('SIDEKICK_RESET_URL')!),
    accessTtl: duration('SIDEKICK_ACCESS_TTL', '5m'),
    refreshTtl: duration('SIDEKICK_REFRESH_TTL', '1d'),
    tokenTtl: duration('SIDEKICK_TOKEN_TTL', '30d'),
    otpTtl: duration('SIDEKICK_OTP_TTL', '10m'),
    resetTtl: duration('SIDEKICK_RESET_TTL', '15m'),
    bcryptCost: parseInteger('SIDEKICK_BCRYPT_COST', read('SIDEKICK_BCRYPT_COST') ?? '12', 4, 31),
    rotateRefreshTokens: parseBoolean('SIDEKICK_ROTATE_REFRESH_TOKENS', read('SIDEKICK_ROTATE_REFRESH_TOKENS') ?? 'false'),
    logLevel,
    drainTimeout: duration('SIDEKICK_DRAIN_TIMEOUT', '10s'),
    hashQueue: read('SIDEKICK_HASH_QUEUE') === undefined ? undefined : parseInteger('SIDEKICK_HASH_QUEUE', read('SIDEKICK_HASH_QUEUE')!, 0, 100_000),
    trustedProxies: Object.freeze(parseProxies('SIDEKICK_TRUSTED_PROXIES', read('SIDEKICK_TRUSTED_PROXIES'))),
    corsOrigins: Object.freeze(parseOrigins('SIDEKICK_CORS_ORIGINS', read('SIDEKICK_CORS_ORIGINS'))),
    uploadMax: parseSize('SIDEKICK_UPLOAD_MAX', read('SIDEKICK_UPLOAD_MAX') ?? '5MB'),
    minAge: read('SIDEKICK_MIN_AGE') === undefined ? undefined : parseInteger('SIDEKICK_MIN_AGE', read('SIDEKICK_MIN_AGE')!, 1, 150),
  });
}

/**
 * Gives the config its secret: the environment's if set, else `<data>/secret.key`, generated on first
 * start with mode 0600 so only the server's own user can read it.
 */
export function resolveSecret(config: Config): ResolvedConfig {
  if (config.secret !== undefined) return config as ResolvedConfig;
  // Every node signs and checks the others' tokens, codes and links: one node's own key file would make
  // every other node refuse what it issued.
  if (config.databaseUrl !== undefined) {
    throw new ConfigError('SIDEKICK_SECRET: must be set when SIDEKICK_DATABASE_URL is (every node shares one secret)');
  }
  const file = path.join(config.dataDir, 'secret.key');
  mkdirSync(config.dataDir, { recursive: true });
  if (!existsSync(file)) {
    try {
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Another process starting at the same moment wrote it first; read theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    chmodSync(file, 0o600);
  }
  const secret = readFileSync(file, 'utf8').trim();
  return Object.freeze({ ...config, secret: checkSecret(file, secret) });
}
