import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, HEALTHY } from '../helpers/http.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';
import { loginJwt, registerUser, registrationBody } from '../helpers/accounts.ts';

const DATE_FORMAT = 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.';

describe('HTTP conventions (contract §1)', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  describe('validation errors in DRF shape', () => {
    it('names every missing required field with "This field is required."', async () => {
      const response = await call(t.app, 'POST', '/api/users/register/', { body: {} });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        email: ['This field is required.'],
        password: ['This field is required.'],
        preferences: ['This field is required.'],
        dob: ['This field is required.'],
        message: 'This field is required.',
      });
    });

    it('refuses blank fields with "This field may not be blank."', async () => {
      const response = await call(t.app, 'POST', '/api/users/register/', {
        body: registrationBody('', { password: '', preferences: '   ' }),
      });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        email: ['This field may not be blank.'],
        password: ['This field may not be blank.'],
        preferences: ['This field may not be blank.'],
        message: 'This field may not be blank.',
      });
    });

    it('refuses a malformed email with "Enter a valid email address."', async () => {
      const response = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('not-an-email') });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ email: ['Enter a valid email address.'], message: 'Enter a valid email address.' });
    });

    it('refuses over-long fields with "Ensure this field has no more than N characters."', async () => {
      const response = await call(t.app, 'POST', '/api/users/register/', {
        body: registrationBody(`${'a'.repeat(250)}@example.com`, { gender: 'x'.repeat(11), preferences: 'p'.repeat(101) }),
      });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        email: ['Ensure this field has no more than 254 characters.'],
        gender: ['Ensure this field has no more than 10 characters.'],
        preferences: ['Ensure this field has no more than 100 characters.'],
        message: 'Ensure this field has no more than 254 characters.',
      });
    });

    it('refuses a dob that is not YYYY-MM-DD or not a real date with the DRF date message', async () => {
      for (const dob of ['15/05/2000', '2000-5-15', '2001-02-29', 'yesterday']) {
        const response = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('a@example.com', { dob }) });
        expect(response.status, dob).toBe(400);
        expect(response.body, dob).toEqual({ dob: [DATE_FORMAT], message: DATE_FORMAT });
      }
    });

    it('refuses a dob that is today or in the future', async () => {
      // The ManualClock stands at 2026-01-15.
      for (const dob of ['2026-01-15', '2030-01-01']) {
        const response = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('a@example.com', { dob }) });
        expect(response.status, dob).toBe(400);
        expect(Object.keys(response.body), dob).toEqual(['dob', 'message']);
        expect(response.body.dob[0], dob).toMatch(/past/);
        expect(response.body.message, dob).toBe(response.body.dob[0]);
      }
    });

    it('puts a body that is not an object under non_field_errors', async () => {
      const response = await call(t.app, 'POST', '/api/users/login/', { body: '[1, 2]' });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        non_field_errors: ['Invalid data. Expected a dictionary, but got list.'],
        message: 'Invalid data. Expected a dictionary, but got list.',
      });
    });
  });

  describe('bodies', () => {
    it('answers malformed JSON with 400 parse_error', async () => {
      const response = await call(t.app, 'POST', '/api/users/login/', { body: '{"email": "a@example.com",' });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('parse_error');
      expect(typeof response.body.detail).toBe('string');
      expect(Object.keys(response.body).sort()).toEqual(['code', 'detail', 'message']);
      expect(response.body.message).toBe(response.body.detail);
    });

    it('answers a body over 64 KiB announced by Content-Length with 413 payload_too_large', async () => {
      const body = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(70 * 1024) });
      const response = await call(t.app, 'POST', '/api/users/login/', {
        body,
        headers: { 'content-length': String(Buffer.byteLength(body)) },
      });
      expect(response.status).toBe(413);
      expect(response.body).toEqual({ detail: expect.any(String), code: 'payload_too_large', message: response.body.detail });
      expect(response.headers.get('connection')).toBe('close');
    });

    it('answers a streamed (chunked) body over 64 KiB with 413 payload_too_large', async () => {
      const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 6) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const response = await t.app.request('/api/users/login/', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(413);
      const body = (await response.json()) as { detail: string };
      expect(body).toEqual({ detail: expect.any(String), code: 'payload_too_large', message: body.detail });
      expect(response.headers.get('connection')).toBe('close');
    });

    it('accepts a body of just under 64 KiB', async () => {
      const body = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(60 * 1024) });
      const response = await call(t.app, 'POST', '/api/users/login/', { body });
      expect(response.status).not.toBe(413);
    });

    it('answers other content types with 415 unsupported_media_type', async () => {
      for (const type of ['text/plain', 'application/octet-stream', 'application/xml']) {
        const response = await call(t.app, 'POST', '/api/users/login/', {
          body: 'email=a@example.com',
          headers: { 'content-type': type },
        });
        expect(response.status, type).toBe(415);
        expect(response.body.code, type).toBe('unsupported_media_type');
        expect(typeof response.body.detail).toBe('string');
      }
    });

    it('accepts form-encoded bodies like JSON ones', async () => {
      await registerUser(t, 'form@example.com');
      const login = await call(t.app, 'POST', '/api/users/login/', {
        form: true,
        body: { email: 'form@example.com', password: 'Correct-Horse-Battery-9' },
      });
      expect(login.status).toBe(200);
      expect(login.body).toEqual({ access: expect.any(String), refresh: expect.any(String), email: 'form@example.com' });
    });

    it('answers JSON with application/json; charset=utf-8', async () => {
      const response = await call(t.app, 'GET', '/healthz');
      expect(response.headers.get('content-type')).toMatch(/^application\/json; charset=utf-8$/i);
    });
  });

  describe('routing errors', () => {
    it('answers an unknown path with 404 not_found, with a message under /api/ only', async () => {
      const notFound = { detail: 'Not found.', code: 'not_found' };
      for (const path of ['/api/nothing-here/', '/api/users/', '/nope']) {
        const response = await call(t.app, 'GET', path);
        expect(response.status, path).toBe(404);
        expect(response.body, path).toEqual(path.startsWith('/api/') ? { ...notFound, message: 'Not found.' } : notFound);
      }
    });

    it('answers a wrong method with 405 method_not_allowed and an Allow header', async () => {
      for (const path of ['/api/users/login/', '/api/users/login']) {
        const response = await call(t.app, 'GET', path);
        expect(response.status, path).toBe(405);
        expect(response.body).toEqual({
          detail: 'Method "GET" not allowed.',
          code: 'method_not_allowed',
          message: 'Method "GET" not allowed.',
        });
        expect(response.headers.get('allow')).toMatch(/\bPOST\b/);
        expect(response.headers.get('allow')).not.toMatch(/\bGET\b/);
      }
    });

    it('answers a wrong method on an authenticated resource with 405 once authenticated', async () => {
      await registerUser(t, 'm@example.com');
      const { access } = await loginJwt(t, 'm@example.com');
      const response = await call(t.app, 'DELETE', '/api/users/profile/', { bearer: access });
      expect(response.status).toBe(405);
      expect(response.body).toEqual({
        detail: 'Method "DELETE" not allowed.',
        code: 'method_not_allowed',
        message: 'Method "DELETE" not allowed.',
      });
      expect(response.headers.get('allow')!.split(/,\s*/)).toEqual(expect.arrayContaining(['GET', 'PUT', 'PATCH']));
    });
  });

  describe('authentication errors', () => {
    it('answers a missing Authorization header with 401 not_authenticated and WWW-Authenticate', async () => {
      const response = await call(t.app, 'GET', '/api/users/profile/');
      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        detail: 'Authentication credentials were not provided.',
        code: 'not_authenticated',
        message: 'Authentication credentials were not provided.',
      });
      expect(response.headers.get('www-authenticate')).toBeTruthy();
    });

    it('answers an invalid bearer token with 401 token_not_valid and WWW-Authenticate', async () => {
      const response = await call(t.app, 'GET', '/api/users/profile/', { bearer: 'garbage' });
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('token_not_valid');
      expect(typeof response.body.detail).toBe('string');
      expect(response.headers.get('www-authenticate')).toBeTruthy();
    });

    it('answers an unknown scheme with 401 authentication_failed and WWW-Authenticate', async () => {
      const response = await call(t.app, 'GET', '/api/users/profile/', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('authentication_failed');
      expect(response.headers.get('www-authenticate')).toBeTruthy();
    });
  });

  describe('health and server errors', () => {
    it('answers GET /healthz with 200 {"status":"ok"}, and 503 once the database is gone', async () => {
      for (const path of ['/healthz', '/healthz/']) {
        const response = await call(t.app, 'GET', path);
        expect(response.status, path).toBe(200);
        expect(response.body).toEqual(HEALTHY);
      }
      t.sidekick.db.close();
      const gone = await call(t.app, 'GET', '/healthz');
      expect(gone.status).toBe(503);
      expect(gone.body).toEqual({ detail: 'The database cannot be read or written.', code: 'unavailable' });
    });

    it('answers an unexpected failure with 500 "A server error occurred." and no internals', async () => {
      t.sidekick.db.close();
      // /healthz reports this as 503 (see test/server/health.test.ts); a sign-up meets it unprepared.
      const response = await call(t.app, 'POST', '/users/', { body: { email: 'late@example.com', password: 'Correct-Horse-Battery-9' } });
      expect(response.status).toBe(500);
      expect(response.body).toEqual({ detail: 'A server error occurred.', code: 'error' });
      expect(response.text).not.toMatch(/sqlite|database|at .*\.ts|Error:/i);
      expect(t.logs.text).toMatch(/unhandled error/);
    });
  });
});
