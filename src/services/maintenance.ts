import type { OutboxStore } from '../store/outbox.ts';
import type { RegistrationStore } from '../store/registrations.ts';
import type { SessionStore } from '../store/sessions.ts';
import type { Clock } from './clock.ts';
import type { ThrottleService } from './throttle.ts';

const SENT_MAIL_KEPT_MS = 7 * 24 * 3600_000;

/** Drops what can no longer matter, so the database does not grow with traffic. */
export function createMaintenanceService(deps: {
  sessions: SessionStore;
  registrations: RegistrationStore;
  throttle: ThrottleService;
  outbox: OutboxStore;
  clock: Clock;
}) {
  return {
    purgeExpired(): { sessions: number; registrations: number; throttleEvents: number; sentMail: number } {
      const now = deps.clock.now();
      return {
        sessions: deps.sessions.purgeExpired(now),
        registrations: deps.registrations.purgeExpired(now),
        throttleEvents: deps.throttle.purge(),
        sentMail: deps.outbox.purgeSentBefore(now - SENT_MAIL_KEPT_MS),
      };
    },
  };
}
