import { closeSync, existsSync, openSync, realpathSync, rmSync } from 'node:fs';
import { sqliteDriver, type SqliteConnection } from './sqlite-driver.ts';

/**
 * Whether a server is serving an SQLite database, for db:restore to ask: `<database>.serving`, a tiny
 * SQLite file beside the database on which every serving process holds a read lock for as long as it
 * serves.
 *
 * A lock, not just a pid in a file: SQLite's locks are the kernel's (fcntl), so they die with their
 * process however it ends (a SIGKILLed server leaves a file nobody holds, which blocks nothing), a pid
 * reused by another program cannot pass for a server, and any number of serving processes hold it
 * together. The file also names the first of them, for the operator. No request ever touches it.
 *
 * db:restore takes the exclusive lock instead, which fails while any server holds its read lock, and
 * holds it through the restore, so a server starting meanwhile waits for the restore to end.
 */

const SUFFIX = '.serving';
/** How long a starting server waits for a restore in progress to finish. */
const START_WAIT_MS = 10_000;
/** How long db:restore waits to read who is serving, past a server writing its pid at that moment. */
const READ_WAIT_MS = 1000;

export function servingMarkerPath(dbPath: string): string {
  let target = dbPath;
  try {
    target = realpathSync(dbPath);
  } catch {
    // No database there yet, so nothing serves it; the name still meets the one a server will use.
  }
  return `${target}${SUFFIX}`;
}

export class MarkerBusyError extends Error {}

const codeOf = (error: unknown) => String((error as { code?: unknown }).code);
const isBusy = (error: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(codeOf(error));
const isDamaged = (error: unknown) => /^SQLITE_(NOTADB|CORRUPT)/.test(codeOf(error));

/**
 * The marker opened, created readable by its owner alone (whoever can open it could hold restores off).
 * Created only if missing: closing a descriptor of a file this process holds locks on would drop them
 * (POSIX), so an existing marker is opened by SQLite alone.
 */
function openMarker(file: string, busyTimeoutMs: number): SqliteConnection {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
  }
  return sqliteDriver.open(file, busyTimeoutMs);
}

function rollbackQuietly(connection: SqliteConnection): void {
  try {
    connection.exec('ROLLBACK');
  } catch {
    // No transaction was open (SQLite ends one itself on some errors).
  }
}

/** Best effort: the first server in records its pid; the others find it held and leave it. */
function recordPid(connection: SqliteConnection, pid: number): void {
  try {
    connection.exec('BEGIN IMMEDIATE');
    connection.exec('CREATE TABLE IF NOT EXISTS server (pid INTEGER NOT NULL, since INTEGER NOT NULL)');
    connection.exec('DELETE FROM server');
    connection.prepare('INSERT INTO server (pid, since) VALUES (?, ?)').run(pid, Date.now());
    connection.exec('COMMIT');
  } catch (error) {
    rollbackQuietly(connection);
    if (!isBusy(error)) throw error;
  }
}

export interface ServingHold {
  /** Idempotent. Removes the marker when no other process holds it. */
  release(): void;
}

/**
 * Marks this process as serving the database at `dbPath` until release() (or its death). Throws
 * MarkerBusyError while a restore holds the marker for longer than a server waits.
 */
export function holdServing(dbPath: string, pid: number = process.pid): ServingHold {
  const file = servingMarkerPath(dbPath);
  for (let attempt = 1; ; attempt++) {
    const connection = openMarker(file, 0);
    try {
      recordPid(connection, pid);
      connection.exec(`PRAGMA busy_timeout = ${START_WAIT_MS}`);
      // A read transaction left open: its shared lock is the mark.
      connection.exec('BEGIN');
      connection.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch (error) {
      connection.close();
      if (isBusy(error)) throw new MarkerBusyError('a restore holds the database');
      // Whatever else lies there holds no lock anyone could rely on: a fresh marker replaces it.
      if (isDamaged(error) && attempt < 3) {
        rmSync(file, { force: true });
        continue;
      }
      throw error;
    }
    // A server stopping just as this one opened the file may have removed it: then this lock is on a
    // file no one else can find, so take the one at the path instead.
    // (stat, not open: see openMarker.)
    if (existsSync(file) || attempt === 3) return releasing(connection, file);
    connection.close();
  }
}

function releasing(connection: SqliteConnection, file: string): ServingHold {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        connection.exec('COMMIT');
        connection.exec('PRAGMA busy_timeout = 0');
        // Only the last one out removes it, and while it holds the file no one can take it.
        connection.exec('BEGIN EXCLUSIVE');
        rmSync(file, { force: true });
      } catch {
        // Another server still serves this database: the marker stays, theirs.
      } finally {
        connection.close();
      }
    },
  };
}

export type ServingClaim =
  | { claimed: true; release(): void }
  /** `pid`: the serving process the marker names, if it names one; `restoring`: another restore holds it. */
  | { claimed: false; pid: number | undefined; restoring: boolean };

/**
 * For db:restore: the database claimed against servers (none serving, none can start until release()),
 * or who holds it.
 */
export function claimAgainstServers(dbPath: string): ServingClaim {
  const file = servingMarkerPath(dbPath);
  let connection = openMarker(file, 0);
  for (let attempt = 1; ; attempt++) {
    try {
      connection.exec('BEGIN EXCLUSIVE');
      // Reads the header: a file that is no database shows here, not at the first server's start.
      connection.prepare('SELECT count(*) FROM sqlite_master').get();
      break;
    } catch (error) {
      rollbackQuietly(connection);
      if (isBusy(error)) {
        try {
          return { claimed: false, ...holder(connection) };
        } finally {
          connection.close();
        }
      }
      connection.close();
      if (!isDamaged(error) || attempt === 2) throw error;
      rmSync(file, { force: true });
      connection = openMarker(file, 0);
    }
  }
  const held = connection;
  let released = false;
  return {
    claimed: true,
    release() {
      if (released) return;
      released = true;
      // A marker a crashed server left is gone with the one made for this claim.
      rmSync(file, { force: true });
      held.close();
    },
  };
}

function holder(connection: SqliteConnection): { pid: number | undefined; restoring: boolean } {
  connection.exec(`PRAGMA busy_timeout = ${READ_WAIT_MS}`);
  try {
    const row = connection.prepare<{ pid: number }>('SELECT pid FROM server').get();
    return { pid: row?.pid, restoring: false };
  } catch (error) {
    // Busy: the exclusive lock is another restore's. Otherwise no server recorded itself yet.
    return { pid: undefined, restoring: isBusy(error) };
  }
}
