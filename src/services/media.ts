import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { cleanImage, type Upload } from './images.ts';

/** The extensions of the formats uploads are re-encoded in (images.ts), and the types they are served as. */
const TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' };
/** Names Sidekick gives uploads: 128 random bits and one of those extensions. */
const STORED_NAME = new RegExp(`^[0-9a-f]{32}\\.(${Object.keys(TYPES).join('|')})$`);

/** A name this module gave a stored file (and so one it may read or remove). */
export const isStoredName = (value: string | null | undefined): value is string => !!value && STORED_NAME.test(value);

/**
 * Uploaded pictures under `<data>/media/`. The users table holds either an http(s) URL a client gave
 * or the name of a file stored here; only names this module made are ever read or removed, so no path
 * a client chose reaches the file system.
 */
export function createMediaService(deps: { dir: string; publicUrl: string }) {
  const { dir } = deps;
  // One image at a time per process: each decode may hold up to 50 MP × 4 bytes.
  let decoding: Promise<unknown> = Promise.resolve();

  function remove(stored: string | null | undefined): void {
    if (isStoredName(stored)) rmSync(path.join(dir, stored), { force: true });
  }

  /** Checks and re-encodes the image, then writes it; answers the name to store. */
  async function store(upload: Upload): Promise<string> {
    const image = decoding.then(() => cleanImage(upload.bytes));
    decoding = image.catch(() => {});
    const clean = await image;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const name = `${randomBytes(16).toString('hex')}.${clean.extension}`;
    writeFileSync(path.join(dir, name), clean.bytes, { flag: 'wx', mode: 0o600 });
    return name;
  }

  return {
    remove,
    /** Checks and re-encodes an image, then writes it under a new name, which it answers (imports). */
    store,

    /**
     * Stores `upload` (if any) and runs `use` with the name to record; a file that `use` did not
     * manage to record is removed again. Answers what `use` answered.
     */
    async withStored<T>(upload: Upload | undefined, use: (name: string | undefined) => T | Promise<T>): Promise<T> {
      const name = upload ? await store(upload) : undefined;
      try {
        return await use(name);
      } catch (error) {
        remove(name);
        throw error;
      }
    },

    /**
     * Removes stored files no user refers to, older than `before` (ms): what a crash between writing an
     * upload and committing it would leave behind. Recent files may belong to an upload still running.
     */
    removeOrphans(referenced: ReadonlySet<string>, before: number): number {
      let removed = 0;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
        throw error;
      }
      for (const name of names) {
        if (!isStoredName(name) || referenced.has(name)) continue;
        if (statSync(path.join(dir, name)).mtimeMs >= before) continue;
        remove(name);
        removed++;
      }
      return removed;
    },

    /** What the APIs answer for a stored value: URLs as given, stored files as absolute URLs. */
    urlFor(stored: string | null): string | null {
      return isStoredName(stored) ? `${deps.publicUrl}/media/${stored}` : stored;
    },

    /** A stored file's bytes and type, or undefined for any name Sidekick did not make or no longer has. */
    async read(name: string): Promise<{ type: string; bytes: Buffer } | undefined> {
      if (!isStoredName(name)) return undefined;
      try {
        return { type: TYPES[name.split('.')[1]], bytes: await readFile(path.join(dir, name)) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
  };
}

export type MediaService = ReturnType<typeof createMediaService>;
