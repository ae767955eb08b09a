import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createBcryptPool, type BcryptPool } from '../../src/services/bcrypt-pool.ts';

/** Niceness of every thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threadNiceness(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('bcrypt pool', () => {
  let pool: BcryptPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('hashes and verifies on its own threads, and refuses a wrong password', async () => {
    pool = createBcryptPool({ size: 2 });
    const hash = await pool.hash('correct horse battery', 4);
    expect(hash).toMatch(/^\$2b\$04\$/);
    expect(await Promise.all([pool.verify('correct horse battery', hash), pool.verify('wrong horse', hash)])).toEqual([true, false]);
  });

  it.skipIf(process.platform !== 'linux')('runs bcrypt below the event loop priority, leaving the main thread at its own', async () => {
    const before = threadNiceness();
    pool = createBcryptPool({ size: 1, nice: 10 });
    await pool.hash('correct horse battery', 4);
    const after = threadNiceness();
    expect(after.filter((nice) => nice === 10).length).toBe(before.filter((nice) => nice === 10).length + 1);
    expect(Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[16])).toBe(before[0]);
  });

  it('rejects a password over 72 bytes instead of truncating it', async () => {
    pool = createBcryptPool({ size: 1 });
    await expect(pool.hash('x'.repeat(73), 4)).rejects.toThrow();
  });

  it('refuses work after close', async () => {
    pool = createBcryptPool({ size: 1 });
    await pool.hash('correct horse battery', 4);
    await pool.close();
    await expect(pool.verify('a', 'b')).rejects.toThrow(/closed/);
  });

  it('fails the jobs still running when it closes, instead of leaving them pending forever', async () => {
    pool = createBcryptPool({ size: 2 });
    // Cost 16 takes seconds: both jobs are surely in flight when close() terminates their threads.
    const jobs = [pool.hash('correct horse battery', 16), pool.verify('x', '$2b$16$' + 'a'.repeat(53))];
    const outcomes = Promise.allSettled(jobs);
    await pool.close();
    const settled = await Promise.race([outcomes, new Promise<'pending'>((resolve) => setTimeout(resolve, 2000, 'pending'))]);
    expect(settled).not.toBe('pending');
    expect((settled as PromiseSettledResult<unknown>[]).map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(String((settled as PromiseRejectedResult[])[0].reason)).toMatch(/bcrypt pool closed/);
    pool = undefined;
  });
});
