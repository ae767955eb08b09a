import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createHashPool, type HashPool } from '../../src/services/hash-pool.ts';
import { hashFormat } from '../../src/services/password-formats.ts';
import { manifest, sqliteSource } from '../helpers/django.ts';

/** Niceness of every thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNiceness(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('hash pool', () => {
  let pool: HashPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('hashes and verifies on its own threads, and refuses a wrong password', async () => {
    pool = createHashPool({ size: 2 });
    const hash = await pool.hash('correct horse battery', 4);
    expect(hash).toMatch(/^\$2b\$04\$/);
    expect(await Promise.all([pool.verify('correct horse battery', hash), pool.verify('wrong horse', hash)])).toEqual([true, false]);
  });

  it.skipIf(process.platform !== 'linux')('runs bcrypt below the event loop priority, leaving the main thread at its own', async () => {
    const before = threadNiceness();
    pool = createHashPool({ size: 1, nice: 10 });
    await pool.hash('correct horse battery', 4);
    const after = threadNiceness();
    expect(after.filter((nice) => nice === 10).length).toBe(before.filter((nice) => nice === 10).length + 1);
    expect(Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[16])).toBe(before[0]);
  });

  it('rejects a password over 72 bytes instead of truncating it', async () => {
    pool = createHashPool({ size: 1 });
    await expect(pool.hash('x'.repeat(73), 4)).rejects.toThrow();
  });

  it('refuses work after close', async () => {
    pool = createHashPool({ size: 1 });
    await pool.hash('correct horse battery', 4);
    await pool.close();
    await expect(pool.verify('a', 'b')).rejects.toThrow(/closed/);
  });

  it('fails the jobs still running when it closes, instead of leaving them pending forever', async () => {
    pool = createHashPool({ size: 2 });
    // Cost 16 takes seconds: both jobs are surely in flight when close() terminates their threads.
    const jobs = [pool.hash('correct horse battery', 16), pool.verify('x', '$2b$16$' + 'a'.repeat(53))];
    const outcomes = Promise.allSettled(jobs);
    await pool.close();
    const settled = await Promise.race([outcomes, new Promise<'pending'>((resolve) => setTimeout(resolve, 2000, 'pending'))]);
    expect(settled).not.toBe('pending');
    expect((settled as PromiseSettledResult<unknown>[]).map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(String((settled as PromiseRejectedResult[])[0].reason)).toMatch(/hash pool closed/);
    pool = undefined;
  });
});

describe("the hash pool's checks of Django's formats", () => {
  let pool: HashPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  // Hashes real Django wrote (test/fixtures/django/make_fixtures.py), and the passwords they were made from.
  const stored = new Database(sqliteSource('accounts'), { readonly: true });
  const hashes = new Map(
    (stored.prepare('SELECT id, password FROM users_user').all() as { id: number; password: string }[]).map((row) => [row.id, row.password]),
  );
  stored.close();

  for (const user of manifest.accounts.users.filter((u) => u.password !== null)) {
    it(`verifies ${user.format}${user.iterations ? ` (${user.iterations} iterations)` : ''} and refuses a wrong password`, async () => {
      pool = createHashPool({ size: 2 });
      const hash = hashes.get(user.id)!;
      expect(hashFormat(hash)).toBe(user.format);
      expect(await Promise.all([pool.verify(user.password!, hash), pool.verify(`${user.password}!`, hash)])).toEqual([true, false]);
    });
  }

  it('recognises no hash it cannot check within bounds', () => {
    const salt = 'abcdefghijklmnopqrstuv';
    expect(hashFormat(`pbkdf2_sha256$870000$${salt}$${'A'.repeat(43)}=`)).toBe('pbkdf2_sha256');
    expect(hashFormat(`pbkdf2_sha256$999999999$${salt}$${'A'.repeat(43)}=`)).toBeUndefined();
    expect(hashFormat(`scrypt$16385$${salt}$8$1$${'A'.repeat(86)}==`)).toBeUndefined();
    expect(hashFormat('argon2$argon2id$v=19$m=99999999,t=2,p=8$c2FsdA$aGFzaA')).toBeUndefined();
    expect(hashFormat('md5$salt$0123456789abcdef0123456789abcdef')).toBeUndefined();
    expect(hashFormat('!Xk3j9vQ2LmN8pR7sT4uV6wY1zA5bC0dE2fG3hI4')).toBe('unusable');
    expect(hashFormat('')).toBeUndefined();
  });
});
