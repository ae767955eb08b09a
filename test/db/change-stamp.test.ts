import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChangeStamp } from '../../src/db/change-stamp.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';

describe('database change stamp', () => {
  let dir: string;
  let file: string;
  const opened: Database[] = [];
  const open = (at = file) => {
    const db = openDatabase(at);
    opened.push(db);
    return db;
  };
  const write = (db: Database, name: string) => db.prepare('INSERT INTO things (name) VALUES (?)').run(name);

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sidekick-stamp-'));
    file = path.join(dir, 'stamp.db');
    open().exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)');
  });
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the wal-index of a database file, and holds still while nothing is committed', () => {
    const db = open();
    expect(db.changeStampSource).toBe('wal-index');
    const before = db.changeStamp();
    db.prepare('SELECT * FROM things').all();
    db.immediate(() => db.prepare('SELECT count(*) FROM things').get());
    expect(db.changeStamp()).toBe(before);
  });

  it('moves with every commit: its own, another connection’s, across a WAL reset', () => {
    const db = open();
    const other = open();
    const seen = new Set([db.changeStamp()]);
    const expectMoved = () => {
      const stamp = db.changeStamp();
      expect(seen.has(stamp)).toBe(false);
      seen.add(stamp);
    };
    for (let i = 0; i < 20; i++) {
      write(i % 2 ? db : other, `thing ${i}`);
      expectMoved();
    }
    // A truncating checkpoint resets the WAL: the next commit starts again at frame 1.
    other.checkpoint();
    db.changeStamp();
    write(other, 'after the reset');
    expectMoved();
  });

  it('moves for every read inside an open transaction, where its own writes are not yet committed', () => {
    const db = open();
    db.exec('BEGIN IMMEDIATE');
    const before = db.changeStamp();
    write(db, 'not yet committed');
    expect(db.changeStamp()).not.toBe(before);
    db.exec('ROLLBACK');
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

  it('finds the wal-index of a database reached through a symlink', () => {
    const link = path.join(dir, 'link.db');
    symlinkSync(file, link);
    const db = open(link);
    expect(db.changeStampSource).toBe('wal-index');
    const before = db.changeStamp();
    write(open(), 'through the real path');
    expect(db.changeStamp()).not.toBe(before);
  });

  it('leaves the locks of this process’s other connections alone when a database closes', () => {
    // POSIX releases all of a process's locks on a file when any of its descriptors of that file closes.
    const holder = open();
    holder.exec('BEGIN IMMEDIATE');
    openDatabase(file).close();
    const child = spawnSync(
      process.execPath,
      ['-e', `new (require('better-sqlite3'))(${JSON.stringify(file)}, { timeout: 0 }).exec('BEGIN IMMEDIATE')`],
      { encoding: 'utf8' },
    );
    holder.exec('ROLLBACK');
    expect(child.status).not.toBe(0);
    expect(child.stderr).toContain('database is locked');
  });

  it('asks SQLite where there is no wal-index: in memory, or a file that is not one', () => {
    const memory = open(':memory:');
    expect(memory.changeStampSource).toBe('sql');
    memory.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)');
    const before = memory.changeStamp();
    write(memory, 'in memory');
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
