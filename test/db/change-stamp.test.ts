import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChangeStamp } from '../../src/db/change-stamp.ts';
import { sql } from '../../src/db/port.ts';
import { openSqlite, type SqliteDatabase } from '../../src/db/sqlite.ts';

describe('database change stamp', () => {
  let dir: string;
  let file: string;
  const opened: SqliteDatabase[] = [];
  const open = (at = file) => {
    const db = openSqlite(at);
    opened.push(db);
    return db;
  };
  const write = (db: SqliteDatabase, name: string) => db.run(sql('INSERT INTO things (name) VALUES (?)'), [name]);

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sidekick-stamp-'));
    file = path.join(dir, 'stamp.db');
    await open().exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)');
  });
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the wal-index of a database file, and holds still while nothing is committed', async () => {
    const db = open();
    expect(db.changeStampSource).toBe('wal-index');
    const before = db.changeStamp();
    await db.all(sql('SELECT * FROM things'));
    await db.transaction((tx) => tx.get(sql('SELECT count(*) FROM things')));
    expect(db.changeStamp()).toBe(before);
  });

  it('moves with every commit: its own, another connection’s, across a WAL reset', async () => {
    const db = open();
    const other = open();
    const seen = new Set([db.changeStamp()]);
    const expectMoved = () => {
      const stamp = db.changeStamp();
      expect(seen.has(stamp)).toBe(false);
      seen.add(stamp);
    };
    for (let i = 0; i < 20; i++) {
      await write(i % 2 ? db : other, `thing ${i}`);
      expectMoved();
    }
    // A truncating checkpoint resets the WAL: the next commit starts again at frame 1.
    await other.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.changeStamp();
    await write(other, 'after the reset');
    expectMoved();
  });

  it('moves for every read inside an open transaction, where its own writes are not yet committed', async () => {
    const db = open();
    await db.exec('BEGIN IMMEDIATE');
    const before = db.changeStamp();
    await write(db, 'not yet committed');
    expect(db.changeStamp()).not.toBe(before);
    await db.exec('ROLLBACK');
  });

  it('sees a commit made by another process', () => {
    const db = open();
    const before = db.changeStamp();
    const child = spawnSync(
      process.execPath,
      ['-e', `new (require('better-sqlite3'))(${JSON.stringify(file)}).prepare("INSERT INTO things (name) VALUES ('x')").run()`],
      { encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    expect(db.changeStamp()).not.toBe(before);
  });

  it('finds the wal-index of a database reached through a symlink', async () => {
    const link = path.join(dir, 'link.db');
    symlinkSync(file, link);
    const db = open(link);
    expect(db.changeStampSource).toBe('wal-index');
    const before = db.changeStamp();
    await write(open(), 'through the real path');
    expect(db.changeStamp()).not.toBe(before);
  });

  it('leaves the locks of this process’s other connections alone when a database closes', async () => {
    // POSIX releases all of a process's locks on a file when any of its descriptors of that file closes.
    const holder = open();
    await holder.exec('BEGIN IMMEDIATE');
    await openSqlite(file).close();
    const child = spawnSync(
      process.execPath,
      ['-e', `new (require('better-sqlite3'))(${JSON.stringify(file)}, { timeout: 0 }).exec('BEGIN IMMEDIATE')`],
      { encoding: 'utf8' },
    );
    await holder.exec('ROLLBACK');
    expect(child.status).not.toBe(0);
    expect(child.stderr).toContain('database is locked');
  });

  it('asks SQLite where there is no wal-index: in memory, or a file that is not one', async () => {
    const memory = open(':memory:');
    expect(memory.changeStampSource).toBe('sql');
    await memory.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)');
    const before = memory.changeStamp();
    await write(memory, 'in memory');
    expect(memory.changeStamp()).not.toBe(before);

    const fake = path.join(dir, 'fake.db');
    writeFileSync(fake, '');
    writeFileSync(`${fake}-shm`, Buffer.alloc(136));
    const stamp = createChangeStamp(fake, true, () => 'from sql');
    expect(stamp.source).toBe('sql');
    expect(stamp.read()).toBe('from sql');
    stamp.close();
  });
});
