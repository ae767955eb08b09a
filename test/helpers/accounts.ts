import type { Hono } from 'hono';
import type { TestSidekick } from './sidekick.ts';
import { call } from './http.ts';

export const STRONG_PASSWORD = 'Correct-Horse-Battery-9';

export function registrationBody(email: string, extra: Record<string, unknown> = {}) {
  return { email, password: STRONG_PASSWORD, gender: 'Male', preferences: 'Chatting, Gaming', dob: '2000-05-15', ...extra };
}

/** The 6-digit code in the newest registration mail to `email`. */
export function codeFrom(mails: { to: string; text: string }[], email: string): string {
  const mail = mails.filter((m) => m.to === email).at(-1);
  const match = mail && /registration code is (\d{6})/.exec(mail.text);
  if (!match) throw new Error(`no registration code mailed to ${email}`);
  return match[1];
}

/** Registers through both steps of the accounts API and returns the superhero name. */
export async function registerUser(t: TestSidekick, email: string, extra: Record<string, unknown> = {}) {
  const app = t.app as Hono<any>;
  const first = await call(app, 'POST', '/api/users/register/', { body: registrationBody(email, extra) });
  if (first.status !== 200) throw new Error(`register step 1: ${first.status} ${first.text}`);
  const otp = codeFrom(await t.deliver(), email);
  const second = await call(app, 'POST', '/api/users/register/', { body: registrationBody(email, { ...extra, otp }) });
  if (second.status !== 201) throw new Error(`register step 2: ${second.status} ${second.text}`);
  return second.body as { message: string; superhero_name: string };
}

export async function loginJwt(t: TestSidekick, email: string, password = STRONG_PASSWORD) {
  const response = await call(t.app, 'POST', '/api/users/login/', { body: { email, password } });
  if (response.status !== 200) throw new Error(`login: ${response.status} ${response.text}`);
  return response.body as { access: string; refresh: string; email: string };
}
