import type { Sidekick } from '../../src/sidekick.ts';

/** Whether `password` logs `email` in (through the API's own login, from a test address). */
export async function passwordWorks(sidekick: Sidekick, email: string, password: string): Promise<boolean> {
  try {
    await sidekick.services.auth.withToken({ email, password }, '192.0.2.1');
    return true;
  } catch {
    return false;
  }
}
