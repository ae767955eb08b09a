import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import { createSidekick, type Sidekick } from '../../src/sidekick.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call, HEALTHY } from '../helpers/http.ts';
import { LogCapture, TEST_SECRET, testConfig } from '../helpers/sidekick.ts';
import { ensureBuilt } from '../cli/helpers/build.ts';
import { holdToDocument } from '../helpers/openapi.ts';
import { ManualClock } from '../helpers/clock.ts';
import { FULL_PROBE_INTERVAL_MS } from '../../src/services/health.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const UNAVAILABLE = { detail: 'The database cannot be read or written.', code: 'unavailable' };

/** Contract §1: /healthz is 200 only while the database can be read and written. */
describe('health that tells the truth', () => {
  const cleanups: (() => void)[] = [];
  let sidekick: Sidekick | undefined;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await sidekick?.close();
    sidekick = undefined;
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  let clock: ManualClock;
  async function open(dataDir: string) {
    clock = new ManualClock();
    sidekick = await createSidekick(testConfig(dataDir), { clock, logger: createLogger('silent', new LogCapture()) });
    return holdToDocument(createHttpApp(sidekick));
  }

  function tempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** When the last full probe succeeded, as recorded in the database (read by a connection of its own). */
  function lastProbe(dataDir: string): number {
    const raw = new Database(path.join(dataDir, 'sidekick.db'), { readonly: true });
    try {
      return (raw.prepare('SELECT checked_at FROM health_probe WHERE id = 1').get() as { checked_at: number }).checked_at;
    } finally {
      raw.close();
    }
  }

  it('probes in full (users read, a committed write) at most once a probe interval, and reads the database on every call', async () => {
    const dataDir = tempDir('sidekick-probe-');
    const app = await open(dataDir);
    const started = clock.now();
    expect(await call(app, 'GET', '/healthz')).toMatchObject({ status: 200, body: HEALTHY });
    expect(lastProbe(dataDir)).toBe(started);

    // A flood within the interval commits nothing more.
    clock.advance(FULL_PROBE_INTERVAL_MS - 1);
    for (let i = 0; i < 50; i++) expect((await call(app, 'GET', '/healthz')).status).toBe(200);
    expect(lastProbe(dataDir)).toBe(started);

    // The next call after it probes in full again.
    clock.advance(1);
    expect((await call(app, 'GET', '/healthz')).status).toBe(200);
    expect(lastProbe(dataDir)).toBe(started + FULL_PROBE_INTERVAL_MS);

    // A clock behind the recorded time (another node's) probes rather than trusting the record.
    clock.advance(-10_000);
    expect((await call(app, 'GET', '/healthz')).status).toBe(200);
    expect(lastProbe(dataDir)).toBe(started + FULL_PROBE_INTERVAL_MS - 10_000);

    // Within the interval a call still reads: a database that cannot be read answers 503 at once.
    await sidekick!.db.close();
    expect(await call(app, 'GET', '/healthz')).toMatchObject({ status: 503, body: UNAVAILABLE });
  });

  it('answers 503 while the disk is full, and 200 again once there is room', async () => {
    const mount = mkdtempSync(path.join(tmpdir(), 'sidekick-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
    cleanups.push(() => rmSync(mount, { recursive: true, force: true }));
    cleanups.push(() => execFileSync('umount', [mount]));
    const app = await open(mount);
    expect((await call(app, 'GET', '/healthz')).status).toBe(200);
    await sidekick!.services.accounts.createUser({ email: 'ada@example.com', password: STRONG_PASSWORD });

    const filler = path.join(mount, 'filler');
    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(64 * 1024, 1));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      closeSync(fd);
    }
    // The first call after the probe interval probes in full; a failed probe vouches for nothing, so
    // every call after it probes again.
    clock.advance(FULL_PROBE_INTERVAL_MS);
    for (let i = 0; i < 3; i++) {
      const full = await call(app, 'GET', '/healthz');
      expect(full.status).toBe(503);
      expect(full.body).toEqual(UNAVAILABLE);
    }

    rmSync(filler);
    expect((await call(app, 'GET', '/healthz')).body).toEqual(HEALTHY);
  });

  /** A data folder with 50 users whose `object` b-tree root page is overwritten, as a bad sector would. */
  async function corrupted(object: string): Promise<string> {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-corrupt-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    await open(dataDir);
    for (let i = 0; i < 50; i++) await sidekick!.services.accounts.createUser({ email: `user${i}@example.com`, password: STRONG_PASSWORD });
    await sidekick!.close();
    sidekick = undefined;
    const file = path.join(dataDir, 'sidekick.db');
    const raw = new Database(file);
    raw.pragma('wal_checkpoint(TRUNCATE)');
    const { rootpage } = raw.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').get(object) as { rootpage: number };
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    raw.close();
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (rootpage - 1) * pageSize);
    closeSync(fd);
    return dataDir;
  }

  function serve(dataDir: string) {
    const env = { ...process.env, SIDEKICK_DATA_DIR: dataDir, SIDEKICK_SECRET: TEST_SECRET, SIDEKICK_PORT: '0' };
    const served = spawnSync(process.execPath, [RUN, 'serve'], { env, encoding: 'utf8', timeout: 20_000 });
    return { code: served.status, stdout: served.stdout, lines: served.stderr.trim().split('\n') };
  }

  it('answers 503 over a corrupt users table', async () => {
    const app = await open(await corrupted('users'));
    const health = await call(app, 'GET', '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toEqual(UNAVAILABLE);
  });

  it('refuses to serve a file that fails its integrity check, with one line', async () => {
    // An index page: the server could open the file and would answer 500 on the first login by email.
    const served = serve(await corrupted('sqlite_autoindex_users_1'));
    expect(served.code, served.lines.join('\n')).toBe(66);
    expect(served.stdout).toBe('');
    expect(served.lines).toHaveLength(1);
    expect(served.lines[0]).toMatch(/^Error: the database .*sidekick\.db failed its integrity check \(.+\): restore it from a backup$/);
  });

  it('refuses a file that is not a database at all, with one line', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-notadb-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    writeFileSync(path.join(dataDir, 'sidekick.db'), 'these are not the bytes you are looking for'.repeat(200));
    const served = serve(dataDir);
    expect(served.code).toBe(66);
    expect(served.lines).toEqual([expect.stringMatching(/^Error: the database file is not a healthy SQLite database \(SQLITE_NOTADB\): restore it from a backup$/)]);
  });
});
