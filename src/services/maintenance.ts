import type { OutboxStore } from '../store/outbox.ts';
import type { RegistrationStore } from '../store/registrations.ts';
import type { SessionStore } from '../store/sessions.ts';
import type { UserStore } from '../store/users.ts';
import type { Clock } from './clock.ts';
import type { MediaService } from './media.ts';
import type { ThrottleService } from './throttle.ts';

const SENT_MAIL_KEPT_MS = 7 * 24 * 3600_000;
/** An upload is written before its row commits; a file this old that no row names never will be. */
const ORPHAN_UPLOAD_AGE_MS = 3600_000;
/** The orphan sweep reads every stored picture name: once an hour is plenty for what crashes leave. */
const ORPHAN_SWEEP_EVERY_MS = 3600_000;

/** Drops what can no longer matter, so the database does not grow with traffic. */
export function createMaintenanceService(deps: {
  sessions: SessionStore;
  registrations: RegistrationStore;
  throttle: ThrottleService;
  outbox: OutboxStore;
  users: UserStore;
  media: MediaService;
  clock: Clock;
}) {
  let lastSweep = -Infinity;
  function sweepOrphanUploads(now: number): number {
    if (now - lastSweep < ORPHAN_SWEEP_EVERY_MS) return 0;
    lastSweep = now;
    return deps.media.removeOrphans(deps.users.storedPictures(), now - ORPHAN_UPLOAD_AGE_MS);
  }

  return {
    purgeExpired(): { sessions: number; registrations: number; throttleEvents: number; sentMail: number; orphanUploads: number } {
      const now = deps.clock.now();
      return {
        sessions: deps.sessions.purgeExpired(now),
        registrations: deps.registrations.purgeExpired(now),
        throttleEvents: deps.throttle.purge(),
        sentMail: deps.outbox.purgeSentBefore(now - SENT_MAIL_KEPT_MS),
        orphanUploads: sweepOrphanUploads(now),
      };
    },
  };
}
