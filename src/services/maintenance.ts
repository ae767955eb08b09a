import type { MailTransport } from '../mail/transports.ts';
import type { Store } from '../store/index.ts';
import type { Clock } from './clock.ts';
import type { MediaService } from './media.ts';
import type { ThrottleService } from './throttle.ts';

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
/** How long the outbox keeps what it delivered or gave up on (told in the README's opening section). */
export const MAIL_RETENTION = {
  /** A sent message's row (recipient, subject, times; its body went at delivery): for mail:list. */
  sentRowsMs: 7 * DAY_MS,
  /** A message that failed for good, for mail:retry. */
  failedRowsMs: 30 * DAY_MS,
  /** `.eml` files of the file transport: they hold codes and links that died within minutes anyway. */
  deliveredFilesMs: DAY_MS,
};
/** An upload is written before its row commits; a file this old that no row names never will be. */
const ORPHAN_UPLOAD_AGE_MS = HOUR_MS;
/** Sweeps that read a whole folder or every stored picture name run once an hour. */
const FOLDER_SWEEP_EVERY_MS = HOUR_MS;

/** Drops what can no longer matter, so the database does not grow with traffic. */
export function createMaintenanceService(deps: {
  store: Store;
  throttle: ThrottleService;
  media: MediaService;
  /** The mail transport, whose delivered files (if it keeps any) age out too. */
  transport: MailTransport;
  clock: Clock;
}) {
  let lastSweep = -Infinity;
  async function sweepFolders(now: number): Promise<{ orphanUploads: number; mailFiles: number }> {
    if (now - lastSweep < FOLDER_SWEEP_EVERY_MS) return { orphanUploads: 0, mailFiles: 0 };
    lastSweep = now;
    return {
      orphanUploads: deps.media.removeOrphans(await deps.store.users.storedPictures(), now - ORPHAN_UPLOAD_AGE_MS),
      mailFiles: deps.transport.prune?.(now - MAIL_RETENTION.deliveredFilesMs) ?? 0,
    };
  }

  return {
    async purgeExpired() {
      const now = deps.clock.now();
      const { store } = deps;
      return {
        sessions: await store.sessions.purgeExpired(now),
        registrations: await store.registrations.purgeExpired(now),
        throttleEvents: await deps.throttle.purge(store),
        sentMail: await store.outbox.purgeSentBefore(now - MAIL_RETENTION.sentRowsMs),
        failedMail: await store.outbox.purgeFailedBefore(now - MAIL_RETENTION.failedRowsMs),
        ...(await sweepFolders(now)),
      };
    },
  };
}
