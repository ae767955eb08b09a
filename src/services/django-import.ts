import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { openSourceDatabase } from '../db/source.ts';
import { SidekickError } from '../errors.ts';
import { EXPECTED_TABLES, readOriginal, recogniseOriginal, type OriginalKind, type OriginalUser } from '../store/django-source.ts';
import type { Store } from '../store/index.ts';
import type { NewSession } from '../store/sessions.ts';
import type { RestoredUser } from '../store/user-batches.ts';
import type { Clock } from './clock.ts';
import { sha256Hex } from './crypto.ts';
import { Upload } from './images.ts';
import { simpleJwtSessionId } from './jwt.ts';
import type { MediaService } from './media.ts';
import { hashFormat } from './password-formats.ts';
import { randomSuperheroName } from './superhero.ts';

/** Something the operator should know; `fatal` ones stop the import (exit 2), the others are warnings. */
export interface ImportProblem {
  kind: 'case_duplicate' | 'invalid_email' | 'taken' | 'unknown_hash' | 'unusable_password' | 'missing_picture' | 'invalid_token';
  fatal: boolean;
  message: string;
}

export interface DjangoImportReport {
  source: string;
  original: OriginalKind;
  dryRun: boolean;
  users: number;
  /** Users per password hash format ('unusable' and 'unknown' included). */
  hashes: Record<string, number>;
  /** DRF tokens moved (stored hashed). */
  tokens: number;
  /** Users whose SimpleJWT tokens from before the move are accepted until they expire. */
  simpleJwtUsers: number;
  pictures: { copied: number; dropped: number };
  highestId: number;
  problems: ImportProblem[];
}

/** Refused, with every fatal problem named; nothing was written. */
export class DjangoImportRefusedError extends SidekickError {
  readonly report: DjangoImportReport;
  constructor(report: DjangoImportReport) {
    const fatal = report.problems.filter((problem) => problem.fatal);
    super('invalid', `nothing was imported: ${fatal.map((problem) => problem.message).join('; ')}`);
    this.name = 'DjangoImportRefusedError';
    this.report = report;
  }
}

export interface DjangoImportOptions {
  dryRun?: boolean;
  /** The original's MEDIA_ROOT, where its profile_picture paths point. */
  mediaDir?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface DjangoImportDeps {
  store: Store;
  media: MediaService;
  clock: Clock;
  /** Imported DRF tokens live this long from the import (SIDEKICK_TOKEN_TTL, seconds). */
  tokenTtl: number;
  /** SimpleJWT's tokens from before the move are taken at most this long after it (SIDEKICK_REFRESH_TTL). */
  refreshTtl: number;
}

/** Users written per transaction step, for the progress bar; the transaction is one for all of them. */
const PROGRESS_STEP = 2000;
const DRF_TOKEN = /^[0-9a-f]{40}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

const who = (user: OriginalUser) => `id ${user.id} (${user.email})`;

/** A picture path inside the media folder, or undefined for one that would leave it (`../`, absolute). */
function pictureFile(mediaDir: string, picture: string): string | undefined {
  const root = path.resolve(mediaDir);
  const file = path.resolve(root, picture);
  return file.startsWith(root + path.sep) ? file : undefined;
}

/**
 * Moving in from either Django original (contract §10): every user, with the id, hash, profile, flags
 * and times the original had, its DRF tokens, and the session its SimpleJWT tokens live in; all in one
 * transaction, into a database where no id, email or superhero name collides.
 */
export function createDjangoImportService(deps: DjangoImportDeps) {
  const { store, media, clock } = deps;

  async function run(sourceTarget: string, options: DjangoImportOptions = {}): Promise<DjangoImportReport> {
    const source = await openSourceDatabase(sourceTarget);
    let original;
    let kind: OriginalKind;
    try {
      const recognised = await recogniseOriginal(source);
      if (!recognised.kind) {
        const expected = (['accounts', 'kitchen'] as const)
          .map((k) => `${Object.keys(EXPECTED_TABLES[k]).join(', ')} (the ${k} original; missing ${recognised.missing[k].join(', ')})`)
          .join(' or ');
        throw new SidekickError('invalid', `${source.location} is not a database of either Django original: expected ${expected}`);
      }
      kind = recognised.kind;
      original = await readOriginal(source, kind);
    } finally {
      await source.close();
    }

    const now = clock.now();
    const problems: ImportProblem[] = [];
    const hashes: Record<string, number> = {};
    const users: (RestoredUser & { id: number; superheroName: string })[] = [];
    const pictures = new Map<number, string>();
    const byEmail = new Map<string, OriginalUser>();
    const names = new Set(original.users.map((user) => user.superheroName).filter((name): name is string => !!name));
    let dropped = 0;

    for (const user of original.users) {
      const email = user.email.trim().toLowerCase();
      const twin = byEmail.get(email);
      if (twin) {
        problems.push({ kind: 'case_duplicate', fatal: true, message: `${who(twin)} and ${who(user)} differ only in case: merge or rename one in the original` });
      }
      byEmail.set(email, user);
      if (!EMAIL.test(email)) problems.push({ kind: 'invalid_email', fatal: true, message: `${who(user)} has no valid email address` });

      const format = hashFormat(user.password);
      hashes[format ?? 'unknown'] = (hashes[format ?? 'unknown'] ?? 0) + 1;
      // An unknown format is kept behind Django's unusable marker: nobody logs in with it, nothing is lost.
      let passwordHash = user.password;
      if (format === undefined) {
        passwordHash = `!${user.password}`;
        problems.push({ kind: 'unknown_hash', fatal: false, message: `${who(user)} has a password hash Sidekick cannot verify: they must reset their password` });
      } else if (format === 'unusable') {
        problems.push({ kind: 'unusable_password', fatal: false, message: `${who(user)} has no usable password (Django's "!"): they must reset it to log in` });
      }

      if (user.profilePicture) {
        const file = options.mediaDir ? pictureFile(options.mediaDir, user.profilePicture) : undefined;
        if (file && isFile(file)) {
          pictures.set(user.id, file);
        } else {
          dropped++;
          const why = options.mediaDir ? `no file ${user.profilePicture} in ${options.mediaDir}` : 'no --media-dir given';
          problems.push({ kind: 'missing_picture', fatal: false, message: `${who(user)}: profile picture dropped (${why})` });
        }
      }

      // The original's name is kept; a user without one (the kitchen original has none) draws one.
      let superheroName = user.superheroName;
      while (!superheroName) {
        const drawn = randomSuperheroName();
        if (!names.has(drawn)) superheroName = drawn;
      }
      names.add(superheroName);
      users.push({
        id: user.id,
        email,
        passwordHash,
        superheroName,
        name: user.name,
        gender: user.gender,
        preferences: user.preferences,
        dob: user.dob,
        bio: user.bio,
        phoneNumber: user.phoneNumber,
        // Set once the file is copied (below).
        profilePicture: null,
        // The operator proves nothing about the mailbox (as users:create); its owner may claim it.
        emailVerified: false,
        isActive: user.isActive,
        isStaff: user.isStaff,
        isSuperuser: user.isSuperuser,
        lastLoginAt: user.lastLogin,
        createdAt: user.dateJoined ?? now,
        updatedAt: now,
      });
    }

    const ids = new Set(users.map((user) => user.id));
    const sessions: NewSession[] = [];
    for (const token of original.tokens) {
      if (!DRF_TOKEN.test(token.key) || !ids.has(token.userId)) {
        problems.push({ kind: 'invalid_token', fatal: false, message: `a DRF token of user id ${token.userId} is not one Sidekick can take; that app must log in again` });
        continue;
      }
      sessions.push({ id: sha256Hex(token.key), userId: token.userId, kind: 'token', expiresAt: now + deps.tokenTtl * 1000 });
    }
    if (kind === 'accounts') {
      for (const user of users) sessions.push({ id: simpleJwtSessionId(user.id), userId: user.id, kind: 'jwt', expiresAt: now + deps.refreshTtl * 1000 });
    }

    // Ids, emails and superhero names of imported users that a user here has already.
    const taken = async (stores: Pick<Store, 'userBatches'>): Promise<ImportProblem[]> => {
      const [ids, emails, names] = await Promise.all([
        stores.userBatches.idsTaken(users.map((user) => user.id)),
        stores.userBatches.emailsTaken(users.map((user) => user.email)),
        stores.userBatches.superheroNamesTaken(users.map((user) => user.superheroName)),
      ]);
      const shared = [
        ...[...ids].map((id) => `id ${id}`),
        ...[...emails].map((email) => `email ${email}`),
        ...[...names].map((name) => `superhero name ${name}`),
      ];
      return shared.map((what) => ({ kind: 'taken', fatal: true, message: `a user here already has the ${what} of an imported user` }));
    };
    problems.push(...(await taken(store)));

    const report: DjangoImportReport = {
      source: source.location,
      original: kind,
      dryRun: Boolean(options.dryRun),
      users: users.length,
      hashes,
      tokens: sessions.filter((session) => session.kind === 'token').length,
      simpleJwtUsers: kind === 'accounts' ? users.length : 0,
      pictures: { copied: 0, dropped },
      highestId: Math.max(0, ...ids),
      problems,
    };
    if (problems.some((problem) => problem.fatal)) throw new DjangoImportRefusedError(report);
    if (options.dryRun) {
      report.pictures.copied = pictures.size;
      return report;
    }

    // Pictures first (re-encoded like uploads); if anything fails after, the files go again.
    const written: string[] = [];
    try {
      for (const user of users) {
        const file = pictures.get(user.id);
        if (!file) continue;
        try {
          user.profilePicture = await media.store(new Upload(path.basename(file), readFileSync(file)));
          written.push(user.profilePicture);
        } catch (error) {
          if (!(error instanceof SidekickError)) throw error;
          report.pictures.dropped++;
          problems.push({ kind: 'missing_picture', fatal: false, message: `${who(original.users.find((u) => u.id === user.id)!)}: profile picture dropped (not a valid image)` });
        }
      }
      report.pictures.copied = written.length;

      await store.transaction(async (tx) => {
        // Again inside the transaction: a sign-up may have taken an email since the check above.
        const takenMeanwhile = await taken(tx);
        if (takenMeanwhile.length > 0) {
          report.problems.push(...takenMeanwhile);
          throw new DjangoImportRefusedError(report);
        }
        for (let at = 0; at < users.length; at += PROGRESS_STEP) {
          const batch = users.slice(at, at + PROGRESS_STEP);
          const inserted = new Set((await tx.userBatches.insertKeptMany(batch)).map((user) => user.id));
          if (inserted.size < batch.length) {
            for (const user of batch.filter((u) => !inserted.has(u.id))) {
              report.problems.push({ kind: 'taken', fatal: true, message: `id ${user.id} (${user.email}) was taken while importing` });
            }
            throw new DjangoImportRefusedError(report);
          }
          options.onProgress?.(at + batch.length, users.length);
        }
        await tx.userBatches.insertSessions(sessions, now);
        await tx.userBatches.raiseIdCounter(report.highestId);
      });
    } catch (error) {
      for (const name of written) media.remove(name);
      throw error;
    }
    return report;
  }

  return { run };
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export type DjangoImportService = ReturnType<typeof createDjangoImportService>;
