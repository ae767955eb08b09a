import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { endianness } from 'node:os';

/** One copy of the wal-index header: change counter, last frame, page count, salts and checksum. */
const WAL_INDEX_HEADER_BYTES = 48;
/** The header's version field (native byte order) in every SQLite since 3.7.0. */
const WAL_INDEX_VERSION = 3007000;

export interface ChangeStamp {
  /** A value that differs from the last one read whenever the data may have changed in between. */
  read(): string;
  /** `wal-index` for the header read, `sql` for the fallback statement (diagnostics and tests). */
  readonly source: 'wal-index' | 'sql';
  /** Call after the database's connection is closed (see walIndexes). */
  close(): void;
}

/**
 * Whether the database may have changed, asked before every authenticated request.
 *
 * In WAL mode every commit, by any connection in any process, rewrites the wal-index header at the start
 * of the `-shm` file, which SQLite shares between processes through a shared mapping of that file
 * (layout: https://sqlite.org/walformat.html, "The WAL-Index Header"). Its first copy holds a counter
 * bumped by each transaction, the last committed frame and a checksum, so it changes with every commit,
 * and is fully written before the commit returns. Reading those 48 bytes is one `pread`.
 * Asking SQLite itself (`PRAGMA data_version`) opens and closes a read transaction: two `fcntl` locks and
 * an `fstat`, which cost about 4 of the 24 µs an authenticated read took under load here.
 *
 * A torn read (a writer mid-commit) or a WAL reset after a checkpoint only shows as a change, which
 * costs one extra read of the data, never a stale answer. Where there is no wal-index file (an in-memory
 * database, or WAL unavailable) `sqlStamp` answers instead.
 */
export function createChangeStamp(databasePath: string, walMode: boolean, sqlStamp: () => string): ChangeStamp {
  const header = Buffer.alloc(WAL_INDEX_HEADER_BYTES);
  let walIndex = walMode ? acquireWalIndex(databasePath) : undefined;
  let fd = walIndex?.live ? walIndex.fd : undefined;

  return {
    read() {
      return fd !== undefined && readHeader(fd, header) ? header.toString('latin1') : sqlStamp();
    },
    source: fd === undefined ? 'sql' : 'wal-index',
    close() {
      if (walIndex) releaseWalIndex(walIndex.file);
      walIndex = fd = undefined;
    },
  };
}

/**
 * The wal-index files this process holds open, by device and inode (one file may have several names),
 * with how many open databases use each.
 *
 * POSIX drops every lock a process holds on a file when it closes *any* descriptor of that file, and
 * SQLite's connections hold their shared-memory locks on this very file. Closing our descriptor while
 * one of them is open would silently release its locks: another process could then take the write lock
 * or rebuild the wal-index under it. So a descriptor is shared by every database of this process on
 * that file and closed only after the last of them, once their connections are closed.
 */
const walIndexes = new Map<string, { fd: number; users: number }>();

/** The `-shm` file of a database already in WAL mode (SQLite creates it next to the file a symlink leads to). */
function acquireWalIndex(databasePath: string): { file: string; fd: number; live: boolean } | undefined {
  if (databasePath === ':memory:' || databasePath === '' || databasePath.startsWith('file:')) return undefined;
  let file: string;
  let entry: { fd: number; users: number } | undefined;
  try {
    const path = `${realpathSync(databasePath)}-shm`;
    const { dev, ino } = statSync(path);
    file = `${dev}:${ino}`;
    entry = walIndexes.get(file) ?? { fd: openSync(path, 'r'), users: 0 };
  } catch {
    return undefined;
  }
  entry.users++;
  walIndexes.set(file, entry);
  return { file, fd: entry.fd, live: looksLive(entry.fd) };
}

function releaseWalIndex(file: string): void {
  const entry = walIndexes.get(file);
  if (!entry || --entry.users > 0) return;
  walIndexes.delete(file);
  closeSync(entry.fd);
}

/** Reads the header's first copy into `header`; false if the file is shorter than that. */
function readHeader(fd: number, header: Buffer): boolean {
  return readSync(fd, header, 0, WAL_INDEX_HEADER_BYTES, 0) === WAL_INDEX_HEADER_BYTES;
}

/** Whether the file starts with an initialised wal-index header of the version this code reads. */
function looksLive(fd: number): boolean {
  const header = Buffer.alloc(WAL_INDEX_HEADER_BYTES);
  if (!readHeader(fd, header)) return false;
  const version = endianness() === 'LE' ? header.readUInt32LE(0) : header.readUInt32BE(0);
  return version === WAL_INDEX_VERSION && header[12] === 1;
}
