import { sql } from '../../src/db/port.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { kitchenLogin, kitchenSignUp } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const PROFILE_KEYS = ['bio', 'date_of_birth', 'email', 'is_active', 'is_staff', 'is_superuser', 'name', 'phone_number', 'profile_picture'];
const OPAQUE = /^[0-9a-f]{40}$/;

describe('kitchen API (document 002, contract §3)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  describe('POST /users/', () => {
    it('creates an account and answers 201 with user_id, email and a working token', async () => {
      const response = await call(t.app, 'POST', '/users/', { body: { email: 'new.hero@example.com', password: STRONG_PASSWORD } });
      expect(response.status).toBe(201);
      expect(Object.keys(response.body).sort()).toEqual(['email', 'token', 'user_id']);
      expect(Number.isInteger(response.body.user_id)).toBe(true);
      expect(response.body.email).toBe('new.hero@example.com');
      expect(response.body.token).toMatch(OPAQUE);
      const me = await call(t.app, 'GET', '/users/me/', { token: response.body.token });
      expect(me.status).toBe(200);
      expect(me.body.email).toBe('new.hero@example.com');
    });

    it('stores and answers the email lower-cased', async () => {
      const created = await kitchenSignUp(t, '  Mixed.Case@Example.COM ');
      expect(created.email).toBe('mixed.case@example.com');
      expect(await kitchenLogin(t, 'MIXED.case@example.com')).toMatch(OPAQUE);
    });

    it('refuses a duplicate email regardless of case', async () => {
      await kitchenSignUp(t, 'hero@example.com');
      const again = await call(t.app, 'POST', '/users/', { body: { email: 'HERO@Example.com', password: STRONG_PASSWORD } });
      expect(again.status).toBe(400);
      expect(again.body).toEqual({ email: ['User with email already exists.'] });
    });

    it('lets exactly one of several parallel sign-ups with the same email through', async () => {
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          call(t.app, 'POST', '/users/', { body: { email: 'race@example.com', password: STRONG_PASSWORD } }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 400, 400, 400, 400]);
      for (const r of results.filter((r) => r.status === 400)) {
        expect(r.body).toEqual({ email: ['User with email already exists.'] });
      }
    });

    it('refuses an invalid email', async () => {
      const response = await call(t.app, 'POST', '/users/', { body: { email: 'not-an-email', password: STRONG_PASSWORD } });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ email: ['Enter a valid email address.'] });
    });

    it('requires email and password', async () => {
      const response = await call(t.app, 'POST', '/users/', { body: {} });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ email: ['This field is required.'], password: ['This field is required.'] });
    });

    it('holds the password to the same policy as the accounts API', async () => {
      const cases: [string, string, RegExp][] = [
        ['short@example.com', 'Ab1-xyz', /too short/],
        ['numeric@example.com', '8491730265', /entirely numeric/],
        ['common@example.com', 'password123', /too common/],
        ['samefellow@example.com', 'samefellow', /too similar to the email/],
        ['long@example.com', `${'é'.repeat(36)}x`, /at most 72 bytes/],
      ];
      for (const [email, password, rule] of cases) {
        const response = await call(t.app, 'POST', '/users/', { body: { email, password } });
        expect(response.status, `${email}: ${response.text}`).toBe(400);
        expect(Object.keys(response.body)).toEqual(['password']);
        expect(response.body.password.join(' ')).toMatch(rule);
        // The accounts API refuses the same password with the same words.
        const accounts = await call(t.app, 'POST', '/api/users/register/', {
          body: { email, password, preferences: 'Cooking', dob: '2000-05-15' },
        });
        expect(accounts.status).toBe(400);
        expect(accounts.body.password).toEqual(response.body.password);
      }
      expect((await call(t.app, 'GET', '/users/me/')).status).toBe(401);
    });

    it('validates the optional profile fields it accepts', async () => {
      const response = await call(t.app, 'POST', '/users/', {
        body: {
          email: 'fields@example.com',
          password: STRONG_PASSWORD,
          name: 'x'.repeat(31),
          date_of_birth: '15/05/2000',
          profile_picture: 'ftp://example.com/me.png',
        },
      });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        name: ['Ensure this field has no more than 30 characters.'],
        date_of_birth: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'],
        profile_picture: ['Enter a valid URL.'],
      });
    });

    it('ignores privileged and read-only fields in the sign-up body', async () => {
      const created = await call(t.app, 'POST', '/users/', {
        body: {
          email: 'sneaky@example.com',
          password: STRONG_PASSWORD,
          is_staff: true,
          is_superuser: true,
          is_active: false,
          id: 4242,
          user_id: 4242,
          superhero_name: 'chosen_0000000',
        },
      });
      expect(created.status).toBe(201);
      expect(created.body.user_id).not.toBe(4242);
      const me = await call(t.app, 'GET', '/users/me/', { token: created.body.token });
      expect(me.body).toMatchObject({ is_staff: false, is_superuser: false, is_active: true });
      const profile = await call(t.app, 'GET', '/api/users/profile/', { token: created.body.token });
      expect(profile.body.superhero_name).not.toBe('chosen_0000000');
      expect(profile.body.superhero_name).toMatch(/^[a-z]+_[0-9a-f]{7}$/);
    });

    it('accepts a form-encoded body', async () => {
      const response = await call(t.app, 'POST', '/users/', {
        form: true,
        body: { email: 'form@example.com', password: STRONG_PASSWORD, name: 'Form Hero' },
      });
      expect(response.status).toBe(201);
      const me = await call(t.app, 'GET', '/users/me/', { token: response.body.token });
      expect(me.body.name).toBe('Form Hero');
    });
  });

  describe('POST /token/', () => {
    it('answers 200 with token, user_id and email', async () => {
      const created = await kitchenSignUp(t, 'login@example.com');
      const response = await call(t.app, 'POST', '/token/', { body: { email: 'login@example.com', password: STRONG_PASSWORD } });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ token: expect.stringMatching(OPAQUE), user_id: created.user_id, email: 'login@example.com' });
    });

    it('issues a new token per login and keeps the older ones valid', async () => {
      const created = await kitchenSignUp(t, 'many@example.com');
      const first = await kitchenLogin(t, 'many@example.com');
      const second = await kitchenLogin(t, 'many@example.com');
      expect(new Set([created.token, first, second]).size).toBe(3);
      for (const token of [created.token, first, second]) {
        expect((await call(t.app, 'GET', '/users/me/', { token })).status).toBe(200);
      }
    });

    it('accepts a form-encoded body', async () => {
      await kitchenSignUp(t, 'formlogin@example.com');
      const response = await call(t.app, 'POST', '/token/', {
        form: true,
        body: { email: 'formlogin@example.com', password: STRONG_PASSWORD },
      });
      expect(response.status).toBe(200);
      expect(response.body.token).toMatch(OPAQUE);
    });

    it('gives one answer for a wrong password, an unknown email and an inactive account', async () => {
      await kitchenSignUp(t, 'known@example.com');
      await kitchenSignUp(t, 'sleeping@example.com');
      await t.sidekick.services.accounts.updateAdmin('sleeping@example.com', { isActive: false });
      const attempts = [
        { email: 'known@example.com', password: 'Wrong-Horse-Battery-9' },
        { email: 'nobody@example.com', password: STRONG_PASSWORD },
        { email: 'sleeping@example.com', password: STRONG_PASSWORD },
      ];
      const answers = await Promise.all(attempts.map((body) => call(t.app, 'POST', '/token/', { body })));
      for (const answer of answers) {
        expect(answer.status).toBe(400);
        expect(answer.text).toBe(answers[0].text);
      }
      expect(answers[0].body).toEqual({ non_field_errors: ['Unable to log in with provided credentials.'] });
    });

    it('throttles an account after 10 failed logins, known or unknown email alike, for 15 minutes', async () => {
      await kitchenSignUp(t, 'target@example.com');
      for (const email of ['target@example.com', 'phantom@example.com']) {
        for (let i = 0; i < 10; i++) {
          const failed = await call(t.app, 'POST', '/token/', { body: { email, password: 'Wrong-Horse-Battery-9' } });
          expect(failed.status).toBe(400);
        }
        const throttled = await call(t.app, 'POST', '/token/', { body: { email, password: STRONG_PASSWORD } });
        expect(throttled.status, email).toBe(429);
        expect(throttled.body.code).toBe('throttled');
        expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      t.clock.advanceSeconds(15 * 60);
      expect(await kitchenLogin(t, 'target@example.com')).toMatch(OPAQUE);
    });

    it('does not accept a 72-byte password with anything appended (bcrypt would truncate it)', async () => {
      const password = 'Zq7-'.repeat(18);
      expect(Buffer.byteLength(password)).toBe(72);
      await kitchenSignUp(t, 'edge@example.com', { password });
      const longer = await call(t.app, 'POST', '/token/', { body: { email: 'edge@example.com', password: `${password}x` } });
      expect(longer.status).toBe(400);
      expect(longer.body).toEqual({ non_field_errors: ['Unable to log in with provided credentials.'] });
      expect(await kitchenLogin(t, 'edge@example.com', password)).toMatch(OPAQUE);
    });

    it('requires email and password', async () => {
      const response = await call(t.app, 'POST', '/token/', { body: { email: '', password: '' } });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ email: ['This field may not be blank.'], password: ['This field may not be blank.'] });
    });
  });

  describe('GET /users/me/', () => {
    it('answers exactly the eight documented fields and phone_number, profile_picture null and phone_number empty until set', async () => {
      const { token } = await kitchenSignUp(t, 'me@example.com');
      const me = await call(t.app, 'GET', '/users/me/', { token });
      expect(me.status).toBe(200);
      expect(Object.keys(me.body).sort()).toEqual(PROFILE_KEYS);
      expect(me.body).toEqual({
        email: 'me@example.com',
        name: '',
        date_of_birth: null,
        is_superuser: false,
        is_staff: false,
        is_active: true,
        profile_picture: null,
        bio: '',
        phone_number: '',
      });
    });

    it('refuses a request without credentials with 401 not_authenticated and a Token challenge', async () => {
      const response = await call(t.app, 'GET', '/users/me/');
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ detail: 'Authentication credentials were not provided.', code: 'not_authenticated' });
      expect(response.headers.get('www-authenticate')).toBe('Token');
    });

    it('refuses an unknown token', async () => {
      const response = await call(t.app, 'GET', '/users/me/', { token: 'a'.repeat(40) });
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('authentication_failed');
    });

    it('answers 405 for a method the resource does not offer', async () => {
      const { token } = await kitchenSignUp(t, 'method@example.com');
      const response = await call(t.app, 'DELETE', '/users/me/', { token });
      expect(response.status).toBe(405);
      expect(response.body).toEqual({ detail: 'Method "DELETE" not allowed.', code: 'method_not_allowed' });
    });
  });

  describe('PUT and PATCH /users/me/', () => {
    it('PUT updates the writable fields and answers 201 with the GET shape', async () => {
      const { token } = await kitchenSignUp(t, 'put@example.com');
      const body = {
        name: 'New Hero Name',
        date_of_birth: '1995-05-05',
        bio: 'A mysterious hero with a touch of humor.',
        phone_number: '+1 555 0100',
        profile_picture: 'https://your.avatar.com/me.png',
      };
      const response = await call(t.app, 'PUT', '/users/me/', { token, body });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ email: 'put@example.com', is_superuser: false, is_staff: false, is_active: true, ...body });
      const me = await call(t.app, 'GET', '/users/me/', { token });
      expect(me.body).toEqual(response.body);
    });

    it('PATCH changes only the fields given', async () => {
      const { token } = await kitchenSignUp(t, 'patch@example.com', { name: 'Before', bio: 'Old bio', date_of_birth: '1990-01-01' });
      const response = await call(t.app, 'PATCH', '/users/me/', { token, body: { bio: 'New bio' } });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ name: 'Before', bio: 'New bio', date_of_birth: '1990-01-01' });
    });

    it('accepts a form-encoded update', async () => {
      const { token } = await kitchenSignUp(t, 'formput@example.com');
      const response = await call(t.app, 'PATCH', '/users/me/', { token, form: true, body: { name: 'Formed', date_of_birth: '1980-02-29' } });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ name: 'Formed', date_of_birth: '1980-02-29' });
    });

    it('sets profile_picture and sets it back to null', async () => {
      const { token } = await kitchenSignUp(t, 'picture@example.com');
      const set = await call(t.app, 'PATCH', '/users/me/', { token, body: { profile_picture: 'http://example.com/a.png' } });
      expect(set.body.profile_picture).toBe('http://example.com/a.png');
      const untouched = await call(t.app, 'PATCH', '/users/me/', { token, body: { bio: 'still there?' } });
      expect(untouched.body.profile_picture).toBe('http://example.com/a.png');
      const cleared = await call(t.app, 'PATCH', '/users/me/', { token, body: { profile_picture: null } });
      expect(cleared.status).toBe(200);
      expect(cleared.body.profile_picture).toBeNull();
      expect((await call(t.app, 'GET', '/users/me/', { token })).body.profile_picture).toBeNull();
    });

    it('clears profile_picture and date_of_birth with an empty form value', async () => {
      const { token } = await kitchenSignUp(t, 'formclear@example.com', {
        profile_picture: 'https://example.com/p.png',
        date_of_birth: '1990-01-01',
      });
      const cleared = await call(t.app, 'PATCH', '/users/me/', { token, form: true, body: { profile_picture: '', date_of_birth: '' } });
      expect(cleared.status).toBe(200);
      expect(cleared.body).toMatchObject({ profile_picture: null, date_of_birth: null });
    });

    it('treats date_of_birth as nullable: null clears it, absent leaves it', async () => {
      const { token } = await kitchenSignUp(t, 'dob@example.com', { date_of_birth: '1990-01-01' });
      const kept = await call(t.app, 'PATCH', '/users/me/', { token, body: { name: 'No date here' } });
      expect(kept.body.date_of_birth).toBe('1990-01-01');
      const cleared = await call(t.app, 'PATCH', '/users/me/', { token, body: { date_of_birth: null } });
      expect(cleared.status).toBe(200);
      expect(cleared.body.date_of_birth).toBeNull();
      const again = await call(t.app, 'PUT', '/users/me/', { token, body: { date_of_birth: '1991-12-31' } });
      expect(again.body.date_of_birth).toBe('1991-12-31');
    });

    it('refuses bad values with the contract messages and changes nothing', async () => {
      const { token } = await kitchenSignUp(t, 'bad@example.com', { name: 'Kept' });
      const cases: [Record<string, unknown>, Record<string, string[]>][] = [
        [{ name: 'n'.repeat(31) }, { name: ['Ensure this field has no more than 30 characters.'] }],
        [{ bio: 'b'.repeat(501) }, { bio: ['Ensure this field has no more than 500 characters.'] }],
        [{ date_of_birth: '2000-13-01' }, { date_of_birth: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'] }],
        [{ date_of_birth: '2001-02-29' }, { date_of_birth: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'] }],
        [{ date_of_birth: 'yesterday' }, { date_of_birth: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'] }],
        [{ profile_picture: 'not a url' }, { profile_picture: ['Enter a valid URL.'] }],
        [{ profile_picture: 'javascript:alert(1)' }, { profile_picture: ['Enter a valid URL.'] }],
        [
          { profile_picture: `https://example.com/${'p'.repeat(190)}` },
          { profile_picture: ['Ensure this field has no more than 200 characters.'] },
        ],
        [{ name: 'Changed', bio: 'b'.repeat(501) }, { bio: ['Ensure this field has no more than 500 characters.'] }],
      ];
      for (const [body, errors] of cases) {
        const response = await call(t.app, 'PATCH', '/users/me/', { token, body });
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body).toEqual(errors);
      }
      const me = await call(t.app, 'GET', '/users/me/', { token });
      expect(me.body).toMatchObject({ name: 'Kept', bio: '', date_of_birth: null, profile_picture: null });
    });

    it('counts characters, not UTF-16 units, and trims the name before counting', async () => {
      const { token } = await kitchenSignUp(t, 'emoji@example.com');
      const heroes = '🦸'.repeat(30);
      const ok = await call(t.app, 'PATCH', '/users/me/', { token, body: { name: `  ${heroes}  ` } });
      expect(ok.status).toBe(200);
      expect(ok.body.name).toBe(heroes);
      const tooLong = await call(t.app, 'PATCH', '/users/me/', { token, body: { name: `${heroes}🦸` } });
      expect(tooLong.status).toBe(400);
      expect(tooLong.body).toEqual({ name: ['Ensure this field has no more than 30 characters.'] });
    });

    it('refuses a date of birth in the future', async () => {
      const { token } = await kitchenSignUp(t, 'future@example.com');
      const response = await call(t.app, 'PATCH', '/users/me/', { token, body: { date_of_birth: '2099-01-01' } });
      expect(response.status).toBe(400);
      expect(Object.keys(response.body)).toEqual(['date_of_birth']);
    });

    it('ignores fields the caller may not write', async () => {
      const { token, user_id } = await kitchenSignUp(t, 'mass@example.com');
      const response = await call(t.app, 'PUT', '/users/me/', {
        token,
        body: {
          email: 'taken-over@example.com',
          is_staff: true,
          is_superuser: true,
          is_active: false,
          id: 1,
          user_id: 999,
          superhero_name: 'chosen_0000000',
          password: 'Another-Horse-Battery-7',
          password_hash: 'x',
          name: 'Allowed',
        },
      });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ email: 'mass@example.com', is_staff: false, is_superuser: false, is_active: true, name: 'Allowed' });
      const row = await t.sidekick.db.get(
        sql<{ id: number; email: string; is_staff: number; is_superuser: number; is_active: number }>(
          'SELECT id, email, is_staff, is_superuser, is_active FROM users WHERE id = ?',
        ),
        [user_id],
      );
      expect(row).toEqual({ id: user_id, email: 'mass@example.com', is_staff: 0, is_superuser: 0, is_active: 1 });
      // The password did not change either: the old one still logs in, the smuggled one does not.
      expect(await kitchenLogin(t, 'mass@example.com')).toMatch(OPAQUE);
      const smuggled = await call(t.app, 'POST', '/token/', { body: { email: 'mass@example.com', password: 'Another-Horse-Battery-7' } });
      expect(smuggled.status).toBe(400);
    });

    it('refuses a body that is not an object', async () => {
      const { token } = await kitchenSignUp(t, 'list@example.com');
      const response = await call(t.app, 'PATCH', '/users/me/', { token, body: [1, 2] });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    });
  });

  describe('POST /logout/', () => {
    it('answers the documented body and kills the token presented', async () => {
      const { token } = await kitchenSignUp(t, 'bye@example.com');
      const response = await call(t.app, 'POST', '/logout/', { token });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ detail: 'Logged out successfully.' });
      expect((await call(t.app, 'GET', '/users/me/', { token })).status).toBe(401);
      expect((await call(t.app, 'POST', '/logout/', { token })).status).toBe(401);
    });

    it('ends one session and leaves the user\'s other sessions alive', async () => {
      const { token: first } = await kitchenSignUp(t, 'sessions@example.com');
      const second = await kitchenLogin(t, 'sessions@example.com');
      const third = await kitchenLogin(t, 'sessions@example.com');
      expect((await call(t.app, 'POST', '/logout/', { token: second })).status).toBe(200);
      expect((await call(t.app, 'GET', '/users/me/', { token: first })).status).toBe(200);
      expect((await call(t.app, 'GET', '/users/me/', { token: second })).status).toBe(401);
      expect((await call(t.app, 'GET', '/users/me/', { token: third })).status).toBe(200);
    });

    it('needs credentials', async () => {
      const response = await call(t.app, 'POST', '/logout/');
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('not_authenticated');
    });
  });

  describe('paths', () => {
    it('serves every kitchen path under /auth/ as well, with or without the trailing slash', async () => {
      const signUp = await call(t.app, 'POST', '/auth/users/', { body: { email: 'prefixed@example.com', password: STRONG_PASSWORD } });
      expect(signUp.status).toBe(201);
      const login = await call(t.app, 'POST', '/auth/token', { form: true, body: { email: 'prefixed@example.com', password: STRONG_PASSWORD } });
      expect(login.status).toBe(200);
      const { token } = login.body;
      expect((await call(t.app, 'GET', '/auth/users/me/', { token })).body.email).toBe('prefixed@example.com');
      expect((await call(t.app, 'PATCH', '/auth/users/me', { token, body: { name: 'Prefixed' } })).body.name).toBe('Prefixed');
      const put = await call(t.app, 'PUT', '/auth/users/me/', { token, body: { bio: 'via auth' } });
      expect(put.status).toBe(201);
      expect(put.body.bio).toBe('via auth');
      expect((await call(t.app, 'GET', '/users/me', { token })).body).toMatchObject({ name: 'Prefixed', bio: 'via auth' });
      expect((await call(t.app, 'POST', '/auth/logout', { token })).body).toEqual({ detail: 'Logged out successfully.' });
      expect((await call(t.app, 'GET', '/auth/users/me/', { token: signUp.body.token })).status).toBe(200);
      expect((await call(t.app, 'GET', '/auth/users/me/', { token })).status).toBe(401);
    });

    it('answers 404 for paths outside both APIs, also under /auth/', async () => {
      for (const path of ['/auth/nothing/', '/auth/api/users/profile/', '/users/you/']) {
        const response = await call(t.app, 'GET', path);
        expect(response.status, path).toBe(404);
        expect(response.body).toEqual({ detail: 'Not found.', code: 'not_found' });
      }
    });

    it('answers 405 with Allow for a method a kitchen resource does not offer', async () => {
      for (const [method, path, allow] of [
        ['GET', '/users/', 'POST, OPTIONS'],
        ['GET', '/auth/token/', 'POST, OPTIONS'],
        ['PUT', '/users/'],
      ] as const) {
        const response = await call(t.app, method, path);
        expect(response.status, `${method} ${path}`).toBe(405);
        expect(response.body).toEqual({ detail: `Method "${method}" not allowed.`, code: 'method_not_allowed' });
        if (allow) expect(response.headers.get('allow')).toBe(allow);
      }
    });

    it('refuses a body that is neither JSON nor a form with 415', async () => {
      const response = await call(t.app, 'POST', '/users/', {
        body: 'email=x',
        headers: { 'content-type': 'text/plain' },
      });
      expect(response.status).toBe(415);
      expect(response.body.code).toBe('unsupported_media_type');
    });
  });
});
