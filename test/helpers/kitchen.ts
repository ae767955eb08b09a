import type { Hono } from 'hono';
import { STRONG_PASSWORD } from './accounts.ts';
import { call } from './http.ts';
import type { TestSidekick } from './sidekick.ts';

export interface KitchenSignUp {
  user_id: number;
  email: string;
  token: string;
}

/** Signs up through the kitchen API (`POST /users/`) and returns its 201 body. */
export async function kitchenSignUp(t: TestSidekick, email: string, extra: Record<string, unknown> = {}): Promise<KitchenSignUp> {
  const response = await call(t.app as Hono<any>, 'POST', '/users/', { body: { email, password: STRONG_PASSWORD, ...extra } });
  if (response.status !== 201) throw new Error(`kitchen sign-up: ${response.status} ${response.text}`);
  return response.body as KitchenSignUp;
}

/** Logs in through the kitchen API (`POST /token/`) and returns the new opaque token. */
export async function kitchenLogin(t: TestSidekick, email: string, password = STRONG_PASSWORD): Promise<string> {
  const response = await call(t.app as Hono<any>, 'POST', '/token/', { body: { email, password } });
  if (response.status !== 200) throw new Error(`kitchen login: ${response.status} ${response.text}`);
  return (response.body as { token: string }).token;
}

/** Status of `GET /users/me/` with the given Authorization header value (or none). */
export async function meStatus(t: TestSidekick, authorization?: string): Promise<number> {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  return (await call(t.app as Hono<any>, 'GET', '/users/me/', { headers })).status;
}
