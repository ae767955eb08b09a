/**
 * The password hash formats Sidekick can verify: its own bcrypt, and the ones Django writes (see
 * ../shared/originals.md), kept as Django wrote them until the user's next successful login rehashes
 * them to bcrypt.
 *
 * Only well-formed hashes with bounded work parameters are recognised: a hash is read from an imported
 * database, and a forged iteration count or memory size would otherwise stall a hashing thread.
 */
export type LegacyFormat = 'pbkdf2_sha256' | 'pbkdf2_sha1' | 'argon2' | 'bcrypt_sha256' | 'bcrypt' | 'scrypt';
export type HashFormat = 'sidekick_bcrypt' | LegacyFormat | 'unusable';

const B64 = '[A-Za-z0-9+/]+={0,2}';
const BCRYPT = String.raw`\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}`;

/** Work parameters beyond these are refused (a check would take minutes or gigabytes). */
const LIMITS = { pbkdf2Iterations: 20_000_000, argon2MemoryKib: 1_048_576, argon2Time: 64, argon2Lanes: 64, scryptN: 2 ** 20, scryptR: 32, scryptP: 16 };

const PATTERNS: { format: Exclude<HashFormat, 'unusable'>; pattern: RegExp; bounded: (match: RegExpExecArray) => boolean }[] = [
  { format: 'sidekick_bcrypt', pattern: new RegExp(`^${BCRYPT}$`), bounded: (m) => Number(m[1]) >= 4 && Number(m[1]) <= 31 },
  {
    format: 'pbkdf2_sha256',
    pattern: new RegExp(`^pbkdf2_sha256\\$(\\d{1,9})\\$[^$]+\\$${B64}$`),
    bounded: (m) => Number(m[1]) >= 1 && Number(m[1]) <= LIMITS.pbkdf2Iterations,
  },
  {
    format: 'pbkdf2_sha1',
    pattern: new RegExp(`^pbkdf2_sha1\\$(\\d{1,9})\\$[^$]+\\$${B64}$`),
    bounded: (m) => Number(m[1]) >= 1 && Number(m[1]) <= LIMITS.pbkdf2Iterations,
  },
  {
    format: 'argon2',
    pattern: /^argon2\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=(\d{1,8}),t=(\d{1,3}),p=(\d{1,3})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/,
    bounded: (m) => Number(m[1]) <= LIMITS.argon2MemoryKib && Number(m[2]) <= LIMITS.argon2Time && Number(m[3]) <= LIMITS.argon2Lanes,
  },
  { format: 'bcrypt_sha256', pattern: new RegExp(`^bcrypt_sha256\\$${BCRYPT}$`), bounded: (m) => Number(m[1]) >= 4 && Number(m[1]) <= 31 },
  { format: 'bcrypt', pattern: new RegExp(`^bcrypt\\$${BCRYPT}$`), bounded: (m) => Number(m[1]) >= 4 && Number(m[1]) <= 31 },
  {
    format: 'scrypt',
    pattern: new RegExp(`^scrypt\\$(\\d{1,8})\\$[^$]+\\$(\\d{1,3})\\$(\\d{1,3})\\$${B64}$`),
    bounded: (m) => {
      const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
      return n >= 2 && (n & (n - 1)) === 0 && n <= LIMITS.scryptN && r >= 1 && r <= LIMITS.scryptR && p >= 1 && p <= LIMITS.scryptP;
    },
  },
];

/** The hash's format, or undefined when Sidekick cannot verify it (unknown, malformed or unbounded). */
export function hashFormat(passwordHash: string): HashFormat | undefined {
  // Django's unusable password: `!` and random characters; nobody can log in with it.
  if (passwordHash.startsWith('!')) return 'unusable';
  for (const { format, pattern, bounded } of PATTERNS) {
    const match = pattern.exec(passwordHash);
    if (match) return bounded(match) ? format : undefined;
  }
  return undefined;
}

/** A hash another system wrote, verified natively until the first login replaces it. */
export const isLegacyFormat = (format: HashFormat | undefined): format is LegacyFormat =>
  format !== undefined && format !== 'sidekick_bcrypt' && format !== 'unusable';

/**
 * Formats whose check truncates the password at 72 bytes (bcrypt itself): a longer password would match
 * its own first 72 bytes plus anything, so it is refused, as Sidekick refuses to store one.
 */
export const truncatesAt72Bytes = (format: HashFormat) => format === 'sidekick_bcrypt' || format === 'bcrypt';
