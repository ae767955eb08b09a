import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codeFrom, registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { formData, solidImage } from '../helpers/images.ts';
import { kitchenSignUp } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

/** Multipart bodies (DRF's MultiPartParser), on every endpoint that takes a body (contract §1). */
describe('multipart/form-data bodies', () => {
  let t: TestSidekick;
  beforeEach(async () => {
    t = await createTestSidekick();
  });
  afterEach(async () => {
    await t.close();
  });

  async function post(path: string, form: FormData, headers: Record<string, string> = {}) {
    const response = await t.app.request(path, { method: 'POST', body: form, headers });
    return { status: response.status, headers: response.headers, body: (await response.json()) as any };
  }

  it('registers, logs in and refreshes with multipart bodies, as with JSON', async () => {
    const body = registrationBody('multi@example.com');
    const first = await post('/api/users/register/', formData(body));
    expect(first).toMatchObject({ status: 200, body: { message: 'OTP sent to your email' } });
    const otp = codeFrom(await t.deliver(), 'multi@example.com');
    const second = await post('/api/users/register/', formData({ ...body, otp }));
    expect(second.status).toBe(201);
    expect(second.body.message).toBe('User registered successfully');

    const login = await post('/api/users/login/', formData({ email: 'multi@example.com', password: STRONG_PASSWORD }));
    expect(login.status).toBe(200);
    expect(login.body.email).toBe('multi@example.com');
    const refreshed = await post('/api/token/refresh/', formData({ refresh: login.body.refresh }));
    expect(refreshed.status).toBe(200);
    expect(typeof refreshed.body.access).toBe('string');
  });

  it('validates multipart fields with the same messages as JSON', async () => {
    const json = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('not-an-email', { dob: '15/05/2000' }) });
    const multipart = await post('/api/users/register/', formData(registrationBody('not-an-email', { dob: '15/05/2000' })));
    expect(multipart.status).toBe(400);
    expect(multipart.body).toEqual(json.body);
    expect(multipart.body.email).toEqual(['Enter a valid email address.']);
  });

  it('refuses a file where a text field is expected', async () => {
    const form = formData({ password: STRONG_PASSWORD }, { email: [Buffer.from('hero@example.com'), 'email.txt', 'text/plain'] });
    const response = await post('/users/', form);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ email: ['Not a valid string.'] });
  });

  it('signs up and logs in on the kitchen API with multipart, ignoring read-only fields', async () => {
    const created = await post('/auth/users/', formData({ email: 'k@example.com', password: STRONG_PASSWORD, is_superuser: 'true', is_staff: 'true' }));
    expect(created.status).toBe(201);
    const me = await call(t.app, 'GET', '/auth/users/me/', { token: created.body.token });
    expect(me.body).toMatchObject({ is_superuser: false, is_staff: false });
    const login = await post('/auth/token/', formData({ email: 'k@example.com', password: STRONG_PASSWORD }));
    expect(login.status).toBe(200);
    expect(login.body.user_id).toBe(created.body.user_id);
  });

  it('answers a malformed multipart body with 400 parse_error', async () => {
    const response = await t.app.request('/api/users/login/', {
      method: 'POST',
      body: '--nope\r\nthis is not multipart',
      headers: { 'content-type': 'multipart/form-data; boundary=elsewhere' },
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as any;
    expect(body.code).toBe('parse_error');
    expect(body.detail).toMatch(/^Multipart form parse error - /);
  });

  it('holds a multipart body without a file to 64 KiB, and one with a file to the upload limit', async () => {
    const { token } = await kitchenSignUp(t, 'size@example.com');
    const authorization = `Token ${token}`;
    const put = async (form: FormData) => (await t.app.request('/users/me/', { method: 'PUT', body: form, headers: { authorization } })).status;
    expect(await put(formData({ bio: 'b'.repeat(400), name: 'n'.repeat(65 * 1024) }))).toBe(413);
    const image = await solidImage('png');
    expect(await put(formData({ bio: 'ok' }, { profile_picture: [Buffer.concat([image, Buffer.alloc(200 * 1024)]), 'big.png', 'image/png'] }))).toBe(201);
  });

  it('still refuses other content types with 415', async () => {
    const response = await call(t.app, 'POST', '/api/users/login/', {
      body: '<login/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(response.status).toBe(415);
    expect(response.body.code).toBe('unsupported_media_type');
  });
});
