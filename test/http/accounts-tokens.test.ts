import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.ts';
import { createTestSidekick, TEST_SECRET, type TestSidekick } from '../helpers/sidekick.ts';
import { loginJwt, registerUser } from '../helpers/accounts.ts';
import { jwtPayload, loginToken } from '../helpers/accounts-flows.ts';

const TOKEN_NOT_VALID = { detail: 'Token is invalid or expired', code: 'token_not_valid', message: 'Token is invalid or expired' };
const secretBytes = (secret: string) => new TextEncoder().encode(secret);

/** Signs `payload` with jose, as an attacker (or a sister service) could. */
function forge(payload: Record<string, unknown>, options: { alg?: string; secret?: string } = {}) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .sign(secretBytes(options.secret ?? TEST_SECRET));
}

const unsigned = (payload: Record<string, unknown>) =>
  `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;

describe('JWTs: refresh, verify, blacklist, forgeries (contract §2, §4)', () => {
  let t: TestSidekick;
  let access: string;
  let refresh: string;
  beforeEach(async () => {
    t = await createTestSidekick();
    await registerUser(t, 'hero@example.com');
    ({ access, refresh } = await loginJwt(t, 'hero@example.com'));
  });
  afterEach(async () => {
    await t.close();
  });

  const profile = (bearer: string) => call(t.app, 'GET', '/api/users/profile/', { bearer });
  const refreshWith = (token: string) => call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: token } });
  const verify = (token: string) => call(t.app, 'POST', '/api/token/verify/', { body: { token } });

  describe('refresh', () => {
    it('returns a working access token for a live refresh token', async () => {
      t.clock.advanceSeconds(60);
      const response = await refreshWith(refresh);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ access: expect.any(String) });
      expect(response.body.access).not.toBe(access);
      expect((await profile(response.body.access)).status).toBe(200);
    });

    it('answers a bad refresh token with 401 token_not_valid', async () => {
      const response = await refreshWith('not.a.token');
      expect(response.status).toBe(401);
      expect(response.body).toEqual(TOKEN_NOT_VALID);
      expect(response.headers.get('www-authenticate')).toBeTruthy();
    });

    it('refuses an access token where a refresh token is expected', async () => {
      const response = await refreshWith(access);
      expect(response.status).toBe(401);
      expect(response.body).toEqual(TOKEN_NOT_VALID);
    });

    it('refuses a refresh token once a day has passed', async () => {
      t.clock.advanceSeconds(86_400 - 1);
      expect((await refreshWith(refresh)).status).toBe(200);
      t.clock.advanceSeconds(1);
      expect((await refreshWith(refresh)).body).toEqual(TOKEN_NOT_VALID);
    });

    it('requires the refresh field', async () => {
      const response = await call(t.app, 'POST', '/api/token/refresh/', { body: {} });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ refresh: ['This field is required.'], message: 'This field is required.' });
    });
  });

  describe('verify', () => {
    it('answers 200 {} for a live access or refresh token', async () => {
      expect((await verify(access)).body).toEqual({});
      expect((await verify(refresh)).body).toEqual({});
    });

    it('answers 401 token_not_valid for an invalid token', async () => {
      const response = await verify(`${access}x`);
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
    });

    it('answers 401 for an access token once it expired', async () => {
      t.clock.advanceSeconds(5 * 60);
      expect((await verify(access)).status).toBe(401);
    });
  });

  describe('blacklist', () => {
    it('revokes the refresh token: refresh with it is refused afterwards', async () => {
      const response = await call(t.app, 'POST', '/api/token/blacklist/', { body: { refresh } });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({});
      const after = await refreshWith(refresh);
      expect(after.status).toBe(401);
      expect(after.body).toEqual(TOKEN_NOT_VALID);
      expect((await verify(refresh)).status).toBe(401);
    });

    it('leaves other logins of the same user alone', async () => {
      const other = await loginJwt(t, 'hero@example.com');
      await call(t.app, 'POST', '/api/token/blacklist/', { body: { refresh } });
      expect((await refreshWith(other.refresh)).status).toBe(200);
    });

    it('answers an invalid token with 401 token_not_valid', async () => {
      const response = await call(t.app, 'POST', '/api/token/blacklist/', { body: { refresh: 'garbage' } });
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
    });

    it('refuses to blacklist an access token', async () => {
      const response = await call(t.app, 'POST', '/api/token/blacklist/', { body: { refresh: access } });
      expect(response.status).toBe(401);
    });
  });

  describe('forged and misused tokens on an authenticated endpoint', () => {
    it('accepts the genuine claims re-signed with the server secret (control for the forgeries below)', async () => {
      const token = await forge(jwtPayload(access));
      expect((await profile(token)).status).toBe(200);
    });

    it('refuses alg "none"', async () => {
      const response = await profile(unsigned(jwtPayload(access)));
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
    });

    it('refuses a token signed with another key', async () => {
      const response = await profile(await forge(jwtPayload(access), { secret: 'another-secret-0123456789abcdef0123456789' }));
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
    });

    it('refuses HS512 even with the right key', async () => {
      const response = await profile(await forge(jwtPayload(access), { alg: 'HS512' }));
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
    });

    it('refuses an access token once five minutes have passed', async () => {
      t.clock.advanceSeconds(5 * 60 - 1);
      expect((await profile(access)).status).toBe(200);
      t.clock.advanceSeconds(1);
      const response = await profile(access);
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
    });

    it('refuses a refresh token used as an access token', async () => {
      const response = await profile(refresh);
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
    });

    it('refuses a token with another issuer', async () => {
      const response = await profile(await forge({ ...jwtPayload(access), iss: 'https://evil.example' }));
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
    });

    it('refuses a token naming another user', async () => {
      await registerUser(t, 'victim@example.com');
      const claims = jwtPayload(access);
      const response = await profile(await forge({ ...claims, user_id: (claims.user_id as number) + 1 }));
      expect(response.status).toBe(401);
    });

    it('refuses garbage', async () => {
      for (const garbage of ['garbage', 'a.b.c', '...', `${access.split('.')[0]}..`]) {
        const response = await profile(garbage);
        expect(response.status, garbage).toBe(401);
        expect(response.body.code, garbage).toBe('token_not_valid');
      }
    });

    it('refuses a JWT presented with the Token scheme and an opaque token presented as Bearer', async () => {
      const opaque = await loginToken(t, 'hero@example.com');
      expect((await call(t.app, 'GET', '/api/users/profile/', { token: opaque })).status).toBe(200);
      expect((await call(t.app, 'GET', '/api/users/profile/', { token: access })).status).toBe(401);
      expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: opaque })).status).toBe(401);
    });
  });
});

describe('refresh token rotation (SIDEKICK_ROTATE_REFRESH_TOKENS=true)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick({ SIDEKICK_ROTATE_REFRESH_TOKENS: 'true' });
    await registerUser(t, 'hero@example.com');
  });
  afterEach(async () => {
    await t.close();
  });

  const refreshWith = (token: string) => call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: token } });

  it('returns a new refresh token with the new access token', async () => {
    const first = await loginJwt(t, 'hero@example.com');
    const response = await refreshWith(first.refresh);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ access: expect.any(String), refresh: expect.any(String) });
    expect(response.body.refresh).not.toBe(first.refresh);
    expect((await refreshWith(response.body.refresh)).status).toBe(200);
  });

  it('revokes the whole family when an old refresh token is reused, access tokens included', async () => {
    const first = await loginJwt(t, 'hero@example.com');
    const other = await loginJwt(t, 'hero@example.com');
    const rotated = await refreshWith(first.refresh);
    expect(rotated.status).toBe(200);
    const replay = await refreshWith(first.refresh);
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual(TOKEN_NOT_VALID);
    expect((await refreshWith(rotated.body.refresh)).status).toBe(401);
    for (const bearer of [first.access, rotated.body.access]) {
      expect((await call(t.app, 'GET', '/api/users/profile/', { bearer })).status).toBe(401);
    }
    // Another login of the same user is another family.
    expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: other.access })).status).toBe(200);
  });

  it('lets exactly one of two parallel refreshes with the same token rotate', async () => {
    const { refresh } = await loginJwt(t, 'hero@example.com');
    const answers = await Promise.all([refreshWith(refresh), refreshWith(refresh)]);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
  });
});
