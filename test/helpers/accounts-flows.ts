import type { OutgoingMail } from '../../src/services/mailer.ts';
import { call } from './http.ts';
import { STRONG_PASSWORD } from './accounts.ts';
import type { TestSidekick } from './sidekick.ts';

export const NEW_PASSWORD = 'Another-Sturdy-Phrase-42';

/** The reset link in the newest reset mail to `email`. */
export function resetLinkFrom(mails: OutgoingMail[], email: string): string {
  const mail = mails.filter((m) => m.to === email && /reset/i.test(m.subject)).at(-1);
  const match = mail && /(https?:\/\/\S+\/api\/users\/reset\/\S+\/)/.exec(mail.text);
  if (!match) throw new Error(`no reset link mailed to ${email}`);
  return match[1];
}

/** The path of the reset link mailed to `email`, after asking for one through the API. */
export async function requestResetPath(t: TestSidekick, email: string): Promise<string> {
  const response = await call(t.app, 'POST', '/api/users/reset-password/', { body: { email } });
  if (response.status !== 200) throw new Error(`reset request: ${response.status} ${response.text}`);
  return new URL(resetLinkFrom(await t.deliver(), email)).pathname;
}

/** A kitchen (opaque) token for an existing user, through the kitchen API's login. */
export async function loginToken(t: TestSidekick, email: string, password = STRONG_PASSWORD): Promise<string> {
  const response = await call(t.app, 'POST', '/token/', { body: { email, password } });
  if (response.status !== 200) throw new Error(`kitchen login: ${response.status} ${response.text}`);
  return response.body.token as string;
}

/** Decodes a JWT's payload without checking it (tests read claims to forge look-alikes). */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
