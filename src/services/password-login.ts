import type { Store } from '../store/index.ts';
import type { User } from '../store/users.ts';
import type { CredentialService, Minted } from './credentials.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { RULES, type ThrottleService } from './throttle.ts';

export interface PasswordLoginDeps {
  store: Store;
  hasher: PasswordHasher;
  throttle: ThrottleService;
  credentials: CredentialService;
}

/**
 * Email and password in, a live credential out, under the contract's throttles (§5).
 *
 * The attempt counts against its throttles, in the database, from before the password check until its
 * outcome: N parallel guesses through any number of processes let exactly as many through as the limit.
 * The session is stored only if, at that moment, the user still exists, is active and has the password
 * that was checked: a login racing a reset, a password change, a deactivation or a deletion gets no
 * working credential.
 */
export function createPasswordLogin(deps: PasswordLoginDeps) {
  const { store, hasher, throttle, credentials } = deps;

  return async function login<T>(
    email: string,
    password: string,
    client: string,
    mint: (user: User) => Minted<T>,
  ): Promise<{ user: User; issued: T } | undefined> {
    const attempt = await store.transaction((tx) => throttle.begin(tx, ...RULES.login(email, client)));
    let settled = false;
    try {
      const [user, legacySample] = await Promise.all([store.users.findByEmail(email), store.users.legacyHashSample()]);
      // Unknown emails cost a full check too, and every kind of failure counts the same.
      const matches = user ? await hasher.verify(password, user.passwordHash, legacySample) : await hasher.verifyNothing(password, legacySample);
      if (!user || !matches || !user.isActive) {
        await store.transaction((tx) => throttle.fail(tx, attempt));
        settled = true;
        return undefined;
      }
      // An imported hash, or the configured cost changed since this one was made: replace it with bcrypt
      // at today's cost while the password is at hand.
      const upgraded = hasher.needsRehash(user.passwordHash, password) ? await hasher.hash(password) : undefined;
      const minted = mint(user);
      const opened = await store.transaction(async (tx) => {
        await throttle.forgive(tx, attempt);
        if (!(await credentials.openSessionInTransaction(tx, minted.session, user.passwordVersion))) return false;
        if (upgraded) await tx.users.rehashPassword(user.id, user.passwordHash, upgraded);
        return true;
      });
      settled = true;
      return opened ? { user, issued: minted.value } : undefined;
    } finally {
      // Overload (503) or a server error: no guess was judged, so none is counted. If this fails too, the
      // row counts as a failure once it is PENDING_ATTEMPT_LIFETIME_MS old.
      if (!settled) {
        try {
          await store.transaction((tx) => throttle.forgive(tx, attempt));
        } catch {
          // The original error is the one to report.
        }
      }
    }
  };
}

export type PasswordLogin = ReturnType<typeof createPasswordLogin>;
