import { sql } from '../../src/db/port.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD, loginJwt, registerUser } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { kitchenLogin, kitchenSignUp } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const HERO = /^[a-z]+_[0-9a-f]{7}$/;

describe('one person, one account across both APIs', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  it('lets a user registered through the accounts API log in at /token/ and use the token on both APIs', async () => {
    const { superhero_name } = await registerUser(t, 'accounts@example.com');
    const login = await call(t.app, 'POST', '/token/', { body: { email: 'accounts@example.com', password: STRONG_PASSWORD } });
    expect(login.status).toBe(200);
    const { token } = login.body;
    const profile = await call(t.app, 'GET', '/api/users/profile/', { token });
    expect(profile.status).toBe(200);
    expect(profile.body).toEqual({
      email: 'accounts@example.com',
      gender: 'Male',
      preferences: 'Chatting, Gaming',
      dob: '2000-05-15',
      superhero_name,
    });
    const me = await call(t.app, 'GET', '/users/me/', { token });
    expect(me.body).toMatchObject({ email: 'accounts@example.com', date_of_birth: '2000-05-15' });
  });

  it('lets an accounts JWT read and update /users/me/ with Bearer', async () => {
    await registerUser(t, 'jwt@example.com');
    const { access } = await loginJwt(t, 'jwt@example.com');
    const me = await call(t.app, 'GET', '/users/me/', { bearer: access });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe('jwt@example.com');
    const patched = await call(t.app, 'PATCH', '/auth/users/me/', { bearer: access, body: { name: 'Jay Double' } });
    expect(patched.status).toBe(200);
    expect(patched.body.name).toBe('Jay Double');
  });

  it('gives a kitchen sign-up a superhero name and lets it log in to the accounts API', async () => {
    const { token, user_id } = await kitchenSignUp(t, 'kitchen@example.com');
    const viaToken = await call(t.app, 'GET', '/api/users/profile/', { token });
    expect(viaToken.status).toBe(200);
    expect(viaToken.body.superhero_name).toMatch(HERO);
    const { access, refresh } = await loginJwt(t, 'kitchen@example.com');
    const viaJwt = await call(t.app, 'GET', '/api/users/profile/', { bearer: access });
    expect(viaJwt.body).toEqual(viaToken.body);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(200);
    const row = (await t.sidekick.db.get(sql('SELECT count(*) AS n FROM users')));
    expect(row?.n).toBe(1);
    expect((await call(t.app, 'POST', '/token/', { body: { email: 'kitchen@example.com', password: STRONG_PASSWORD } })).body.user_id).toBe(user_id);
  });

  it('gives every kitchen user a distinct superhero name', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const { token } = await kitchenSignUp(t, `hero${i}@example.com`);
      names.add((await call(t.app, 'GET', '/api/users/profile/', { token })).body.superhero_name);
    }
    expect(names.size).toBe(8);
    for (const name of names) expect(name).toMatch(HERO);
  });

  it('refuses a kitchen sign-up for an email registered through the accounts API, whatever its case', async () => {
    await registerUser(t, 'taken@example.com');
    const response = await call(t.app, 'POST', '/users/', { body: { email: 'Taken@EXAMPLE.com', password: STRONG_PASSWORD } });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ email: ['User with email already exists.'] });
  });

  it('keeps date_of_birth and dob as one stored value', async () => {
    const { token } = await kitchenSignUp(t, 'dates@example.com', { date_of_birth: '1990-01-01' });
    expect((await call(t.app, 'GET', '/api/users/profile/', { token })).body.dob).toBe('1990-01-01');

    await call(t.app, 'PATCH', '/users/me/', { token, body: { date_of_birth: '1985-07-04' } });
    expect((await call(t.app, 'GET', '/api/users/profile/', { token })).body.dob).toBe('1985-07-04');

    const viaAccounts = await call(t.app, 'PATCH', '/api/users/profile/', { token, body: { dob: '1977-03-21' } });
    expect(viaAccounts.status).toBe(200);
    expect((await call(t.app, 'GET', '/users/me/', { token })).body.date_of_birth).toBe('1977-03-21');

    await call(t.app, 'PATCH', '/users/me/', { token, body: { date_of_birth: null } });
    expect((await call(t.app, 'GET', '/api/users/profile/', { token })).body.dob).toBeNull();
  });
});

describe('credential schemes (contract §4)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  it('refuses a JWT under Token and an opaque token under Bearer, on both APIs', async () => {
    const { token } = await kitchenSignUp(t, 'schemes@example.com');
    const { access, refresh } = await loginJwt(t, 'schemes@example.com');
    for (const path of ['/users/me/', '/auth/users/me/', '/api/users/profile/']) {
      for (const authorization of [`Token ${access}`, `Bearer ${token}`, `Bearer ${refresh}`, `Token ${refresh}`]) {
        const response = await call(t.app, 'GET', path, { headers: { authorization } });
        expect(response.status, `${path} ${authorization.slice(0, 12)}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toBeTruthy();
        expect(['authentication_failed', 'token_not_valid']).toContain(response.body.code);
      }
      expect((await call(t.app, 'GET', path, { token })).status, path).toBe(200);
      expect((await call(t.app, 'GET', path, { bearer: access })).status, path).toBe(200);
    }
  });

  it('refuses a scheme-swapped credential at /logout/ and leaves its session alive', async () => {
    const { token } = await kitchenSignUp(t, 'swap@example.com');
    const { access } = await loginJwt(t, 'swap@example.com');
    expect((await call(t.app, 'POST', '/logout/', { headers: { authorization: `Token ${access}` } })).status).toBe(401);
    expect((await call(t.app, 'POST', '/logout/', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect((await call(t.app, 'GET', '/users/me/', { token })).status).toBe(200);
    expect((await call(t.app, 'GET', '/users/me/', { bearer: access })).status).toBe(200);
  });

  it('answers 401 token_not_valid with a Bearer challenge on the accounts API for an opaque token under Bearer', async () => {
    const { token } = await kitchenSignUp(t, 'challenge@example.com');
    const response = await call(t.app, 'GET', '/api/users/profile/', { bearer: token });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('token_not_valid');
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('ends only that login when /logout/ is called with a Bearer JWT', async () => {
    const { token } = await kitchenSignUp(t, 'jwtlogout@example.com');
    const first = await loginJwt(t, 'jwtlogout@example.com');
    const second = await loginJwt(t, 'jwtlogout@example.com');
    const response = await call(t.app, 'POST', '/logout/', { bearer: first.access });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ detail: 'Logged out successfully.' });
    // The whole login is over: its access token and its refresh token.
    expect((await call(t.app, 'GET', '/users/me/', { bearer: first.access })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: first.refresh } })).status).toBe(401);
    // Other logins, of either kind, are untouched.
    expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: second.access })).status).toBe(200);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: second.refresh } })).status).toBe(200);
    expect((await call(t.app, 'GET', '/users/me/', { token })).status).toBe(200);
  });

  it('leaves JWT logins alive when a kitchen token logs out', async () => {
    await kitchenSignUp(t, 'mixed@example.com');
    const token = await kitchenLogin(t, 'mixed@example.com');
    const { access, refresh } = await loginJwt(t, 'mixed@example.com');
    expect((await call(t.app, 'POST', '/auth/logout/', { token })).status).toBe(200);
    expect((await call(t.app, 'GET', '/users/me/', { token })).status).toBe(401);
    expect((await call(t.app, 'GET', '/users/me/', { bearer: access })).status).toBe(200);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(200);
  });

  it('kills JWTs and kitchen tokens alike when the account is deleted with either', async () => {
    const { token } = await kitchenSignUp(t, 'gone@example.com');
    const { access, refresh } = await loginJwt(t, 'gone@example.com');
    expect((await call(t.app, 'DELETE', '/api/users/delete/', { token })).status).toBe(200);
    expect((await call(t.app, 'GET', '/users/me/', { bearer: access })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(401);
    expect((await call(t.app, 'GET', '/users/me/', { token })).status).toBe(401);
  });

  it('kills JWTs and kitchen tokens alike on deactivation', async () => {
    const { token, user_id } = await kitchenSignUp(t, 'paused@example.com');
    const { access } = await loginJwt(t, 'paused@example.com');
    (await t.sidekick.db.run(sql('UPDATE users SET is_active = 0 WHERE id = ?'), [user_id]));
    expect((await call(t.app, 'GET', '/users/me/', { bearer: access })).status).toBe(401);
    expect((await call(t.app, 'GET', '/api/users/profile/', { token })).status).toBe(401);
    const jwtLogin = await call(t.app, 'POST', '/api/users/login/', { body: { email: 'paused@example.com', password: STRONG_PASSWORD } });
    expect(jwtLogin.status).toBe(401);
    expect(jwtLogin.body.code).toBe('no_active_account');
  });

  it('keeps kitchen tokens alive past the access TTL and JWT access tokens to theirs', async () => {
    const { token } = await kitchenSignUp(t, 'ttl@example.com');
    const { access } = await loginJwt(t, 'ttl@example.com');
    t.clock.advanceSeconds(5 * 60 + 1);
    expect((await call(t.app, 'GET', '/users/me/', { bearer: access })).status).toBe(401);
    expect((await call(t.app, 'GET', '/users/me/', { token })).status).toBe(200);
  });
});
